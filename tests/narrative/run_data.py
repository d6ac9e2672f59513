"""Facts and findings like a small real run, written by hand so every value is known.

Model ``partnet`` with Grad-CAM on classes ``bird`` and ``fish``: the fish's heat sits on the
background (a high-severity class shortcut), the bird's on its body.
"""

from __future__ import annotations

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.findings import Finding
from reportgen.narrative.placeholders import placeholder as ph

DIMS = {"model": "partnet", "method": "gradcam"}
# (class, region) -> (PH median, heat-share median)
MEDIANS = {
    ("all", "background"): (0.30, 0.45), ("all", "head"): (0.35, 0.15),
    ("all", "body"): (0.48, 0.30), ("all", "tail"): (0.12, 0.05),
    ("bird", "background"): (0.20, 0.25), ("bird", "head"): (0.40, 0.20),
    ("bird", "body"): (0.55, 0.40), ("bird", "tail"): (0.15, 0.08),
    ("fish", "background"): (0.60, 0.71), ("fish", "head"): (0.25, 0.09),
    ("fish", "body"): (0.30, 0.15), ("fish", "tail"): (0.10, 0.03),
}


def fid(name: str, cls: str = "all", region: str = "background", **dims) -> str:
    return fact_id(name, **{**DIMS, **dims}, **{"class": cls}, region=region)


def make_facts(classes=("bird", "fish")) -> FactTable:
    table = FactTable()
    for (cls, region), (ph_median, share) in MEDIANS.items():
        if cls not in ("all", *classes):
            continue
        n = 40 if cls == "all" else 20
        dims = {**DIMS, "class": cls, "region": region}
        for stat, delta in (("q1", -0.05), ("q2", 0.0), ("q3", 0.05)):
            table.add_value(f"pqah.ph.{stat}", ph_median + delta, n, "fraction", "higher",
                            **dims)
            table.add_value(f"pqah.precision.{stat}", share + delta, n, "share", "higher",
                            **dims)
        table.add_value("pqah.ph.n", n, n, "count", **dims)
        table.add_value("pqah.precision.n", n, n, "count", **dims)
    table.add_value("run.samples.total", 42, 42, "count")
    table.add_value("run.samples.scored", 40, 42, "count")
    table.add_value("run.samples.excluded", 2, 42, "count")
    return table


def make_findings() -> list[Finding]:
    fish_share = fid("pqah.precision.q2", "fish")
    all_share = fid("pqah.precision.q2")
    return [
        Finding("class_shortcut|fish", "class_shortcut", "high",
                {**DIMS, "class": "fish"},
                f"Class fish: a median {ph(fish_share)} of the heat falls on the background "
                f"(n = {ph(fid('pqah.precision.n', 'fish'))}), against "
                f"{ph(fid('pqah.precision.q2', 'bird'))} for class bird.",
                [fish_share, fid("pqah.precision.n", "fish"), fid("pqah.precision.q2", "bird")],
                0.8),
        Finding("background_reliance|partnet", "background_reliance", "medium", dict(DIMS),
                f"partnet with gradcam: a median {ph(all_share)} of the heat falls on the "
                "background.", [all_share], 0.45),
        Finding("dominant_part|bird", "dominant_part", "info", {**DIMS, "class": "bird"},
                f"For class bird, the heat overlaps most with the body (median PH "
                f"{ph(fid('pqah.ph.q2', 'bird', 'body'))}).",
                [fid("pqah.ph.q2", "bird", "body")], 0.55),
    ]
