"""Findings rules: deterministic, thresholded, each with its evidence facts.

Every rule is a function ``(RuleContext) -> list[Finding]`` registered with ``@rule``; it may
add the facts its statement needs (test statistics, effect sizes) to ``ctx.facts``. Thresholds
live in ``FindingsConfig`` (the run config's ``findings`` section).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.analysis.significance import (
    bootstrap_median_ci,
    holm,
    mann_whitney,
    wilcoxon_paired,
)
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.data.sample import BACKGROUND
from reportgen.metrics.registry import get_metric
from reportgen.narrative.placeholders import placeholder as ph

BASELINE_MODEL = "baseline"
HEAT_SHARE = "pqah.precision"
AREA_SHARE = "region.area_share"
PH = "pqah.ph"


@dataclass(frozen=True)
class FindingsConfig:
    """Thresholds of the findings rules.

    ``alpha``: family-wise error rate (Holm) of every test; ``min_n``: fewest samples per side
    for a test; ``background_share``: median heat share on the background above which a
    model/method relies on it; ``min_cliffs_delta`` / ``min_difference``: smallest effect that
    counts (Cliff's delta; median difference in the metric's unit); ``neglect_ratio``: a part is
    neglected when its median heat share is below this fraction of its median area share;
    ``road_min``: ROAD combined score at or below which heatmaps are called unfaithful.
    """

    alpha: float = 0.05
    min_n: int = 10
    background_share: float = 0.5
    min_cliffs_delta: float = 0.33
    min_difference: float = 0.05
    neglect_ratio: float = 0.5
    road_min: float = 0.0
    seed: int = 0


@dataclass
class RuleContext:
    scores: pd.DataFrame
    facts: FactTable
    config: FindingsConfig

    def __post_init__(self):
        # Rules look up (metric, region, model, method) slices many times: index them once.
        keys = ["metric", "region", "model", "method"]
        self._slices = {k: g for k, g in self.scores.groupby(keys, sort=False)}

    def pairs(self) -> list[tuple[str, str]]:
        s = self.scores[self.scores.model != BASELINE_MODEL]
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
        fid = fact_id(name, **dims)
        if fid not in self.facts:
            self.facts.add_value(name, value, n, unit, direction, **dims)
        return fid

    def rng(self, *keys: str) -> np.random.Generator:
        digest = hashlib.sha256("|".join(map(str, keys)).encode()).digest()
        return np.random.default_rng([self.config.seed, int.from_bytes(digest[:8], "little")])


Rule = Callable[[RuleContext], list[Finding]]
RULES: dict[str, Rule] = {}


def rule(kind: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[kind] = fn
        fn.kind = kind  # type: ignore[attr-defined]
        return fn

    return register


def _stat(metric: str, stat: str, **dims: str) -> str:
    return fact_id(f"{metric}.{stat}", **dims)


def _finding(kind: str, severity: str, subject: dict[str, str], statement: str,
             evidence: list[str], effect: float = 0.0) -> Finding:
    fid = "|".join([kind, *(f"{k}={v}" for k, v in subject.items())])
    return Finding(fid, kind, severity, dict(subject), statement, evidence, float(effect))


@rule("background_reliance")
def background_reliance(ctx: RuleContext) -> list[Finding]:
    """Median heat share on the background at or above the threshold (and above the centre
    baseline when it was scored)."""
    out = []
    for model, method in ctx.pairs():
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": BACKGROUND}
        share = _stat(HEAT_SHARE, "q2", **dims)
        if share not in ctx.facts or ctx.facts[share].value < ctx.config.background_share:
            continue
        evidence = [share, _stat(HEAT_SHARE, "n", **dims)]
        statement = (f"{model} with {method}: a median {ph(share)} of the heat falls on the "
                     f"background (n = {ph(evidence[1])} images).")
        centre = _stat(HEAT_SHARE, "q2", **{**dims, "model": BASELINE_MODEL, "method": "center"})
        if centre in ctx.facts:
            if ctx.facts[share].value <= ctx.facts[centre].value:
                continue
            evidence.append(centre)
            statement = statement[:-1] + (f", more than the {ph(centre)} of a centred "
                                          "Gaussian baseline.")
        out.append(_finding("background_reliance", "medium", {"model": model, "method": method},
                            statement, evidence, ctx.facts[share].value))
    return out


@rule("class_shortcut")
def class_shortcut(ctx: RuleContext) -> list[Finding]:
    """A class whose background heat share stands out from the other classes': Mann-Whitney
    U with Holm correction across every model, method and class, and Cliff's delta. Samples
    are grouped by the class their heatmap explains (``target_class``)."""
    cfg, out, tests = ctx.config, [], []
    for model, method in ctx.pairs():
        bg = ctx.values(HEAT_SHARE, BACKGROUND, model=model, method=method)
        # Grouped by the class each heatmap explains: the evidence the model uses for it.
        explained = bg.target_class.to_numpy()
        for cls in sorted(set(explained)):
            a = bg.value.to_numpy()[explained == cls]
            b = bg.value.to_numpy()[explained != cls]
            if min(a.size, b.size) >= cfg.min_n:
                tests.append((model, method, cls, mann_whitney(a, b)))
    # One family: every model, method and class of the run.
    p_adj = holm([t.p_value for *_, t in tests])
    for (model, method, cls, t), p in zip(tests, p_adj, strict=True):
        if not (p < cfg.alpha and t.cliffs_delta >= cfg.min_cliffs_delta
                and t.median_a - t.median_b >= cfg.min_difference):
            continue
        dims = {"model": model, "method": method, "class": cls, "region": BACKGROUND}
        own = ctx.add_fact(f"{HEAT_SHARE}.q2_explaining", t.median_a, t.n_a, "share",
                           "neither", **dims)
        n_own = ctx.add_fact("shortcut.n_explaining", t.n_a, t.n_a, "count", **dims)
        other = ctx.add_fact(f"{HEAT_SHARE}.q2_other_classes", t.median_b, t.n_b, "share",
                             "neither", **dims)
        delta = ctx.add_fact("shortcut.cliffs_delta", t.cliffs_delta, t.n_a + t.n_b,
                             "fraction", "neither", **dims)
        pf = ctx.add_fact("shortcut.p_holm", p, t.n_a + t.n_b, "p-value", "lower", **dims)
        statement = (f"When {model}'s {method} heatmaps explain class {cls}, a median "
                     f"{ph(own)} of the heat falls on the background (n = {ph(n_own)}), "
                     f"against {ph(other)} for the other classes (Cliff's delta {ph(delta)}, "
                     f"Holm-adjusted p {ph(pf)}): the model may use the background as a "
                     f"shortcut for {cls}.")
        out.append(_finding("class_shortcut", "high",
                            {"model": model, "method": method, "class": cls},
                            statement, [own, n_own, other, delta, pf], t.cliffs_delta))
    return out


@rule("dominant_part")
def dominant_part(ctx: RuleContext) -> list[Finding]:
    """Per class, the part with the highest median PH."""
    out = []
    for model, method in ctx.pairs():
        for cls in _classes(ctx, model, method):
            medians = _part_medians(ctx, PH, model, method, cls)
            if not medians:
                continue
            region, fid = max(medians, key=lambda rf: (ctx.facts[rf[1]].value, rf[0]))
            n = _stat(PH, "n", model=model, method=method, **{"class": cls}, region=region)
            where = "all classes" if cls == ALL_CLASSES else f"class {cls}"
            out.append(_finding(
                "dominant_part", "info", {"model": model, "method": method, "class": cls},
                f"For {where}, {model}'s {method} heat overlaps most with the {region} "
                f"(median PH {ph(fid)}, n = {ph(n)}).", [fid, n], ctx.facts[fid].value))
    return out


@rule("neglected_part")
def neglected_part(ctx: RuleContext) -> list[Finding]:
    """A part whose median heat share is below ``neglect_ratio`` x its median area share."""
    out = []
    for model, method in ctx.pairs():
        for cls in _classes(ctx, model, method):
            for region, heat in _part_medians(ctx, HEAT_SHARE, model, method, cls):
                dims = {"model": model, "method": method, "class": cls, "region": region}
                area = _stat(AREA_SHARE, "q2", **dims)
                if area not in ctx.facts or ctx.facts[area].value <= 0:
                    continue
                ratio = ctx.facts[heat].value / ctx.facts[area].value
                if ratio >= ctx.config.neglect_ratio:
                    continue
                where = "all classes" if cls == ALL_CLASSES else f"class {cls}"
                out.append(_finding(
                    "neglected_part", "low", {"model": model, "method": method, "class": cls,
                                              "region": region},
                    f"For {where}, the {region} covers a median {ph(area)} of the image but "
                    f"receives only {ph(heat)} of {model}'s {method} heat.",
                    [heat, area], 1 - ratio))
    return out


@rule("misclassified_shift")
def misclassified_shift(ctx: RuleContext) -> list[Finding]:
    """Background heat share of misclassified vs correctly classified samples."""
    cfg, tests = ctx.config, []
    for model, method in ctx.pairs():
        bg = ctx.values(HEAT_SHARE, BACKGROUND, model=model, method=method)
        bg = bg[bg.correct.notna()]  # NA: the class is not among the model's outputs
        wrong = bg.value[~bg.correct.astype(bool)].to_numpy()
        right = bg.value[bg.correct.astype(bool)].to_numpy()
        if min(wrong.size, right.size) >= cfg.min_n:
            tests.append(((model, method), mann_whitney(wrong, right)))
    out = []
    for ((model, method), t), p in zip(tests, holm([t.p_value for _, t in tests]), strict=True):
        if (p >= cfg.alpha or abs(t.cliffs_delta) < cfg.min_cliffs_delta
                or abs(t.median_a - t.median_b) < cfg.min_difference):
            continue
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": BACKGROUND}
        wrong_f = _stat(HEAT_SHARE, "q2", **dims, subset="misclassified")
        right_f = _stat(HEAT_SHARE, "q2", **dims, subset="correct")
        pf = ctx.add_fact("misclassified.p_holm", p, t.n_a + t.n_b, "p-value", "lower", **dims)
        word = "more" if t.cliffs_delta > 0 else "less"
        out.append(_finding(
            "misclassified_shift", "medium", {"model": model, "method": method},
            f"When {model} is wrong, its {method} heat falls {word} on the background: a median "
            f"{ph(wrong_f)} for misclassified against {ph(right_f)} for correct samples "
            f"(Holm-adjusted p {ph(pf)}).", [wrong_f, right_f, pf], t.cliffs_delta))
    return out


def _paired_findings(ctx: RuleContext, kind: str, families: Iterator[tuple]) -> list[Finding]:
    """Paired Wilcoxon on the same samples, Holm within each family.

    A family is ``(label, (dims_a, dims_b), items)``; an item ``(metric, class, region)``
    compares ``metric`` on ``region`` over the samples of ``class`` (``all``: every sample).
    """
    cfg, out = ctx.config, []
    for label, (dims_a, dims_b), items in families:
        tests = []
        for metric, cls, region in items:
            a, b = ctx.values(metric, region, **dims_a), ctx.values(metric, region, **dims_b)
            if cls != ALL_CLASSES:
                a, b = a[a.class_name == cls], b[b.class_name == cls]
            va, vb = ctx.paired(a, b)
            if va.size >= cfg.min_n:
                tests.append(((metric, cls, region), wilcoxon_paired(va, vb)))
        for ((metric, cls, region), t), p in zip(tests, holm([t.p_value for _, t in tests]),
                                                 strict=True):
            if p >= cfg.alpha or abs(t.median_difference) < cfg.min_difference:
                continue
            dims = {**label, "class": cls, "region": region}
            unit = get_metric(metric).unit
            name = f"paired.{metric.split('.')[-1]}"
            ci = bootstrap_median_ci(t.differences, ctx.rng(kind, *label.values(), cls, region))
            diff = ctx.add_fact(f"{name}.median_difference", t.median_difference, t.n, unit,
                                "neither", **dims)
            lo = ctx.add_fact(f"{name}.ci_low", ci[0], t.n, unit, "neither", **dims)
            hi = ctx.add_fact(f"{name}.ci_high", ci[1], t.n, unit, "neither", **dims)
            pf = ctx.add_fact(f"{name}.p_holm", p, t.n, "p-value", "lower", **dims)
            n = ctx.add_fact(f"{name}.n", t.n, t.n, "count", **dims)
            first, second = _paired_names(kind, dims_a, dims_b)
            word = "more" if t.median_difference > 0 else "less"
            if metric == PH:
                text = (f"On the same images, {first} puts {word} heat on the {region} than "
                        f"{second} (median PH difference {ph(diff)}")
            else:
                text = (f"For class {cls}, on the same images, {first} puts {word} of its heat "
                        f"on the {region} than {second} (median difference in heat share "
                        f"{ph(diff)}")
            subject = {**label, "region": region, **({"class": cls} if cls != ALL_CLASSES
                                                      else {})}
            out.append(_finding(
                kind, "high" if metric == HEAT_SHARE and region == BACKGROUND else "medium",
                subject, f"{text}, confidence interval {ph(lo)} to {ph(hi)}, Holm-adjusted "
                         f"p {ph(pf)}, n = {ph(n)} images).", [diff, lo, hi, pf, n],
                t.median_difference))
    return out


def _paired_names(kind: str, a: dict, b: dict) -> tuple[str, str]:
    if kind == "model_difference":
        return f"{a['model']} ({a['method']})", f"{b['model']}"
    return f"{a['method']} ({a['model']})", f"{b['method']}"


@rule("model_difference")
def model_difference(ctx: RuleContext) -> list[Finding]:
    """Pairs of models on the same images: PH per region, and per class the background heat
    share (where a shortcut shows: one model looks at the background for a class, the other
    does not)."""
    models = sorted({m for m, _ in ctx.pairs()})
    methods = sorted({m for _, m in ctx.pairs()})
    classes = sorted(set(ctx.scores[ctx.scores.model != BASELINE_MODEL].class_name))

    def families():
        for method in methods:
            for a, b in combinations(models, 2):
                items = [(PH, ALL_CLASSES, r) for r in sorted({BACKGROUND, *_parts(ctx)})]
                items += [(HEAT_SHARE, c, BACKGROUND) for c in classes]
                yield ({"model": f"{a} vs {b}", "method": method},
                       ({"model": a, "method": method}, {"model": b, "method": method}), items)

    return _paired_findings(ctx, "model_difference", families())


@rule("method_difference")
def method_difference(ctx: RuleContext) -> list[Finding]:
    models = sorted({m for m, _ in ctx.pairs()})
    methods = sorted({m for _, m in ctx.pairs()})

    def families():
        for model in models:
            for a, b in combinations(methods, 2):
                yield ({"model": model, "method": f"{a} vs {b}"},
                       ({"model": model, "method": a}, {"model": model, "method": b}),
                       [(PH, ALL_CLASSES, r) for r in sorted({BACKGROUND, *_parts(ctx)})])

    return _paired_findings(ctx, "method_difference", families())


@rule("above_chance")
def above_chance(ctx: RuleContext) -> list[Finding]:
    """A part a method 'attends to' must beat both baselines there (paired, Holm)."""
    cfg, out = ctx.config, []
    baselines = sorted(ctx.scores[ctx.scores.model == BASELINE_MODEL].method.unique())
    if not baselines:
        return out
    tests = []
    for model, method in ctx.pairs():
        for region in _parts(ctx):
            a = ctx.values(PH, region, model=model, method=method)
            results = []
            for base in baselines:
                va, vb = ctx.paired(a, ctx.values(PH, region, model=BASELINE_MODEL, method=base))
                if va.size >= cfg.min_n:
                    results.append(wilcoxon_paired(va, vb))
            if len(results) == len(baselines):
                tests.append((model, method, region, results))
    # One family: every model, method, part and baseline of the run.
    flat = holm([r.p_value for *_, rs in tests for r in rs])
    for i, (model, method, region, results) in enumerate(tests):
        ps = flat[i * len(baselines):(i + 1) * len(baselines)]
        beats = all(r.median_difference > 0 and p < cfg.alpha
                    for r, p in zip(results, ps, strict=True))
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": region}
        own = _stat(PH, "q2", **dims)
        evidence = [own] + [_stat(PH, "q2", **{**dims, "model": BASELINE_MODEL,
                                               "method": b}) for b in baselines]
        refs = " and ".join(f"{ph(e)} ({b})" for e, b in zip(evidence[1:], baselines,
                                                              strict=True))
        if beats:
            statement = (f"{model}'s {method} heat attends to the {region} above chance: "
                         f"median PH {ph(own)} against the baselines' {refs}.")
        else:
            statement = (f"{model}'s {method} heat on the {region} (median PH {ph(own)}) "
                         f"does not beat both baselines ({refs}); do not read it as "
                         f"attention to the {region}.")
        out.append(_finding("above_chance", "info" if beats else "low",
                            {"model": model, "method": method, "region": region},
                            statement, evidence, min(r.median_difference for r in results)))
    return out


@rule("faithfulness_caveat")
def faithfulness_caveat(ctx: RuleContext) -> list[Finding]:
    """ROAD combined score at or below ``road_min``: the heatmaps are not faithful."""
    out = []
    for model, method in ctx.pairs():
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": "object"}
        road = _stat("road.combined", "q2", **dims)
        if road in ctx.facts and ctx.facts[road].value <= ctx.config.road_min:
            out.append(_finding(
                "faithfulness_caveat", "high", {"model": model, "method": method},
                f"{model}'s {method} heatmaps fail the ROAD faithfulness check (median combined "
                f"score {ph(road)}): findings built on them are marked as uncertain.",
                [road], -ctx.facts[road].value))
    return out


def _parts(ctx: RuleContext) -> list[str]:
    s = ctx.scores
    return sorted(set(s[(s.metric == PH) & (s.region != BACKGROUND)].region))


def _classes(ctx: RuleContext, model: str, method: str) -> list[str]:
    s = ctx.scores
    return [ALL_CLASSES, *sorted(set(s[(s.model == model) & (s.method == method)].class_name))]


def _part_medians(ctx: RuleContext, metric: str, model: str, method: str, cls: str
                  ) -> list[tuple[str, str]]:
    out = []
    for region in _parts(ctx):
        fid = _stat(metric, "q2", model=model, method=method, **{"class": cls}, region=region)
        if fid in ctx.facts and ctx.facts[fid].n >= ctx.config.min_n:
            out.append((region, fid))
    return out


def derive_findings(scores: pd.DataFrame, facts: FactTable, config: FindingsConfig | None = None,
                    rules: list[str] | None = None) -> list[Finding]:
    """Run the rules (all by default) and return their findings, ranked.

    Findings about a model/method whose heatmaps failed the faithfulness check get a caveat.
    """
    ctx = RuleContext(scores, facts, config or FindingsConfig())
    findings = [f for name in (rules or sorted(RULES)) for f in RULES[name](ctx)]
    unfaithful = {(f.subject["model"], f.subject["method"]) for f in findings
                  if f.kind == "faithfulness_caveat"}
    findings = [replace(f, caveat="rests on heatmaps that failed the ROAD faithfulness check")
                if f.kind != "faithfulness_caveat"
                and (f.subject.get("model"), f.subject.get("method")) in unfaithful else f
                for f in findings]
    return rank_findings(findings)
