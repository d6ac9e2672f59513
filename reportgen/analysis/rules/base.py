"""What every findings rule works with: the context, the registry and shared look-ups.

A rule is a function ``(RuleContext) -> list[Finding]`` registered with ``@rule(kind)``. It
reads the scores and the facts, and records the facts its statement needs (test statistics,
effect sizes) with ``ctx.add_fact``: they go into ``ctx.added``, never into the table the
caller gave. Thresholds come from the run config's ``findings`` section
(``reportgen.config.FindingsThresholds``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from reportgen.analysis.facts import Fact, FactTable, fact_id, stat_fact_id
from reportgen.analysis.findings import Finding, finding_id
from reportgen.config import FindingsThresholds
from reportgen.vocab import ALL_CLASSES, BACKGROUND, BASELINE_MODEL, COUNTERFACTUAL_METHODS

HEAT_SHARE = "pqah.precision"
AREA_SHARE = "region.area_share"
PH = "pqah.ph"


class _FactsView:
    """Read-only union of the given facts and those the rules added."""

    def __init__(self, given: FactTable, added: FactTable):
        self._given, self._added = given, added

    def __contains__(self, fid: str) -> bool:
        return fid in self._given or fid in self._added

    def __getitem__(self, fid: str) -> Fact:
        return self._given[fid] if fid in self._given else self._added[fid]


@dataclass
class RuleContext:
    """``facts``: the given facts and those added so far (read-only); ``added``: the facts
    the rules added; ``seed``: the run seed behind every bootstrap."""

    scores: pd.DataFrame
    given: FactTable
    thresholds: FindingsThresholds
    seed: int = 0
    added: FactTable = field(default_factory=FactTable)

    def __post_init__(self):
        self.facts = _FactsView(self.given, self.added)
        # Rules look up (metric, region, model, method) slices many times: index them once.
        keys = ["metric", "region", "model", "method"]
        self._slices = {k: g for k, g in self.scores.groupby(keys, sort=False)}

    @cached_property
    def parts(self) -> list[str]:
        """The parts with PH scores, sorted."""
        s = self.scores
        return sorted(set(s[(s.metric == PH) & (s.region != BACKGROUND)].region))

    @cached_property
    def scored_pairs(self) -> list[tuple[str, str]]:
        """The (model, method) pairs with heatmap scores, baselines (and the counterfactual
        tests, which have no heatmap) left out, sorted."""
        s = self.scores[(self.scores.model != BASELINE_MODEL)
                        & ~self.scores.method.isin(COUNTERFACTUAL_METHODS)]
        return sorted(set(zip(s.model, s.method, strict=True)))

    def values(self, metric: str, region: str, **where) -> pd.DataFrame:
        if set(where) == {"model", "method"}:
            return self._slices.get((metric, region, where["model"], where["method"]),
                                    self.scores.iloc[:0])
        s = self.scores
        mask = (s.metric == metric) & (s.region == region)
        for k, v in where.items():
            mask &= s[k] == v
        return s[mask]

    def paired(self, a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Values of ``a`` and ``b`` on the samples they share, aligned."""
        ka = a.image_id.astype(str) + "#" + a.object_id.astype(str)
        kb = b.image_id.astype(str) + "#" + b.object_id.astype(str)
        _, ia, ib = np.intersect1d(ka.to_numpy(), kb.to_numpy(), return_indices=True)
        return a.value.to_numpy()[ia], b.value.to_numpy()[ib]

    def add_fact(self, name: str, value: float, n: int, unit: str, direction: str = "neither",
                 **dims: str) -> str:
        """Record a fact a statement needs (unless it exists) and return its id."""
        fid = fact_id(name, **dims)
        if fid not in self.facts:
            self.added.add_value(name, value, n, unit, direction, **dims)
        return fid

    def rng(self, *keys: str) -> np.random.Generator:
        digest = hashlib.sha256("|".join(map(str, keys)).encode()).digest()
        return np.random.default_rng([self.seed, int.from_bytes(digest[:8], "little")])


Rule = Callable[[RuleContext], list[Finding]]
RULES: dict[str, Rule] = {}


def rule(kind: str) -> Callable[[Rule], Rule]:
    """Register a rule under the finding kind it produces."""

    def register(fn: Rule) -> Rule:
        if kind in RULES:
            raise ValueError(f"rule {kind!r} registered twice")
        RULES[kind] = fn
        fn.kind = kind  # type: ignore[attr-defined]
        return fn

    return register


def make_finding(kind: str, severity: str, subject: dict[str, str], statement: str,
                 evidence: list[str], effect: float = 0.0) -> Finding:
    return Finding(finding_id(kind, subject), kind, severity, dict(subject), statement,
                   evidence, float(effect))


def scored_classes(ctx: RuleContext, model: str, method: str) -> list[str]:
    """``all``, then the classes scored for (model, method), sorted."""
    s = ctx.scores
    return [ALL_CLASSES, *sorted(set(s[(s.model == model) & (s.method == method)].class_name))]


def part_medians(ctx: RuleContext, metric: str, model: str, method: str, cls: str
                 ) -> list[tuple[str, str]]:
    """(part, id of its median of ``metric``) for the parts with at least ``min_n`` samples."""
    out = []
    for region in ctx.parts:
        fid = stat_fact_id(metric, "q2", model=model, method=method, **{"class": cls},
                           region=region)
        if fid in ctx.facts and ctx.facts[fid].n >= ctx.thresholds.min_n:
            out.append((region, fid))
    return out
