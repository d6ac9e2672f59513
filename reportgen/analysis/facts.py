"""The facts table: every number a user sees, with a stable id and its sample count.

A fact id is ``<metric>.<stat>|key=value|...`` with the keys in a fixed order, for example
``pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head``. Reports, figures and the
narrative show a fact's ``display`` string and nothing else.

This module is the one place that builds and parses fact ids: ``fact_id`` / ``stat_fact_id``
build them, ``parse_fact_id`` reads them back, and ``Fact.metric`` / ``Fact.stat`` /
``FactTable.select`` let every other module ask for facts without touching the id string.
The name before the first ``|`` splits at its last dot into the metric and the statistic:
``pqah.ph.q2`` is metric ``pqah.ph``, stat ``q2``; ``road.morf@0.3.q2`` is ``road.morf@0.3``,
``q2``; ``pqah.precision.q2_explaining`` is ``pqah.precision``, ``q2_explaining``; run and
model facts read the same way (``run.samples.total``: ``run.samples``, ``total``;
``model.accuracy``: ``model``, ``accuracy``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

import pandas as pd

from reportgen.analysis.stats import STAT_COLUMNS
from reportgen.metrics.registry import get_metric
from reportgen.vocab import ALL_CLASSES, ALL_SAMPLES, BASELINE_MODEL

SCHEMA_VERSION = "1.0"
DIMENSION_ORDER = ("model", "method", "class", "region", "subset")
# Stats whose unit is the metric's own; the others are counts.
VALUE_STATS = ("q1", "q2", "q3", "iqr", "whisker_low", "whisker_high", "mean", "std",
               "ci_low", "ci_high")
COUNT_STATS = ("n", "n_outliers")
SPREAD_STATS = ("iqr", "std")  # a larger spread is neither better nor worse
PH = "pqah.ph"  # the metric whose medians say which model/method pairs and classes were scored
_SEPARATOR = "|"


def canonical_dims(dims: Mapping[str, str]) -> dict[str, str]:
    """``dims`` in DIMENSION_ORDER, unknown keys sorted after (the order of fact ids)."""
    keys = [k for k in DIMENSION_ORDER if k in dims] + sorted(set(dims) - set(DIMENSION_ORDER))
    return {k: dims[k] for k in keys}


def fact_id(name: str, **dims: str) -> str:
    """``name|k=v|...`` with the dimensions in DIMENSION_ORDER (unknown keys sorted after)."""
    return _SEPARATOR.join([name, *(f"{k}={v}" for k, v in canonical_dims(dims).items())])


def stat_fact_id(metric: str, stat: str, **dims: str) -> str:
    """The id of statistic ``stat`` of ``metric``: ``stat_fact_id("pqah.ph", "q2", ...)`` is
    ``pqah.ph.q2|...``."""
    return fact_id(f"{metric}.{stat}", **dims)


def split_name(name: str) -> tuple[str, str]:
    """(metric, stat) of a fact name: split at its last dot (no dot: metric ``""``)."""
    metric, _, stat = name.rpartition(".")
    return metric, stat


@dataclass(frozen=True)
class FactKey:
    """A fact id read back: ``metric`` and ``stat`` (see the module docstring) and the
    dimensions in the order the text gave them."""

    metric: str
    stat: str
    dims: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``metric.stat``: the id before its first ``|``."""
        return f"{self.metric}.{self.stat}" if self.metric else self.stat

    @property
    def id(self) -> str:
        """The canonical fact id (dimensions in DIMENSION_ORDER)."""
        return fact_id(self.name, **self.dims)


def parse_fact_id(text: str) -> FactKey:
    """Read ``name|k=v|...`` (a fact id, or a pattern naming some of its dimensions in any
    order). ValueError when a part after the name is not ``key=value``."""
    name, *parts = text.split(_SEPARATOR)
    dims: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not key=value")
        dims[key] = value
    return FactKey(*split_name(name), dims)


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
        # Parsed once (not a field: facts.json and equality see only the fields above).
        object.__setattr__(self, "_name", self.id.partition(_SEPARATOR)[0])

    @property
    def name(self) -> str:
        """``metric.stat``: the id before its first ``|`` (``pqah.ph.q2``)."""
        return self._name  # type: ignore[attr-defined]

    @property
    def metric(self) -> str:
        """The name up to its last dot: ``pqah.ph``, ``road.morf@0.3``, ``run.samples``."""
        return split_name(self.name)[0]

    @property
    def stat(self) -> str:
        """The name after its last dot: ``q2``, ``n``, ``q2_explaining``, ``total``."""
        return split_name(self.name)[1]

    @property
    def subset(self) -> str:
        """The samples behind the fact: ``all`` (ALL_SAMPLES), ``correct`` or
        ``misclassified``."""
        return self.dims.get("subset", ALL_SAMPLES)

    @property
    def key(self) -> FactKey:
        return FactKey(self.metric, self.stat, dict(self.dims))


