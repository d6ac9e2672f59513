"""Grouping by the predicted class (analysis.group_by) and the right-part rate of
analysis.expected_parts, on small tables built here."""

from __future__ import annotations

import pandas as pd
import pytest

from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.grouping import (
    DATASET_CLASS,
    OTHER,
    PREDICTED_CLASS,
    Grouping,
    choose_grouping,
    right_part_facts,
    unknown_expected_names,
)
from reportgen.analysis.rules import derive_findings
from reportgen.config import FindingsThresholds
from reportgen.run_record import DatasetInfo, RunRecord
from reportgen.scoring import SCORE_COLUMNS
from reportgen.vocab import BASELINE_MODEL

REGIONS = ("background", "top", "bottoms")


def table(predicted: list[str], top_region: list[str] | None = None, model: str = "m",
          method: str = "gradcam", dataset_class: str = "person") -> pd.DataFrame:
    """One PH row per region for each sample; sample i's heat peaks on top_region[i]."""
    top_region = top_region or ["background"] * len(predicted)
    rows = []
    for i, (pred, top) in enumerate(zip(predicted, top_region, strict=True)):
        for region in REGIONS:
            rows.append({"image_id": f"img{i}", "object_id": 0, "class_name": dataset_class,
                         "target_class": pred, "predicted_class": pred, "correct": pd.NA,
                         "model": model, "method": method, "region": region,
                         "metric": "pqah.ph", "value": 0.8 if region == top else 0.1})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def baseline_rows(n: int) -> pd.DataFrame:
    out = table(["person"] * n, model=BASELINE_MODEL, method="random")
    return out.assign(predicted_class="", target_class="person")


def classes(scores: pd.DataFrame, model: str = "m") -> dict[str, int]:
    per_sample = scores[scores.model == model].drop_duplicates(["image_id", "object_id"])
    return per_sample["class_name"].value_counts().to_dict()


def test_auto_groups_a_model_with_its_own_label_set_by_prediction():
    g = choose_grouping("auto", 10, {}, {"imagenet": ["jean", "kimono", "person?"],
                                         "own": ["bird", "fish"], "reordered": ["fish", "bird"]},
                        ["bird", "fish"])
    assert g.by_model == {"imagenet": PREDICTED_CLASS, "own": DATASET_CLASS,
                          "reordered": DATASET_CLASS}
    assert g.predicted_models == ["imagenet"]
    assert "imagenet" in g.describe() and "chosen automatically" in g.describe()
    forced = choose_grouping("dataset_class", 10, {}, {"imagenet": ["jean"]}, ["person"])
    assert forced.by_model == {"imagenet": DATASET_CLASS}
    assert forced.describe() == "Samples are grouped by their dataset class (set in the config)."


def test_dataset_class_grouping_leaves_the_table_unchanged():
    scores = table(["jean"] * 12)
    for g in (Grouping(), choose_grouping("dataset_class", 1, {}, {"m": ["jean"]}, ["person"])):
        assert g.apply(scores) is scores


def test_predicted_grouping_pools_classes_below_min_n_per_model_and_method():
    scores = pd.concat([table(["jean"] * 4 + ["kimono"] * 2 + ["suit"]),
                        table(["jean"] * 2 + ["kimono"] * 5, method="gradcam++"),
                        baseline_rows(7)], ignore_index=True)
    g = Grouping("predicted_class", {"m": PREDICTED_CLASS}, min_n=3)
    grouped = g.apply(scores)
    cam = grouped[grouped.method == "gradcam"]
    assert classes(cam) == {"jean": 4, OTHER: 3}  # kimono (2) and suit (1) pooled
    plus = grouped[grouped.method == "gradcam++"]
    assert classes(plus) == {"kimono": 5, OTHER: 2}  # the counts are per method
    # Baselines have no prediction: they keep the dataset class.
    assert set(grouped[grouped.model == BASELINE_MODEL].class_name) == {"person"}
    assert set(scores.class_name) == {"person"}  # the input is not changed


def test_rows_without_a_prediction_keep_the_dataset_class():
    scores = table(["jean"] * 3 + [""] * 2)
    grouped = Grouping("predicted_class", {"m": PREDICTED_CLASS}, min_n=1).apply(scores)
    assert classes(grouped) == {"jean": 3, "person": 2}


