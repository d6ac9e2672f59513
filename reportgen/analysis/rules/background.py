"""Rules about heat on the background: reliance, class shortcuts, misclassified samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reportgen.analysis.facts import stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules.base import HEAT_SHARE, RuleContext, make_finding, rule
from reportgen.analysis.significance import holm, mann_whitney, wilcoxon_paired
from reportgen.vocab import (
    ALL_CLASSES,
    BACKGROUND,
    BASELINE_MODEL,
    OBJECT,
    ORACLE,
    SWAP_METHOD,
)
from reportgen.vocab import placeholder as ph

EXCESS = "pqah.precision.excess_over_oracle"  # facts the shortcut rule adds
SAME, RAND = "swap.mixed_same.accuracy", "swap.mixed_rand.accuracy"
GAP, GAP_PROB = "swap.bg_gap", "swap.bg_gap_prob"
ONLY_FG = "swap.only_fg"


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
    """A class whose background heat stands out from the other classes', graded by whether
    the background-swap test agrees (docs/facts-schema.md, "Severity").

    Heatmap evidence: per sample, the background heat share's excess over the oracle baseline
    (the object's own mask seen through the CAM grid: the spill geometry causes), grouped by
    the class each heatmap explains; Mann-Whitney U of one class against the others, Holm over
    every model, method and class, with Cliff's delta and the median difference as effect
    floors. Counterfactual evidence (``swap_evidence``) for the model and class: **high** when
    it confirms, **low** when the test ran and does not confirm, **medium** when it did not
    run for that class.
    """
    cfg, tests = ctx.thresholds, []
    has_oracle = not ctx.values(HEAT_SHARE, BACKGROUND, model=BASELINE_MODEL,
                                method=ORACLE).empty
    for model, method in ctx.scored_pairs:
        bg = background_excess(ctx, model, method)
        explained = bg.target_class.to_numpy()
        for cls in sorted(set(explained)):
            a = bg.excess.to_numpy()[explained == cls]
            b = bg.excess.to_numpy()[explained != cls]
            if min(a.size, b.size) >= cfg.min_n:
                raw = bg.value.to_numpy()[explained == cls]
                tests.append((model, method, cls, mann_whitney(a, b), float(np.median(raw))))
    p_adj = holm([t.p_value for *_, t, _ in tests])  # one family: the whole run
    confirmed = swap_evidence(ctx)
    out = []
    for (model, method, cls, t, raw), p in zip(tests, p_adj, strict=True):
        if not (p < cfg.alpha and t.cliffs_delta >= cfg.min_cliffs_delta
                and t.median_a - t.median_b >= cfg.min_difference):
            continue
        dims = {"model": model, "method": method, "class": cls, "region": BACKGROUND}
        own = ctx.add_fact(f"{HEAT_SHARE}.q2_explaining", raw, t.n_a, "share", "neither",
                           **dims)
        n_own = ctx.add_fact("shortcut.n_explaining", t.n_a, t.n_a, "count", **dims)
        tested = EXCESS if has_oracle else HEAT_SHARE
        excess = ctx.add_fact(f"{tested}.q2_explaining", t.median_a, t.n_a, "share",
                              "neither", **dims)
        other = ctx.add_fact(f"{tested}.q2_other_classes", t.median_b, t.n_b, "share",
                             "neither", **dims)
        delta = ctx.add_fact("shortcut.cliffs_delta", t.cliffs_delta, t.n_a + t.n_b,
                             "fraction", "neither", **dims)
        pf = ctx.add_fact("shortcut.p_holm", p, t.n_a + t.n_b, "p-value", "lower", **dims)
        heat = (f"When {model}'s {method} heatmaps explain class {cls}, a median {ph(own)} of "
                f"the heat falls on the background (n = {ph(n_own)})")
        heat += (f": an excess of {ph(excess)} over a perfect explainer at the heatmap's "
                 f"resolution, where the other classes' excess is {ph(other)}" if has_oracle
                 else f", against {ph(other)} for the other classes")
        evidence = [own, n_own, excess, other] if has_oracle else [own, n_own, other]
        swap = confirmed.get((model, cls))
        if swap is None:
            severity, verdict = "medium", (
                "; not tested by the background swap, so the model may use the background as "
                f"a shortcut for {cls}.")
        else:
            severity = "high" if swap.confirmed else "low"
            verdict = swap.clause
            evidence += swap.evidence
        out.append(make_finding("class_shortcut", severity,
                                {"model": model, "method": method, "class": cls},
                                heat + verdict, [*evidence, delta, pf], t.cliffs_delta))
    return out


def background_excess(ctx: RuleContext, model: str, method: str) -> pd.DataFrame:
    """The background heat-share rows of (model, method) with ``excess``: the share minus the
    oracle baseline's on the same sample (the share itself when no oracle was scored)."""
    bg = ctx.values(HEAT_SHARE, BACKGROUND, model=model, method=method)
    oracle = ctx.values(HEAT_SHARE, BACKGROUND, model=BASELINE_MODEL, method=ORACLE)
    if oracle.empty:
        return bg.assign(excess=bg.value)
    spill = oracle.set_index(["image_id", "object_id"]).value
    keys = pd.MultiIndex.from_frame(bg[["image_id", "object_id"]])
    merged = bg.assign(excess=bg.value.to_numpy() - spill.reindex(keys).to_numpy())
    return merged[np.isfinite(merged.excess.to_numpy())]


@dataclass(frozen=True)
class SwapEvidence:
    """The background-swap test's verdict for one model and class: ``confirmed``, the clause
    the finding adds (with placeholders) and the facts it cites."""

    confirmed: bool
    clause: str
    evidence: list[str]


def swap_evidence(ctx: RuleContext) -> dict[tuple[str, str], SwapEvidence]:
    """(model, dataset class) -> the background swap's verdict, for classes tested on at
    least ``min_n`` samples. Confirmed by either of:

    * **BG-gap**: Mixed-Same minus Mixed-Rand accuracy at least ``min_bg_gap``, and the paired
      target-probability gap positive (Wilcoxon signed-rank, Holm over models and classes);
    * **Only-FG drop**: on the object alone the class loses more target probability than the
      other classes (Mann-Whitney, Cliff's delta at most ``-min_cliffs_delta``, Holm) and its
      accuracy falls by at least ``min_bg_gap`` more than that of all classes together.
    """
    cfg = ctx.thresholds
    gap_tests, fg_tests = [], []
    for model in sorted({m for m, _ in ctx.scored_pairs}):
        gaps = ctx.values(GAP_PROB, OBJECT, model=model, method=SWAP_METHOD)
        for cls, group in sorted(gaps.groupby("class_name")):
            d = group.value.to_numpy()
            if d.size >= cfg.min_n:
                gap_tests.append((model, cls, wilcoxon_paired(d, np.zeros_like(d))))
        drops = ctx.values(f"{ONLY_FG}.prob_change", OBJECT, model=model, method=SWAP_METHOD)
        named = drops.class_name.to_numpy()
        for cls in sorted(set(named)):
            a, b = drops.value.to_numpy()[named == cls], drops.value.to_numpy()[named != cls]
            if min(a.size, b.size) >= cfg.min_n:
                fg_tests.append((model, cls, mann_whitney(a, b)))
    out: dict[tuple[str, str], SwapEvidence] = {}
    fg_p = dict(zip([(m, c) for m, c, _ in fg_tests],
                    zip([t for *_, t in fg_tests], holm([t.p_value for *_, t in fg_tests]),
                        strict=True), strict=True))
    for (model, cls, t), p in zip(gap_tests, holm([t.p_value for *_, t in gap_tests]),
                                  strict=True):
        dims = {"model": model, "method": SWAP_METHOD, "class": cls, "region": OBJECT}
        same, rand, gap = (stat_fact_id(m, "mean", **dims) for m in (SAME, RAND, GAP))
        n = stat_fact_id(GAP, "n", **dims)
        if not all(i in ctx.facts for i in (same, rand, gap, n)):
            continue
        swap = (f"accuracy on {cls} is {ph(same)} with backgrounds of its own class and "
                f"{ph(rand)} with other classes' backgrounds (BG-gap {ph(gap)}, n = {ph(n)})")
        if (p < cfg.alpha and np.mean(t.differences) > 0
                and ctx.facts[gap].value >= cfg.min_bg_gap):
            out[model, cls] = SwapEvidence(True, f"; the background swap confirms it: {swap}. "
                                           f"The model uses the background as a shortcut for "
                                           f"{cls}.", [same, rand, gap, n])
            continue
        fg = _only_fg_drop(ctx, model, cls, fg_p.get((model, cls)))
        out[model, cls] = (
            SwapEvidence(True, f"{fg.clause} With a swapped background, {swap}.",
                         [*fg.evidence, same, rand, gap])
            if fg else SwapEvidence(False, f"; not confirmed by the background swap: {swap}.",
                                    [same, rand, gap, n]))
    return out


def _only_fg_drop(ctx: RuleContext, model: str, cls: str, test) -> SwapEvidence | None:
    """The Only-FG confirmation of ``swap_evidence``, or None."""
    if test is None:
        return None
    t, p = test
    cfg = ctx.thresholds
    dims = {"model": model, "method": SWAP_METHOD, "region": OBJECT}
    own_fg, own_orig, all_fg, all_orig = (
        stat_fact_id(f"swap.{v}.accuracy", "mean", **dims, **{"class": c})
        for c in (cls, ALL_CLASSES) for v in ("only_fg", "original"))
    n = stat_fact_id(f"{ONLY_FG}.accuracy", "n", **dims, **{"class": cls})
    if not all(i in ctx.facts for i in (own_fg, own_orig, all_fg, all_orig, n)):
        return None
    value = lambda fid: ctx.facts[fid].value  # noqa: E731
    drop = (value(own_orig) - value(own_fg)) - (value(all_orig) - value(all_fg))
    if not (p < cfg.alpha and t.cliffs_delta <= -cfg.min_cliffs_delta
            and drop >= cfg.min_bg_gap):
        return None
    return SwapEvidence(True, (
        f"; the background swap confirms it: with the background replaced by a plain fill, "
        f"accuracy on {cls} is {ph(own_fg)} against {ph(own_orig)} on the unmodified images "
        f"(n = {ph(n)}; all classes together: {ph(all_fg)} against {ph(all_orig)}). The model "
        f"needs the background to recognise {cls}."), [own_orig, own_fg, n, all_orig, all_fg])


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
