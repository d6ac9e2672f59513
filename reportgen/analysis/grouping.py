"""Which class a sample counts under in the statistics and findings (config ``analysis``), and
the per-class right-part rate of ``analysis.expected_parts``.

The tidy scores table has the dataset's class in ``class_name``. ``Grouping.apply`` returns a
copy in which a model grouped by ``predicted_class`` has the class it *predicted* there, so
"when the model says *cowboy boot*, where is its heat?" is answered by the same statistics,
facts and rules as the dataset classes. The aggregate stage (statistics, facts) and the find
stage (rules) both read ``Grouping.apply(scores)``: they see the same classes. The scores
table written to scores.parquet keeps the dataset class.

Choices (stated in the report and run.json):

* ``group_by: auto`` decides per model: a model whose output names are not the dataset's
  classes (``models[].class_names`` set to another label set, e.g. ``imagenet`` on a part
  dataset, which is also when ``correct`` is NA) is grouped by its predicted class; a model
  whose outputs are the dataset's classes keeps the dataset class (the demo is unchanged).
* Predicted classes with fewer than ``min_n`` samples (per model and method) are pooled as
  ``other`` (a predicted class that is itself named ``other`` joins that pool).
* Rows without a prediction keep the dataset class: the random and centre **baselines**
  (model ``baseline``; they explain the ground truth and there is one set of them for every
  model, so no one model's prediction is theirs) and **precomputed heatmaps** (no model was
  run, ``predicted_class`` is empty). Rules that compare a model with a baseline do so pooled
  over classes on the same images (``above_chance``/``chance_level`` pair per image over all
  samples), so they never compare a predicted-class group with a dataset-class group. Paired
  model-vs-model rules match a class name in both models: with both models grouped by their
  prediction, that compares the images both models predicted as that class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.vocab import BACKGROUND, BASELINE_MODEL

DATASET_CLASS = "dataset_class"
PREDICTED_CLASS = "predicted_class"
OTHER = "other"  # the pool of predicted classes with fewer than min_n samples
PH = "pqah.ph"
RIGHT_PART = "expected_part"  # facts expected_part.rate / .hits / .top_share
SAMPLE = ["model", "method", "image_id", "object_id"]


@dataclass(frozen=True)
class Grouping:
    """``requested``: the config's ``group_by``; ``by_model``: what each model is grouped by
    (``dataset_class`` or ``predicted_class``); ``min_n``: the pooling threshold;
    ``expected_parts``: class -> the parts that should carry its evidence."""

    requested: str = "auto"
    by_model: dict[str, str] = field(default_factory=dict)
    min_n: int = 10
    expected_parts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def predicted_models(self) -> list[str]:
        return sorted(m for m, how in self.by_model.items() if how == PREDICTED_CLASS)

    def describe(self) -> str:
        """One line for the report: what the classes of the statistics are."""
        predicted = self.predicted_models
        how = "chosen automatically" if self.requested == "auto" else "set in the config"
        if not predicted:
            return f"Samples are grouped by their dataset class ({how})."
        others = sorted(set(self.by_model) - set(predicted))
        text = (f"Samples of {', '.join(predicted)} are grouped by the class the model "
                f"predicted ({how}; classes predicted for fewer than {self.min_n} samples "
                f"are pooled as '{OTHER}')")
        if others:
            text += f"; those of {', '.join(others)} by their dataset class"
        return text + "; baselines and precomputed heatmaps keep the dataset class."

    def as_dict(self) -> dict:
        return {"requested": self.requested, "by_model": dict(self.by_model),
                "min_n": self.min_n, "expected_parts": dict(self.expected_parts),
                "text": self.describe()}

    def apply(self, scores: pd.DataFrame) -> pd.DataFrame:
        """``scores`` with ``class_name`` as grouped (a copy; unchanged when every model keeps
        the dataset class)."""
        predicted = self.predicted_models
        if not predicted or scores.empty:
            return scores
        out = scores.copy()
        rows = out["model"].isin(predicted) & (out["predicted_class"].astype(str) != "")
        out.loc[rows, "class_name"] = out.loc[rows, "predicted_class"]
        regrouped = out[rows]
        counts = regrouped.drop_duplicates(SAMPLE).groupby(
            ["model", "method", "class_name"], sort=False).size()
        small = set(counts[counts < self.min_n].index)
        if small:
            keys = zip(regrouped["model"], regrouped["method"], regrouped["class_name"],
                       strict=True)
            pooled = [k in small for k in keys]
            out.loc[regrouped.index[pooled], "class_name"] = OTHER
        return out


def choose_grouping(group_by: str, min_n: int, expected_parts: Mapping[str, Iterable[str]],
                    output_names: Mapping[str, list[str]], class_names: Iterable[str]
                    ) -> Grouping:
    """The grouping of each model: ``output_names`` maps a model to its output names (the
    load stage's ``RunInputs.output_names``), ``class_names`` are the dataset's classes."""
    dataset = set(class_names)
    by_model = {}
    for model, names in output_names.items():
        if group_by == "auto":
            by_model[model] = PREDICTED_CLASS if set(names) != dataset else DATASET_CLASS
        else:
            by_model[model] = group_by
    return Grouping(group_by, by_model, min_n,
                    {c: list(p) for c, p in expected_parts.items()})


def unknown_expected_names(expected_parts: Mapping[str, Iterable[str]],
                           classes: Iterable[str], parts: Iterable[str]
                           ) -> tuple[list[str], list[str]]:
    """(classes, parts) of ``expected_parts`` that are not known: a class must be a dataset
    class or one of a model's output names (``classes``); a part a dataset part or the
    background."""
    known_parts = {*parts, BACKGROUND}
    known_classes = set(classes)
    bad_classes = sorted(c for c in expected_parts if c not in known_classes)
    bad_parts = sorted({p for ps in expected_parts.values() for p in ps} - known_parts)
    return bad_classes, bad_parts


def right_part_facts(grouped: pd.DataFrame, expected_parts: Mapping[str, Iterable[str]],
                     facts: FactTable) -> None:
    """Per model, method and class of ``expected_parts`` (as grouped; baselines left out):

    * ``expected_part.rate``: the share of samples whose top-PH region (the background
      included) is one of the class's expected parts; a tie counts as right when an expected
      part is among the tied top regions; a sample without any expected part in its image
      counts as wrong (its heat cannot be on the part). n: the samples with PH scores.
    * ``expected_part.hits``: how many samples that is; ``expected_part.n``: n.
    * ``expected_part.top_share`` (with ``region``): the share of samples whose top region is
      the most frequent *other* region (where the heat lands instead), when there is one.
    """
    if not expected_parts or grouped.empty:
        return
    ph = grouped[(grouped["metric"] == PH) & (grouped["model"] != BASELINE_MODEL)
                 & grouped["class_name"].isin(list(expected_parts))]
    ph = ph[ph["value"].notna()]
    if ph.empty:
        return
    top = ph.groupby(SAMPLE, sort=False)["value"].transform("max")
    at_top = ph[ph["value"] >= top]
    for (model, method, cls), group in at_top.groupby(["model", "method", "class_name"],
                                                       sort=True):
        wanted = group["region"].isin(list(expected_parts[cls]))
        right = wanted.groupby([group["image_id"], group["object_id"]], sort=False).any()
        n = len(right)
        dims = {"model": model, "method": method, "class": cls}
        hits = int(right.sum())
        facts.add_value(f"{RIGHT_PART}.rate", hits / n, n, "share", "higher", **dims)
        facts.add_value(f"{RIGHT_PART}.hits", hits, n, "count", **dims)
        facts.add_value(f"{RIGHT_PART}.n", n, n, "count", **dims)
        # Where the heat peaks instead: the wrong samples' top regions (first when tied).
        wrong = group[~group.set_index(["image_id", "object_id"]).index.isin(
            right[right].index)]
        firsts = wrong.sort_values("region").drop_duplicates(["image_id", "object_id"])
        if not firsts.empty:
            counts = firsts["region"].value_counts()
            best = sorted(counts.items(), key=lambda rc: (-rc[1], rc[0]))[0]
            facts.add_value(f"{RIGHT_PART}.top_share", best[1] / n, n, "share", "neither",
                            **dims, region=best[0])
