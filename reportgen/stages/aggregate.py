"""Aggregate: group statistics of the scores and the facts they become.

Every number a user sees is a fact (``reportgen.analysis.facts``); this stage makes the
statistics' facts, the run's sample counts and each model's accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.stages.score import SampleCounts, Scored
from reportgen.vocab import ALL_CLASSES


@dataclass(frozen=True)
class Aggregated:
    """``stats``: every group's statistics (stats.csv); ``facts``: those shown, as facts."""

    stats: pd.DataFrame
    facts: FactTable


def aggregate(scored: Scored, seed: int) -> Aggregated:
    stats = group_statistics(scored.scores, seed=seed)
    facts = facts_from_statistics(fact_rows(stats))
    count_facts(scored.counts, facts)
    accuracy_facts(scored.scores, facts)
    return Aggregated(stats, facts)


def fact_rows(stats: pd.DataFrame) -> pd.DataFrame:
    """The statistics that become facts (stats.csv keeps every group).

    Left out, because nothing shown or checked reads them and they would be most of
    facts.json: the correct/misclassified subsets of single classes (the subsets are compared
    pooled over classes), and per-fraction ROAD points (``road.morf@0.3``) other than pooled
    over classes and subsets (they draw one figure)."""
    curve = stats["metric"].str.contains("@", regex=False)
    pooled_class = stats["class_name"] == ALL_CLASSES
    all_samples = stats["subset"] == "all"
    return stats[(all_samples | pooled_class) & (~curve | (pooled_class & all_samples))]


def count_facts(counts: SampleCounts, facts: FactTable) -> None:
    """``run.samples.*``: per sample (object), out of every item the dataset yielded."""
    facts.add_value("run.samples.total", counts.total, counts.total, "count")
    facts.add_value("run.samples.excluded", counts.excluded, counts.total, "count")
    facts.add_value("run.samples.scored", counts.scored, counts.total, "count")
    if counts.partial:
        facts.add_value("run.samples.partial", counts.partial, counts.total, "count")


def accuracy_facts(scores: pd.DataFrame, facts: FactTable) -> None:
    """``model.accuracy`` per model and method, over the samples whose class the model can
    output (precomputed heatmaps and baselines have no prediction)."""
    if scores.empty:
        return
    per_image = scores.drop_duplicates(["model", "method", "image_id", "object_id"])
    per_image = per_image[(per_image["predicted_class"] != "") & per_image["correct"].notna()]
    for (model, method), group in per_image.groupby(["model", "method"], sort=True):
        facts.add_value("model.accuracy", 100.0 * group["correct"].astype(bool).mean(),
                        len(group), "percent", "higher", model=model, method=method)
