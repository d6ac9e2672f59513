"""Everything the report template shows, gathered from the run's saved outputs.

The template receives display strings from the facts table only; it never formats a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from reportgen.analysis.facts import FactTable, fact_id, stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.metrics.registry import METRICS, get_metric
from reportgen.metrics.road import ROAD_CAVEAT
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.recommendations import actions
from reportgen.narrative.written import NarrativeSection
from reportgen.report.counterfactual_tables import SWAP_COLUMNS, part_removal_table, swap_table
from reportgen.report.figures import (
    Figure,
    class_boxplots,
    classes_per_figure,
    comparison_figure,
    is_baseline,
    ph_boxplot,
    region_order,
)
from reportgen.report.gallery import GalleryEntry, gallery_figures
from reportgen.report.road_figure import road_curve_figure
from reportgen.report.verdicts import model_verdicts, split_findings
from reportgen.run_record import RunRecord
from reportgen.vocab import ALL_CLASSES, ALL_SAMPLES, OBJECT

QUARTILE_METRICS = ("pqah.ph", "pqah.precision", "pqah.recall")
TABLE_COLUMNS = 7  # region columns per per-class table


def _fact_cell(facts: FactTable, fid: str) -> dict[str, str]:
    return {"id": fid, "display": facts.display(fid)} if fid in facts else {"id": "",
                                                                              "display": "–"}


def scored_regions(facts: FactTable, model: str, method: str, cls: str, metric: str,
                   part_names: list[str]) -> list[str]:
    """Regions with a median for (model, method, class), in figure order."""
    regions = {f.dims["region"] for f in facts.select(metric=metric, stat="q2", model=model,
                                                      method=method, class_=cls)}
    return region_order(sorted(regions), part_names)


def quartile_rows(facts: FactTable, model: str, method: str, cls: str, metric: str,
                  regions: list[str]) -> list[dict[str, Any]]:
    """One row per region in ``regions``; a region without facts shows "–" cells."""
    rows = []
    for region in regions:
        dims = {"model": model, "method": method, "class": cls, "region": region}
        rows.append({"region": region,
                     **{stat: _fact_cell(facts, stat_fact_id(metric, stat, **dims))
                        for stat in ("n", "q1", "q2", "q3", "ci_low", "ci_high")}})
    return rows


def build_context(*, facts: FactTable, stats: pd.DataFrame, narrative: list[NarrativeSection],
                  exclusions: pd.DataFrame, run: RunRecord,
                  findings: list[Finding] | None = None,
                  gallery: Sequence[GalleryEntry] = ()) -> dict[str, Any]:
    """The template's context; the names come from ``run.dataset``, the figure and gallery
    caps from the run's ``report`` settings.

    Page 1: ``verdicts`` (one per model of ``run.models``, from the findings), ``actions``
    (at most three lines), the narrative filled at each section's audience precision.
    ``findings``: at most ``report.key_findings`` non-info findings, most severe first;
    ``appendix_findings``: the rest. ``gallery``: every figure of each shown model x method
    (tall thumbnails may need several to stay legible)."""
    part_names, class_names = list(run.dataset.part_names), list(run.dataset.class_names)
    settings = run.report_settings()
    gallery_max_parts = settings.gallery_max_parts
    max_class_figures = settings.max_class_figures
    gallery_max_figures = settings.gallery_max_figures
    pairs = facts.pairs(baselines=True)  # the baselines get their own boxplots and columns
    comparisons = []
    stats = stats[stats["subset"] == ALL_SAMPLES] if "subset" in stats else stats
    for model, method in pairs:
        figure: Figure = ph_boxplot(stats, model, method, part_names)
        class_figures, classes_left_out = _class_figures(stats, model, method, part_names,
                                                         class_names, max_class_figures)
        tables = {m: quartile_rows(facts, model, method, ALL_CLASSES, m,
                                   scored_regions(facts, model, method, ALL_CLASSES, m,
                                                  part_names))
                  for m in QUARTILE_METRICS}
        # Per-class rows use the pooled regions as columns, so cells line up under headers.
        pooled = [r["region"] for r in tables["pqah.ph"]]
        # Classes without a scored image (e.g. under --limit) get no row.
        scored = {f.dims["class"] for f in facts.select(metric="pqah.ph", stat="n",
                                                        model=model, method=method)}
        classes_with_facts = [c for c in class_names if c in scored]
        # then the classes of a grouping by predicted class (analysis.group_by), sorted
        classes_with_facts += sorted(scored - {ALL_CLASSES, *class_names})
        # Regions in column groups: a table stays within the page whatever the part count.
        column_groups = [pooled[i:i + TABLE_COLUMNS] for i in range(0, len(pooled),
                                                                     TABLE_COLUMNS)]
        comparisons.append({
            "model": model,
            "method": method,
            "figure": asdict(figure),
            "class_figures": class_figures,
            "classes_left_out": classes_left_out,
            "tables": tables,
            "per_class": [[{"class": c, "rows": quartile_rows(facts, model, method, c,
                                                              "pqah.ph", group)}
                           for c in classes_with_facts]
                          for group in column_groups],
        })
    audiences = [s.audience for s in narrative]
    shown = "end user" if "end user" in audiences else (audiences[0] if audiences else "")
    sections = [{"id": s.section, "title": s.title, "writer": s.writer, "guard": s.guard,
                 "provenance": s.provenance,
                 "paragraphs": fill_placeholders(s.text, facts, s.audience).split("\n\n")}
                for s in narrative if s.audience == shown]
    # Per-fraction ROAD points (road.morf@0.3) are drawn as curves, not table columns.
    object_metrics = sorted({f.metric for f in facts.select(stat="q2", region=OBJECT,
                                                            subset=None)
                             if "@" not in f.metric})
    # One row per metric, one column per model x method: stays within the page width.
    stat = {"mean": "mean", "median": "q2"}
    # The oracle baseline is scored for its background share only: no column of dashes.
    object_pairs = [(m, k) for m, k in pairs
                    if facts.select(stat="n", model=m, method=k, region=OBJECT)]
    object_table = {
        "pairs": [{"model": model, "method": method} for model, method in object_pairs],
        "rows": [{"id": m, "name": info.name, "meaning": info.meaning, "summary": info.summary,
                  "arrow": {"higher": "↑", "lower": "↓"}.get(info.direction, ""),
                  "cells": [{"value": _fact_cell(facts, stat_fact_id(m, stat[info.summary],
                                                                     **dims)),
                             "n": _fact_cell(facts, stat_fact_id(m, "n", **dims))}
                            for model, method in object_pairs
                            for dims in [{"model": model, "method": method,
                                          "class": ALL_CLASSES, "region": OBJECT}]]}
                 for m in object_metrics for info in [get_metric(m)]],
    }
    shown_metrics = sorted({f.metric.split("@")[0] for f in facts})
    definitions = []
    for m in shown_metrics:
        try:
            info = get_metric(m if m in METRICS else m + "@")
        except KeyError:
            continue  # a rule's own statistic: defined where the finding states it
        definitions.append({"id": m, "name": info.name, "meaning": info.meaning,
                            "direction": info.direction, "reference": info.reference,
                            "range": f"{info.range[0]:g} to {info.range[1]:g}"})
    road = road_curve_figure(stats, pairs)  # its caption carries the ROAD caveat
    gallery_pairs = sorted({(e.model, e.method) for e in gallery})
    said, appendix = split_findings(findings or [], settings.key_findings)
    counts = {k: _fact_cell(facts, fact_id(k)) for k in
              ("run.samples.total", "run.samples.scored", "run.samples.excluded")}
    return {
        "title": run.title,
        "run": run,
        "counts": counts,
        "grouping": run.grouping.get("text", ""),  # how samples were grouped into classes
        "narrative": sections,
        "findings": [_finding_row(f, facts) for f in said],
        "appendix_findings": [_finding_row(f, facts) for f in appendix],
        "verdicts": [asdict(v) for v in model_verdicts(findings or [], run.models)],
        "actions": actions(findings or []),
        "object_table": object_table,
        "swap_columns": [label for _, label in SWAP_COLUMNS],
        "swap_table": swap_table(facts),
        "part_table": part_removal_table(facts, facts.pairs()),
        "road_caveat": ROAD_CAVEAT if any(m.startswith("road.") for m in object_metrics)
        and road is None else "",
        "conditions": [{**c, "shown": [{"id": fid, "display": facts.display(fid)}
                                        for fid in c["triggered"][:5] if fid in facts]}
                       for c in run.conditions],
        "comparisons": comparisons,
        "comparison_figure": asdict(comparison_figure(stats, pairs, part_names))
        if len(pairs) > 1 else None,
        "road_figure": asdict(road) if road else None,
        # Several figures per pair when tall thumbnails need them to stay legible.
        "gallery": [asdict(g) for m, k in gallery_pairs[:gallery_max_figures]
                    for g in gallery_figures(gallery, m, k, part_names, gallery_max_parts)],
        "gallery_left_out": [f"{m} · {k}" for m, k in gallery_pairs[gallery_max_figures:]],
        "sections": {s["id"]: s for s in sections},
        "definitions": definitions,
        "parameters": _parameters(run.config),
        "narrative_info": run.narrative,
        "exclusions": exclusions.to_dict(orient="records"),
        "part_names": part_names,
        "class_names": class_names,
    }


def _finding_row(f: Finding, facts: FactTable) -> dict[str, str]:
    """A finding as the findings list and the appendix table show it (full precision)."""
    return {"kind": f.kind.replace("_", " "), "severity": f.severity,
            "subject": ", ".join(f"{k} {v}" for k, v in f.subject.items()),
            "text": fill_placeholders(f.statement, facts), "caveat": f.caveat}


def _parameters(config: dict) -> list[dict[str, str]]:
    """The run's settings that shape the numbers, as (name, value) text for Methodology."""
    faith = config.get("faithfulness", {})
    rows = [("Heatmap target", config.get("target", "")),
            ("Methods and their parameters", ", ".join(
                f"{m} {config.get('method_params', {}).get(m, {}) or ''}".strip()
                for m in config.get("methods", []))),
            ("Seed (baselines, bootstrap, imputation noise)", config.get("seed", "")),
            # sorted: run.json stores the config with sorted keys, so a re-render matches
            ("Findings thresholds", ", ".join(f"{k} {v}" for k, v in
                                              sorted(config.get("findings", {}).items()))),
            ("Faithfulness", "off" if not faith.get("enabled", True) else
             f"fill {faith.get('fill')}, salient threshold {faith.get('threshold')}, on "
             f"{faith.get('max_samples') or 'all'} images per model and method; ROAD "
             f"fractions {faith.get('road_fractions')}, imputation noise "
             f"{faith.get('road_noise_std')}")]
    return [{"name": k, "value": str(v)} for k, v in rows if v != ""]


def _class_figures(stats: pd.DataFrame, model: str, method: str, part_names: list[str],
                   class_names: list[str], max_figures: int) -> tuple[list[dict], list[str]]:
    """Per-class boxplot figures in chunks that fit a page, at most ``max_figures``; the
    classes left out are still in the per-class table."""
    if is_baseline(model) or len(class_names) < 2:
        return [], []
    rows = stats[(stats["model"] == model) & (stats["method"] == method)
                 & (stats["metric"] == "pqah.ph") & (stats["class_name"] != ALL_CLASSES)]
    present = [c for c in class_names if c in set(rows["class_name"])]
    size = classes_per_figure(rows["region"].nunique())
    chunks = [present[i:i + size] for i in range(0, len(present), size)]
    figures = [asdict(class_boxplots(stats, model, method, part_names, chunk, part=k))
               for k, chunk in enumerate(chunks[:max_figures])]
    return figures, [c for chunk in chunks[max_figures:] for c in chunk]