class FactTable:
    """An ordered, id-unique collection of facts that can be queried by what they measure."""

    def __init__(self, facts: Iterable[Fact] = ()):
        self._facts: dict[str, Fact] = {}
        self._by_name: dict[str, list[Fact]] = {}  # name -> its facts, in table order
        for f in facts:
            self.add(f)

    def add(self, fact: Fact) -> Fact:
        if fact.id in self._facts:
            raise ValueError(f"duplicate fact id {fact.id}")
        self._facts[fact.id] = fact
        self._by_name.setdefault(fact.name, []).append(fact)
        return fact

    def add_value(self, name: str, value: float, n: int, unit: str, direction: str = "neither",
                  **dims: str) -> Fact:
        return self.add(Fact(fact_id(name, **dims), float(value), int(n), unit, direction,
                             format_value(value, unit), dict(dims)))

    def merged(self, *others: Iterable[Fact]) -> FactTable:
        """A new table: these facts, then those of ``others`` (ValueError on a repeated id).
        Neither this table nor the others change."""
        return FactTable([*self, *(f for other in others for f in other)])

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

    # --- queries ------------------------------------------------------------------------------

    def select(self, *, metric: str | None = None, stat: str | None = None,
               name: str | None = None, model: str | None = None, method: str | None = None,
               class_: str | None = None, region: str | None = None,
               subset: str | None = ALL_SAMPLES, where: Mapping[str, str] | None = None
               ) -> list[Fact]:
        """The facts that match every argument given, in table order.

        ``metric`` / ``stat`` / ``name`` match the parts of the id's name (``name`` is
        ``metric.stat``, for facts such as ``model.accuracy`` or ``run.samples.total``);
        ``model``, ``method``, ``class_``, ``region`` and ``where`` (any other dimensions)
        match the fact's dimensions; None matches anything. ``subset`` defaults to ``all``:
        the facts over all samples, not those of the correct / misclassified subsets; pass
        ``correct`` or ``misclassified`` for one subset, None for every subset.
        """
        wanted = {k: v for k, v in (("model", model), ("method", method), ("class", class_),
                                    ("region", region)) if v is not None}
        wanted.update(where or {})
        if name is not None:
            candidates: Iterable[Fact] = self._by_name.get(name, ())
        elif metric is not None and stat is not None:
            candidates = self._by_name.get(f"{metric}.{stat}", ())
        else:
            candidates = self._facts.values()
        return [f for f in candidates
                if (metric is None or f.metric == metric) and (stat is None or f.stat == stat)
                and (subset is None or f.subset == subset)
                and all(f.dims.get(k) == v for k, v in wanted.items())]

    def pairs(self, metric: str | None = PH, *, baselines: bool = False
              ) -> list[tuple[str, str]]:
        """The (model, method) pairs with medians (``q2``) of ``metric`` over all samples,
        sorted. ``metric`` None: a median of any metric; ``baselines``: include the random and
        centre baselines (model BASELINE_MODEL)."""
        return sorted({(f.dims["model"], f.dims["method"])
                       for f in self.select(metric=metric, stat="q2")
                       if "model" in f.dims and "method" in f.dims
                       and (baselines or f.dims["model"] != BASELINE_MODEL)})

    def classes(self, metric: str = PH) -> list[str]:
        """The classes with medians of ``metric`` over all samples of a real model (not the
        pooled ``all``, not a baseline), sorted."""
        return sorted({f.dims["class"] for f in self.select(metric=metric, stat="q2")
                       if f.dims.get("model") != BASELINE_MODEL
                       and f.dims.get("class", ALL_CLASSES) != ALL_CLASSES})

    # --- facts.json ---------------------------------------------------------------------------

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
        if getattr(row, "subset", ALL_SAMPLES) != ALL_SAMPLES:
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
