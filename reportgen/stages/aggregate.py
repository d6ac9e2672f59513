"""Aggregate: group statistics of the scores and the facts they become.

Every number a user sees is a fact (``reportgen.analysis.facts``); this stage makes the
statistics' facts, the run's sample counts and each model's accuracy. The statistics group the
samples as the run's ``Grouping`` says (``reportgen.analysis.grouping``: the dataset class, or
a model's predicted class), which the find stage applies the same way; the right-part rates of
``analysis.expected_parts`` are facts made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.grouping import Grouping, choose_grouping, right_part_facts
from reportgen.analysis.stats import group_statistics
from reportgen.config import RunConfig
from reportgen.stages.load import RunInputs
from reportgen.stages.score import SampleCounts, Scored
from reportgen.vocab import ALL_CLASSES, COUNTERFACTUAL_METHODS


@dataclass(frozen=True)
class Aggregated:
    """``stats``: every group's statistics (stats.csv); ``facts``: those shown, as facts."""

    stats: pd.DataFrame
    facts: FactTable
    grouping: Grouping = field(default_factory=Grouping)


def grouping_of(config: RunConfig, inputs: RunInputs) -> Grouping:
    """The run's grouping: ``config.analysis`` resolved against each model's output names."""
    settings = config.analysis
    return choose_grouping(settings.group_by, settings.min_n, settings.expected_parts,
                           inputs.output_names, inputs.class_names)


def aggregate(scored: Scored, seed: int, grouping: Grouping | None = None) -> Aggregated:
    """``grouping`` None: every sample counts under its dataset class."""
    grouping = grouping or Grouping()
    grouped = grouping.apply(scored.scores)
    stats = group_statistics(grouped, seed=seed)
    facts = facts_from_statistics(fact_rows(stats))
    count_facts(scored.counts, facts)
    accuracy_facts(scored.scores, facts)
    right_part_facts(grouped, grouping.expected_parts, facts)
    return Aggregated(stats, facts, grouping)


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
    per_image = per_image[(per_image["predicted_class"] != "") & per_image["correct"].notna()
                          # the counterfactual tests' own accuracies are their metrics
                          & ~per_image["method"].isin(COUNTERFACTUAL_METHODS)]
    for (model, method), group in per_image.groupby(["model", "method"], sort=True):
        facts.add_value("model.accuracy", 100.0 * group["correct"].astype(bool).mean(),
                        len(group), "percent", "higher", model=model, method=method)
