"""Fact ids read back, and the facts table queried by what a fact measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import (
    FactKey,
    FactTable,
    fact_id,
    parse_fact_id,
    split_name,
    stat_fact_id,
)

ROOT = Path(__file__).resolve().parents[2]


def _table() -> FactTable:
    t = FactTable()
    for model, method in (("m2", "gradcam"), ("m1", "gradcam++"), ("m1", "gradcam")):
        for cls in ("all", "fish", "cat"):
            for region in ("head", "background"):
                for stat in ("q2", "n"):
                    t.add_value(f"pqah.ph.{stat}", 0.5, 10, "fraction", model=model,
                                method=method, region=region, **{"class": cls})
    t.add_value("pqah.ph.q2", 0.9, 4, "fraction", model="m1", method="gradcam",
                region="head", subset="correct", **{"class": "all"})
    t.add_value("pqah.ph.q2", 0.1, 10, "fraction", model="baseline", method="random",
                region="head", **{"class": "bird"})
    t.add_value("loc.iou.q2", 0.3, 10, "fraction", model="m3", method="gradcam",
                region="object", **{"class": "all"})
    t.add_value("road.morf@0.3.q2", 0.3, 10, "fraction", model="m1", method="gradcam",
                region="object", **{"class": "all"})
    t.add_value("model.accuracy", 90, 10, "percent", model="m1", method="gradcam")
    t.add_value("run.samples.total", 12, 12, "count")
    return t


# --- ids ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "metric", "stat"), [
    ("pqah.ph.q2", "pqah.ph", "q2"),
    ("road.morf@0.3.q2", "road.morf@0.3", "q2"),
    ("pqah.precision.q2_other_classes", "pqah.precision", "q2_other_classes"),
    ("shortcut.cliffs_delta", "shortcut", "cliffs_delta"),
    ("paired.ph.median_difference", "paired.ph", "median_difference"),
    ("model.accuracy", "model", "accuracy"),
    ("run.samples.total", "run.samples", "total"),
])
def test_a_fact_name_splits_into_metric_and_stat_at_its_last_dot(name, metric, stat):
    assert split_name(name) == (metric, stat)
    fid = fact_id(name, model="m", method="g")
    key = parse_fact_id(fid)
    assert (key.metric, key.stat, key.name) == (metric, stat, name)
    table = FactTable()
    fact = table.add_value(name, 1.0, 1, "count", model="m", method="g")
    assert (fact.metric, fact.stat, fact.name) == (metric, stat, name)


def test_parse_fact_id_reads_the_dimensions_and_round_trips():
    fid = "pqah.ph.q2|model=m|method=gradcam|class=all|region=head|subset=correct"
    key = parse_fact_id(fid)
    assert key == FactKey("pqah.ph", "q2", {"model": "m", "method": "gradcam", "class": "all",
                                           "region": "head", "subset": "correct"})
    assert key.id == fid
    assert parse_fact_id("run.samples.total") == FactKey("run.samples", "total", {})


def test_parse_fact_id_takes_a_pattern_in_any_order_and_rejects_parts_without_equals():
    key = parse_fact_id("pqah.ph.q2|region=head|model=m")
    assert key.dims == {"region": "head", "model": "m"}
    assert key.id == "pqah.ph.q2|model=m|region=head"
    with pytest.raises(ValueError, match="key=value"):
        parse_fact_id("pqah.ph.q2|region")


def test_stat_fact_id_joins_metric_and_stat():
    assert stat_fact_id("pqah.ph", "q2", region="head", model="m", **{"class": "all"}) == \
        "pqah.ph.q2|model=m|class=all|region=head"


# --- queries --------------------------------------------------------------------------------

def test_select_matches_every_argument_given_in_table_order():
    t = _table()
    found = t.select(metric="pqah.ph", stat="q2", model="m1", region="head", class_="all")
    assert [f.id for f in found] == [
        "pqah.ph.q2|model=m1|method=gradcam++|class=all|region=head",
        "pqah.ph.q2|model=m1|method=gradcam|class=all|region=head"]
    assert {f.stat for f in t.select(metric="pqah.ph")} == {"q2", "n"}
    assert [f.id for f in t.select(name="model.accuracy")] == [
        "model.accuracy|model=m1|method=gradcam"]
    assert [f.metric for f in t.select(stat="q2", region="object")] == ["loc.iou",
                                                                       "road.morf@0.3"]
    assert t.select(metric="pqah.ph", stat="q2", where={"colour": "red"}) == []


def test_select_defaults_to_facts_over_all_samples():
    t = _table()
    head = {"metric": "pqah.ph", "stat": "q2", "model": "m1", "method": "gradcam",
            "class_": "all", "region": "head"}
    assert [f.subset for f in t.select(**head)] == ["all"]
    assert [f.subset for f in t.select(**head, subset="correct")] == ["correct"]
    assert sorted(f.subset for f in t.select(**head, subset=None)) == ["all", "correct"]


def test_pairs_are_sorted_real_models_with_ph_medians():
    t = _table()
    assert t.pairs() == [("m1", "gradcam"), ("m1", "gradcam++"), ("m2", "gradcam")]
    assert ("baseline", "random") in t.pairs(baselines=True)
    # metric None: medians of any metric (m3 has only a localisation median)
    assert t.pairs(metric=None) == [("m1", "gradcam"), ("m1", "gradcam++"), ("m2", "gradcam"),
                                    ("m3", "gradcam")]


def test_classes_are_the_scored_classes_without_the_pooled_one_or_baselines():
    assert _table().classes() == ["cat", "fish"]


def test_merged_is_a_new_table_and_leaves_both_unchanged():
    a, b = _table(), FactTable()
    b.add_value("shortcut.p_holm", 0.01, 10, "p-value", model="m1", method="gradcam")
    n = len(a)
    merged = a.merged(b)
    assert len(merged) == n + 1 and len(a) == n and len(b) == 1
    assert merged.select(name="shortcut.p_holm")
    with pytest.raises(ValueError, match="duplicate"):
        a.merged(a)


# --- module boundaries ----------------------------------------------------------------------

def test_vocab_imports_nothing_from_reportgen():
    code = ("import sys; import reportgen.vocab; "
            "print(sorted(m for m in sys.modules if m.startswith('reportgen')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "['reportgen', 'reportgen.vocab']"


def test_only_the_facts_module_splits_fact_ids():
    # Fact.metric / .stat / .name, parse_fact_id and FactTable.select read ids everywhere else.
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "reportgen").rglob("*.py")
                 if 'split("|"' in p.read_text(encoding="utf-8")
                 and p != ROOT / "reportgen" / "analysis" / "facts.py"]
    assert offenders == []


def test_analysis_does_not_import_narrative_or_report():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "reportgen" / "analysis").rglob("*.py")
                 if "reportgen.narrative" in p.read_text(encoding="utf-8")
                 or "reportgen.report" in p.read_text(encoding="utf-8")]
    assert offenders == []
