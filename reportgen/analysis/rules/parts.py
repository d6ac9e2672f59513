"""Rules about the parts: the one the heat overlaps most, and the ones it neglects."""

from __future__ import annotations

from reportgen.analysis.facts import stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules.base import (
    AREA_SHARE,
    HEAT_SHARE,
    PH,
    RuleContext,
    make_finding,
    part_medians,
    rule,
    scored_classes,
)
from reportgen.vocab import ALL_CLASSES
from reportgen.vocab import placeholder as ph


@rule("dominant_part")
def dominant_part(ctx: RuleContext) -> list[Finding]:
    """Per class, the part with the highest median PH."""
    out = []
    for model, method in ctx.scored_pairs:
        for cls in scored_classes(ctx, model, method):
            medians = part_medians(ctx, PH, model, method, cls)
            if not medians:
                continue
            region, fid = max(medians, key=lambda rf: (ctx.facts[rf[1]].value, rf[0]))
            n = stat_fact_id(PH, "n", model=model, method=method, **{"class": cls}, region=region)
            where = "all classes" if cls == ALL_CLASSES else f"class {cls}"
            out.append(make_finding(
                "dominant_part", "info", {"model": model, "method": method, "class": cls},
                f"For {where}, {model}'s {method} heat overlaps most with the {region} "
                f"(median PH {ph(fid)}, n = {ph(n)}).", [fid, n], ctx.facts[fid].value))
    return out


@rule("neglected_part")
def neglected_part(ctx: RuleContext) -> list[Finding]:
    """A part whose median heat share is below ``neglect_ratio`` x its median area share."""
    out = []
    for model, method in ctx.scored_pairs:
        for cls in scored_classes(ctx, model, method):
            for region, heat in part_medians(ctx, HEAT_SHARE, model, method, cls):
                dims = {"model": model, "method": method, "class": cls, "region": region}
                area = stat_fact_id(AREA_SHARE, "q2", **dims)
                if area not in ctx.facts or ctx.facts[area].value <= 0:
                    continue
                ratio = ctx.facts[heat].value / ctx.facts[area].value
                if ratio >= ctx.thresholds.neglect_ratio:
                    continue
                where = "all classes" if cls == ALL_CLASSES else f"class {cls}"
                out.append(make_finding(
                    "neglected_part", "low", {"model": model, "method": method, "class": cls,
                                              "region": region},
                    f"For {where}, the {region} covers a median {ph(area)} of the image but "
                    f"receives only {ph(heat)} of {model}'s {method} heat.",
                    [heat, area], 1 - ratio))
    return out
