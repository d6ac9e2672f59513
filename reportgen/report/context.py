"""Everything the report template shows, gathered from the run's saved outputs.

The template receives display strings from the facts table only; it never formats a number.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.metrics.registry import get_metric
from reportgen.metrics.road import ROAD_CAVEAT
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.section import NarrativeSection
from reportgen.report.figures import Figure, ph_boxplot, region_order

QUARTILE_METRICS = ("pqah.ph", "pqah.precision", "pqah.recall")


def _fact_cell(facts: FactTable, fid: str) -> dict[str, str]:
    return {"id": fid, "display": facts.display(fid)} if fid in facts else {"id": "",
                                                                              "display": "–"}


def scored_regions(facts: FactTable, model: str, method: str, cls: str, metric: str,
                   part_names: list[str]) -> list[str]:
    """Regions with a median for (model, method, class), in figure order."""
    regions = {f.dims["region"] for f in facts
               if f.id.startswith(f"{metric}.q2|") and f.dims.get("model") == model
               and f.dims.get("method") == method and f.dims.get("class") == cls
               and "subset" not in f.dims}
    return region_order(sorted(regions), part_names)


def quartile_rows(facts: FactTable, model: str, method: str, cls: str, metric: str,
                  regions: list[str]) -> list[dict[str, Any]]:
    """One row per region in ``regions``; a region without facts shows "–" cells."""
    rows = []
    for region in regions:
        dims = {"model": model, "method": method, "class": cls, "region": region}
        rows.append({"region": region,
                     **{stat: _fact_cell(facts, fact_id(f"{metric}.{stat}", **dims))
                        for stat in ("n", "q1", "q2", "q3", "ci_low", "ci_high")}})
    return rows


def build_context(*, facts: FactTable, stats: pd.DataFrame, narrative: list[NarrativeSection],
                  exclusions: pd.DataFrame, run: dict, part_names: list[str],
                  class_names: list[str], findings: list[Finding] | None = None
                  ) -> dict[str, Any]:
    pairs = sorted({(f.dims["model"], f.dims["method"]) for f in facts
                    if f.id.startswith("pqah.ph.q2|")})
    comparisons = []
    stats = stats[stats["subset"] == "all"] if "subset" in stats else stats
    for model, method in pairs:
        figure: Figure = ph_boxplot(stats, model, method, part_names)
        tables = {m: quartile_rows(facts, model, method, ALL_CLASSES, m,
                                   scored_regions(facts, model, method, ALL_CLASSES, m,
                                                  part_names))
                  for m in QUARTILE_METRICS}
        # Per-class rows use the pooled regions as columns, so cells line up under headers.
        pooled = [r["region"] for r in tables["pqah.ph"]]
        comparisons.append({
            "model": model,
            "method": method,
            "figure": asdict(figure),
            "tables": tables,
            "per_class": [{"class": c, "rows": quartile_rows(facts, model, method, c,
                                                             "pqah.ph", pooled)}
                          for c in class_names],
        })
    audiences = [s.audience for s in narrative]
    shown = "end user" if "end user" in audiences else (audiences[0] if audiences else "")
    sections = [{"id": s.section, "title": s.title, "writer": s.writer, "guard": s.guard,
                 "provenance": s.provenance,
                 "paragraphs": fill_placeholders(s.text, facts).split("\n\n")}
                for s in narrative if s.audience == shown]
    object_metrics = sorted({f.id.split("|")[0].rsplit(".", 1)[0] for f in facts
                             if f.dims.get("region") == "object" and ".q2|" in f.id + "|"})
    object_table = {
        "metrics": [{"id": m, "name": get_metric(m).name, "meaning": get_metric(m).meaning,
                     "arrow": {"higher": "↑", "lower": "↓"}.get(get_metric(m).direction, "")}
                    for m in object_metrics],
        "rows": [{"model": model, "method": method,
                  "cells": [{"q2": _fact_cell(facts, fact_id(f"{m}.q2", **dims)),
                             "n": _fact_cell(facts, fact_id(f"{m}.n", **dims))}
                            for m in object_metrics]}
                 for model, method in pairs
                 for dims in [{"model": model, "method": method, "class": ALL_CLASSES,
                               "region": "object"}]],
    }
    key_findings = [{"kind": f.kind.replace("_", " "), "severity": f.severity,
                     "text": fill_placeholders(f.statement, facts), "caveat": f.caveat}
                    for f in (findings or []) if f.severity != "info"]
    counts = {k: _fact_cell(facts, fact_id(k)) for k in
              ("run.samples.total", "run.samples.scored", "run.samples.excluded")}
    return {
        "title": run.get("title", "Heatmap analysis report"),
        "run": run,
        "counts": counts,
        "narrative": sections,
        "findings": key_findings,
        "object_table": object_table,
        "road_caveat": ROAD_CAVEAT if any(m.startswith("road.") for m in object_metrics)
        else "",
        "conditions": [{**c, "shown": [{"id": fid, "display": facts.display(fid)}
                                        for fid in c["triggered"][:5] if fid in facts]}
                       for c in run.get("conditions", [])],
        "comparisons": comparisons,
        "exclusions": exclusions.to_dict(orient="records"),
        "part_names": part_names,
        "class_names": class_names,
    }
