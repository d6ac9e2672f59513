"""The facts table: every number a user sees, with a stable id and its sample count.

A fact id is ``<metric>.<stat>|key=value|...`` with the keys in a fixed order, for example
``pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head``. Reports, figures and the
narrative show a fact's ``display`` string and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import pandas as pd

from reportgen.analysis.stats import STAT_COLUMNS
from reportgen.metrics.registry import get_metric

SCHEMA_VERSION = "1.0"
DIMENSION_ORDER = ("model", "method", "class", "region", "subset")
# Stats whose unit is the metric's own; the others are counts.
VALUE_STATS = ("q1", "q2", "q3", "iqr", "whisker_low", "whisker_high", "mean", "std",
               "ci_low", "ci_high")
COUNT_STATS = ("n", "n_outliers")
SPREAD_STATS = ("iqr", "std")  # a larger spread is neither better nor worse


def canonical_dims(dims: dict[str, str]) -> dict[str, str]:
    """``dims`` in DIMENSION_ORDER, unknown keys sorted after (the order of fact ids)."""
    keys = [k for k in DIMENSION_ORDER if k in dims] + sorted(set(dims) - set(DIMENSION_ORDER))
    return {k: dims[k] for k in keys}


def fact_id(name: str, **dims: str) -> str:
    """``name|k=v|...`` with the dimensions in DIMENSION_ORDER (unknown keys sorted after)."""
    keys = [k for k in DIMENSION_ORDER if k in dims] + sorted(set(dims) - set(DIMENSION_ORDER))
    return "|".join([name, *(f"{k}={dims[k]}" for k in keys)])


def format_value(value: float, unit: str) -> str:
    """The one place numbers become text."""
    if unit == "count":
        return f"{int(value):,}"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "share":  # a fraction of a whole, read as a percentage
        return f"{100 * value:.0f} %"
    if unit == "seconds":
        return f"{value:.1f} s"
    if unit == "p-value":
        return "< 0.001" if value < 0.001 else f"{value:.3f}"
    return f"{value:.2f}"


@dataclass(frozen=True)
class Fact:
    id: str
    value: float
    n: int
    unit: str
    direction: str
    display: str
    dims: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not math.isfinite(self.value):
            raise ValueError(f"fact {self.id}: value {self.value} is not finite")
        # One canonical order (the id's), so a fact read back from facts.json (whose keys
        # are sorted) is equal to the one computed, down to the prompts built from it.
        object.__setattr__(self, "dims", canonical_dims(self.dims))


class FactTable:
    """An ordered, id-unique collection of facts."""

    def __init__(self, facts: Iterable[Fact] = ()):
        self._facts: dict[str, Fact] = {}
        for f in facts:
            self.add(f)

    def add(self, fact: Fact) -> Fact:
        if fact.id in self._facts:
            raise ValueError(f"duplicate fact id {fact.id}")
        self._facts[fact.id] = fact
        return fact

    def add_value(self, name: str, value: float, n: int, unit: str, direction: str = "neither",
                  **dims: str) -> Fact:
        return self.add(Fact(fact_id(name, **dims), float(value), int(n), unit, direction,
                             format_value(value, unit), dict(dims)))

    def __getitem__(self, fid: str) -> Fact:
        return self._facts[fid]

    def __contains__(self, fid: str) -> bool:
        return fid in self._facts

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._facts.values())

    def __len__(self) -> int:
        return len(self._facts)

    def display(self, fid: str) -> str:
        return self._facts[fid].display

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION,
                "facts": [asdict(f) for f in sorted(self, key=lambda f: f.id)]}

    @classmethod
    def from_dict(cls, data: dict) -> FactTable:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"facts schema {data.get('schema_version')!r} is not "
                             f"{SCHEMA_VERSION!r}")
        return cls(Fact(**f) for f in data["facts"])


def facts_from_statistics(stats: pd.DataFrame, table: FactTable | None = None) -> FactTable:
    """One fact per statistic of every group of ``group_statistics``."""
    if table is None:
        table = FactTable()
    for row in stats.itertuples(index=False):
        info = get_metric(row.metric)
        dims = {"model": row.model, "method": row.method, "class": row.class_name,
                "region": row.region}
        if getattr(row, "subset", "all") != "all":
            dims["subset"] = row.subset
        for stat in STAT_COLUMNS:
            value = getattr(row, stat)
            if stat in COUNT_STATS:
                table.add_value(f"{row.metric}.{stat}", value, row.n, "count", **dims)
            elif stat in SPREAD_STATS:
                table.add_value(f"{row.metric}.{stat}", value, row.n, info.unit, "neither",
                                **dims)
            else:
                table.add_value(f"{row.metric}.{stat}", value, row.n, info.unit, info.direction,
                                **dims)
    return table
