"""Rules about heat on the background: reliance, class shortcuts, misclassified samples."""

from __future__ import annotations

from reportgen.analysis.facts import stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules.base import HEAT_SHARE, RuleContext, make_finding, rule
from reportgen.analysis.significance import holm, mann_whitney
from reportgen.vocab import ALL_CLASSES, BACKGROUND, BASELINE_MODEL
from reportgen.vocab import placeholder as ph


@rule("background_reliance")
def background_reliance(ctx: RuleContext) -> list[Finding]:
    """Median heat share on the background at or above the threshold (and above the centre
    baseline when it was scored)."""
    out = []
    for model, method in ctx.scored_pairs:
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": BACKGROUND}
        share = stat_fact_id(HEAT_SHARE, "q2", **dims)
        if share not in ctx.facts or ctx.facts[share].value < ctx.thresholds.background_share:
            continue
        evidence = [share, stat_fact_id(HEAT_SHARE, "n", **dims)]
        statement = (f"{model} with {method}: a median {ph(share)} of the heat falls on the "
                     f"background (n = {ph(evidence[1])} images).")
        centre = stat_fact_id(HEAT_SHARE, "q2",
                              **{**dims, "model": BASELINE_MODEL, "method": "center"})
        if centre in ctx.facts:
            if ctx.facts[share].value <= ctx.facts[centre].value:
                continue
            evidence.append(centre)
            statement = statement[:-1] + (f", more than the {ph(centre)} of a centred "
                                          "Gaussian baseline.")
        out.append(make_finding("background_reliance", "medium",
                                {"model": model, "method": method},
                                statement, evidence, ctx.facts[share].value))
    return out


@rule("class_shortcut")
def class_shortcut(ctx: RuleContext) -> list[Finding]:
    """A class whose background heat share stands out from the other classes': Mann-Whitney
    U with Holm correction across every model, method and class, and Cliff's delta. Samples
    are grouped by the class their heatmap explains (``target_class``)."""
    cfg, out, tests = ctx.thresholds, [], []
    for model, method in ctx.scored_pairs:
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
        out.append(make_finding("class_shortcut", "high",
                                {"model": model, "method": method, "class": cls},
                                statement, [own, n_own, other, delta, pf], t.cliffs_delta))
    return out


@rule("misclassified_shift")
def misclassified_shift(ctx: RuleContext) -> list[Finding]:
    """Background heat share of misclassified vs correctly classified samples."""
    cfg, tests = ctx.thresholds, []
    for model, method in ctx.scored_pairs:
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
        wrong_f = stat_fact_id(HEAT_SHARE, "q2", **dims, subset="misclassified")
        right_f = stat_fact_id(HEAT_SHARE, "q2", **dims, subset="correct")
        pf = ctx.add_fact("misclassified.p_holm", p, t.n_a + t.n_b, "p-value", "lower", **dims)
        word = "more" if t.cliffs_delta > 0 else "less"
        out.append(make_finding(
            "misclassified_shift", "medium", {"model": model, "method": method},
            f"When {model} is wrong, its {method} heat falls {word} on the background: a median "
            f"{ph(wrong_f)} for misclassified against {ph(right_f)} for correct samples "
            f"(Holm-adjusted p {ph(pf)}).", [wrong_f, right_f, pf], t.cliffs_delta))
    return out
