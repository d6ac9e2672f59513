"""Everything the report template shows, gathered from the run's saved outputs.

The template receives display strings from the facts table only; it never formats a number.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.section import NarrativeSection
from reportgen.report.figures import Figure, ph_boxplot, region_order

QUARTILE_METRICS = ("pqah.ph", "pqah.precision", "pqah.recall")


def _fact_cell(facts: FactTable, fid: str) -> dict[str, str]:
    return {"id": fid, "display": facts.display(fid)} if fid in facts else {"id": "",
                                                                              "display": "–"}


def quartile_rows(facts: FactTable, model: str, method: str, cls: str, metric: str,
                  part_names: list[str]) -> list[dict[str, Any]]:
    regions = sorted({f.dims["region"] for f in facts
                      if f.id.startswith(f"{metric}.q2|") and f.dims.get("model") == model
                      and f.dims.get("method") == method and f.dims.get("class") == cls})
    rows = []
    for region in region_order(regions, part_names):
        dims = {"model": model, "method": method, "class": cls, "region": region}
        rows.append({"region": region,
                     **{stat: _fact_cell(facts, fact_id(f"{metric}.{stat}", **dims))
                        for stat in ("n", "q1", "q2", "q3", "ci_low", "ci_high")}})
    return rows


def build_context(*, facts: FactTable, stats: pd.DataFrame, narrative: list[NarrativeSection],
                  exclusions: pd.DataFrame, run: dict, part_names: list[str],
                  class_names: list[str]) -> dict[str, Any]:
    pairs = sorted({(f.dims["model"], f.dims["method"]) for f in facts
                    if f.id.startswith("pqah.ph.q2|")})
    comparisons = []
    for model, method in pairs:
        figure: Figure = ph_boxplot(stats, model, method, part_names)
        comparisons.append({
            "model": model,
            "method": method,
            "figure": asdict(figure),
            "tables": {m: quartile_rows(facts, model, method, ALL_CLASSES, m, part_names)
                       for m in QUARTILE_METRICS},
            "per_class": [{"class": c, "rows": quartile_rows(facts, model, method, c,
                                                             "pqah.ph", part_names)}
                          for c in class_names],
        })
    sections = [{"id": s.section, "title": s.title, "writer": s.writer, "guard": s.guard,
                 "paragraphs": fill_placeholders(s.text, facts).split("\n\n")}
                for s in narrative]
    counts = {k: _fact_cell(facts, fact_id(k)) for k in
              ("run.samples.total", "run.samples.scored", "run.samples.excluded")}
    return {
        "title": run.get("title", "Heatmap analysis report"),
        "run": run,
        "counts": counts,
        "narrative": sections,
        "comparisons": comparisons,
        "exclusions": exclusions.to_dict(orient="records"),
        "part_names": part_names,
        "class_names": class_names,
    }
