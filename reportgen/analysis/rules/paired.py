"""Paired rules on the same images: models against models, methods against methods,
methods against the random and centre baselines."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from reportgen.analysis.facts import stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules.base import HEAT_SHARE, PH, RuleContext, make_finding, rule
from reportgen.analysis.significance import bootstrap_median_ci, holm, wilcoxon_paired
from reportgen.metrics.registry import get_metric
from reportgen.vocab import ALL_CLASSES, BACKGROUND, BASELINE_MODEL, CHANCE_BASELINES
from reportgen.vocab import placeholder as ph


def _paired_findings(ctx: RuleContext, kind: str, families: Iterator[tuple]) -> list[Finding]:
    """Paired Wilcoxon on the same samples, Holm within each family.

    A family is ``(label, (dims_a, dims_b), items)``; an item ``(metric, class, region)``
    compares ``metric`` on ``region`` over the samples of ``class`` (``all``: every sample).
    """
    cfg, out = ctx.thresholds, []
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
            out.append(make_finding(
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
    models = sorted({m for m, _ in ctx.scored_pairs})
    methods = sorted({m for _, m in ctx.scored_pairs})
    classes = sorted(set(ctx.scores[ctx.scores.model != BASELINE_MODEL].class_name))

    def families():
        for method in methods:
            for a, b in combinations(models, 2):
                items = [(PH, ALL_CLASSES, r) for r in sorted({BACKGROUND, *ctx.parts})]
                items += [(HEAT_SHARE, c, BACKGROUND) for c in classes]
                yield ({"model": f"{a} vs {b}", "method": method},
                       ({"model": a, "method": method}, {"model": b, "method": method}), items)

    return _paired_findings(ctx, "model_difference", families())


@rule("method_difference")
def method_difference(ctx: RuleContext) -> list[Finding]:
    models = sorted({m for m, _ in ctx.scored_pairs})
    methods = sorted({m for _, m in ctx.scored_pairs})

    def families():
        for model in models:
            for a, b in combinations(methods, 2):
                yield ({"model": model, "method": f"{a} vs {b}"},
                       ({"model": model, "method": a}, {"model": model, "method": b}),
                       [(PH, ALL_CLASSES, r) for r in sorted({BACKGROUND, *ctx.parts})])

    return _paired_findings(ctx, "method_difference", families())


@rule("above_chance")
def above_chance(ctx: RuleContext) -> list[Finding]:
    """A part a method 'attends to' must beat both chance baselines (random, centre) there
    (paired, Holm): kind ``above_chance`` (info) when it does, ``chance_level`` (low) when it
    does not. The oracle baseline is a ceiling, not chance: it is left out here."""
    cfg, out = ctx.thresholds, []
    baselines = sorted(set(ctx.scores[ctx.scores.model == BASELINE_MODEL].method)
                       & set(CHANCE_BASELINES))
    if not baselines:
        return out
    tests = []
    for model, method in ctx.scored_pairs:
        for region in ctx.parts:
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
        own = stat_fact_id(PH, "q2", **dims)
        evidence = [own] + [stat_fact_id(PH, "q2", **{**dims, "model": BASELINE_MODEL,
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
        out.append(make_finding("above_chance" if beats else "chance_level",
                                "info" if beats else "low",
                                {"model": model, "method": method, "region": region},
                                statement, evidence, min(r.median_difference for r in results)))
    return out