def test_right_part_rate_is_the_share_of_samples_whose_top_region_is_expected():
    # jean: 3 of 4 samples peak on the bottoms; kimono: 1 of 2 peaks on the top, 1 ties
    # between the top and the background (counted right); trench coat is never predicted.
    scores = pd.concat([table(["jean"] * 4, ["bottoms", "bottoms", "background", "bottoms"]),
                        table(["kimono"] * 2, ["top", "background"]).assign(
                            image_id=lambda d: d.image_id + "k")], ignore_index=True)
    tie = (scores.image_id == "img1k") & (scores.region == "top")
    scores.loc[tie, "value"] = 0.8
    g = Grouping("predicted_class", {"m": PREDICTED_CLASS}, min_n=1,
                 expected_parts={"jean": ["bottoms"], "kimono": ["top", "dress"],
                                 "trench coat": ["outerwear"]})
    facts = FactTable()
    right_part_facts(g.apply(scores), g.expected_parts, facts)
    dims = {"model": "m", "method": "gradcam"}
    jean = facts[fact_id("expected_part.rate", **dims, **{"class": "jean"})]
    assert (jean.value, jean.n, jean.display) == (0.75, 4, "75 %")
    assert facts[fact_id("expected_part.hits", **dims, **{"class": "jean"})].value == 3
    instead = facts[fact_id("expected_part.top_share", **dims, **{"class": "jean"},
                            region="background")]
    assert (instead.value, instead.n) == (0.25, 4)
    kimono = facts[fact_id("expected_part.rate", **dims, **{"class": "kimono"})]
    assert (kimono.value, kimono.n) == (1.0, 2)
    assert not facts.select(metric="expected_part", class_="trench coat", stat=None)


def test_right_part_rate_leaves_baselines_out_and_needs_a_map():
    scores = pd.concat([table(["person"] * 3, ["top"] * 3), baseline_rows(3)])
    facts = FactTable()
    right_part_facts(scores, {}, facts)
    assert len(facts) == 0
    right_part_facts(scores, {"person": ["top"]}, facts)
    assert [f.dims["model"] for f in facts.select(metric="expected_part", stat="rate")] == ["m"]


def _wrong_part_findings(hits: int, n: int, min_n: int = 10):
    tops = ["bottoms"] * hits + ["background"] * (n - hits)
    scores = table(["jean"] * n, tops)
    g = Grouping("predicted_class", {"m": PREDICTED_CLASS}, min_n=1,
                 expected_parts={"jean": ["bottoms"]})
    facts = FactTable()
    right_part_facts(g.apply(scores), g.expected_parts, facts)
    result = derive_findings(g.apply(scores), facts, FindingsThresholds(min_n=min_n),
                             rules=["wrong_part"])
    return result.findings, facts


def test_wrong_part_fires_below_half_with_enough_samples():
    (finding,), facts = _wrong_part_findings(hits=4, n=12)
    assert finding.kind == "wrong_part" and finding.severity == "medium"
    assert finding.subject == {"model": "m", "method": "gradcam", "class": "jean"}
    assert "background" in finding.statement and "{{fact:expected_part.rate|" in finding.statement
    assert all(e in facts for e in finding.evidence)


@pytest.mark.parametrize(("hits", "n"), [(6, 12), (10, 12), (2, 5)])
def test_wrong_part_is_quiet_at_half_or_above_or_below_min_n(hits, n):
    findings, _ = _wrong_part_findings(hits=hits, n=n)
    assert findings == []


def test_unknown_expected_names_are_named():
    bad = unknown_expected_names({"jean": ["bottoms", "pockets"], "unicorn": ["background"]},
                                 ["person", "jean"], ["top", "bottoms"])
    assert bad == (["unicorn"], ["pockets"])


def test_run_record_reads_records_without_grouping():
    old = RunRecord(DatasetInfo("d")).to_dict()
    del old["grouping"]
    assert RunRecord.from_dict(old).grouping == {}
    g = Grouping("auto", {"m": PREDICTED_CLASS}, 5)
    record = RunRecord(DatasetInfo("d"), grouping=g.as_dict())
    assert RunRecord.from_dict(record.to_dict()).grouping["by_model"] == {"m": PREDICTED_CLASS}


def test_load_stage_rejects_unknown_expected_names_with_a_config_error():
    from reportgen.errors import ConfigError
    from reportgen.stages.load import check_expected_parts

    check_expected_parts({"jean": ["bottoms", "background"]}, ["person"], {"m": ["jean"]},
                         ["bottoms"])
    with pytest.raises(ConfigError, match=r"\['unicorn'\].*\['pockets'\]"):
        check_expected_parts({"unicorn": ["pockets"]}, ["person"], {"m": ["jean"]}, ["bottoms"])
