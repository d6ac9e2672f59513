"""The facts table: ids, display strings, (de)serialisation and facts from statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import (
    COUNT_STATS,
    SCHEMA_VERSION,
    Fact,
    FactTable,
    fact_id,
    facts_from_statistics,
    format_value,
)
from reportgen.analysis.stats import STAT_COLUMNS, group_statistics
from reportgen.metrics.registry import get_metric
from reportgen.scoring import SCORE_COLUMNS


def _scores(seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cls in ("cat", "fish"):
        for i in range(5):
            for region in ("background", "head", "body"):
                for metric in ("pqah.ph", "pqah.precision", "pqah.recall"):
                    rows.append({
                        "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                        "target_class": cls, "predicted_class": cls, "correct": True,
                        "model": "partnet", "method": "gradcam", "region": region,
                        "metric": metric, "value": float(rng.random()),
                    })
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def _some_facts() -> list[Fact]:
    table = FactTable()
    table.add_value("pqah.ph.q2", 0.4321, 12, "fraction", "higher", model="m", method="g",
                    region="head", **{"class": "all"})
    table.add_value("run.samples.total", 1234, 1234, "count")
    table.add_value("model.accuracy", 87.25, 40, "percent", "higher", model="m", method="g")
    table.add_value("run.time", 3.14159, 1, "seconds")
    return list(table)


# --- ids and formatting ---------------------------------------------------------------------

def test_fact_id_orders_dimensions_model_method_class_region():
    fid = fact_id("pqah.ph.q2", region="head", method="gradcam", model="partnet",
                  **{"class": "all"})
    assert fid == "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head"


def test_fact_id_puts_unknown_dimensions_sorted_after_the_known_ones():
    assert fact_id("x", zeta="1", region="r", alpha="2", model="m") == \
        "x|model=m|region=r|alpha=2|zeta=1"


def test_fact_id_without_dimensions_is_the_name():
    assert fact_id("run.samples.total") == "run.samples.total"


def test_format_value_fraction_has_two_decimals():
    assert format_value(0.4267, "fraction") == "0.43"
    assert format_value(1.0, "fraction") == "1.00"


def test_format_value_percent_has_one_decimal_and_a_percent_sign():
    assert format_value(43.04, "percent") == "43.0 %"
    assert format_value(100.0, "percent") == "100.0 %"


def test_format_value_count_is_an_integer_with_thousands_separators():
    assert format_value(7, "count") == "7"
    assert format_value(1234567.0, "count") == "1,234,567"


def test_format_value_seconds_has_one_decimal_and_unit():
    assert format_value(2.345, "seconds") == "2.3 s"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_fact_rejects_non_finite_values(value):
    with pytest.raises(ValueError, match="not finite"):
        Fact("x", value, 1, "fraction", "higher", "nan")
    with pytest.raises(ValueError, match="not finite"):
        FactTable().add_value("x", value, 1, "fraction")


# --- the table ------------------------------------------------------------------------------

def test_add_value_stores_display_dims_and_id():
    table = FactTable()
    fact = table.add_value("pqah.ph.q2", 0.4321, 12, "fraction", "higher", model="m",
                           method="g", region="head", **{"class": "all"})
    fid = "pqah.ph.q2|model=m|method=g|class=all|region=head"
    assert fact.id == fid
    assert fid in table
    assert table[fid] is fact
    assert table.display(fid) == "0.43"
    assert fact.n == 12
    assert fact.direction == "higher"
    assert fact.dims == {"model": "m", "method": "g", "region": "head", "class": "all"}
    assert len(table) == 1


def test_fact_table_rejects_duplicate_ids():
    table = FactTable()
    table.add_value("run.samples.total", 3, 3, "count")
    with pytest.raises(ValueError, match="duplicate"):
        table.add_value("run.samples.total", 4, 4, "count")
    facts = _some_facts()
    with pytest.raises(ValueError, match="duplicate"):
        FactTable([*facts, facts[0]])


def test_fact_table_round_trips_through_to_dict_and_from_dict():
    table = FactTable(_some_facts())
    data = json.loads(json.dumps(table.to_dict()))
    again = FactTable.from_dict(data)
    assert sorted(again, key=lambda f: f.id) == sorted(table, key=lambda f: f.id)
    assert again.to_dict() == table.to_dict()
    assert again.display("model.accuracy|model=m|method=g") == "87.2 %"


@pytest.mark.parametrize("version", ["0.9", "2.0", None])
def test_from_dict_rejects_a_wrong_schema_version(version):
    data = FactTable(_some_facts()).to_dict()
    if version is None:
        del data["schema_version"]
    else:
        data["schema_version"] = version
    with pytest.raises(ValueError, match="schema"):
        FactTable.from_dict(data)


def test_to_dict_is_sorted_by_id_and_has_the_schema_version():
    data = FactTable(_some_facts()).to_dict()
    assert data["schema_version"] == SCHEMA_VERSION
    ids = [f["id"] for f in data["facts"]]
    assert ids == sorted(ids)
    assert len(ids) == 4


def test_to_dict_json_is_byte_identical_for_different_insertion_orders():
    facts = _some_facts()
    a = json.dumps(FactTable(facts).to_dict())
    b = json.dumps(FactTable(reversed(facts)).to_dict())
    assert [f.id for f in FactTable(facts)] != [f.id for f in FactTable(reversed(facts))]
    assert a.encode() == b.encode()


# --- facts from statistics ------------------------------------------------------------------

def test_facts_from_statistics_makes_one_fact_per_stat_per_group():
    stats = group_statistics(_scores())
    facts = facts_from_statistics(stats)
    # (2 classes + all) x 3 regions x 3 metrics, for all samples
    assert len(stats[stats.subset == "all"]) == 3 * 3 * 3
    assert len(facts) == len(stats) * len(STAT_COLUMNS)
    for row in stats[stats.subset == "all"].itertuples(index=False):
        dims = {"model": row.model, "method": row.method, "class": row.class_name,
                "region": row.region}
        for stat in STAT_COLUMNS:
            fact = facts[fact_id(f"{row.metric}.{stat}", **dims)]
            assert fact.value == pytest.approx(float(getattr(row, stat)))
            assert fact.n == row.n
            assert fact.dims == dims


def test_facts_from_statistics_n_is_the_group_n():
    stats = group_statistics(_scores())
    facts = facts_from_statistics(stats)
    fid = "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head"
    assert facts[fid].n == 10
    assert facts["pqah.ph.q2|model=partnet|method=gradcam|class=cat|region=head"].n == 5
    assert facts["pqah.ph.n|model=partnet|method=gradcam|class=all|region=head"].value == 10
    assert facts.display("pqah.ph.n|model=partnet|method=gradcam|class=all|region=head") == "10"


def test_facts_from_statistics_takes_unit_and_direction_from_the_registry():
    stats = group_statistics(_scores())
    facts = facts_from_statistics(stats)
    for metric in ("pqah.ph", "pqah.precision", "pqah.recall"):
        info = get_metric(metric)
        dims = {"model": "partnet", "method": "gradcam", "class": "all", "region": "body"}
        for stat in STAT_COLUMNS:
            fact = facts[fact_id(f"{metric}.{stat}", **dims)]
            if stat in COUNT_STATS:
                assert (fact.unit, fact.direction) == ("count", "neither")
            elif stat in ("iqr", "std"):  # a spread is neither better nor worse
                assert (fact.unit, fact.direction) == (info.unit, "neither")
            else:
                assert (fact.unit, fact.direction) == (info.unit, info.direction)
            assert fact.display == format_value(fact.value, fact.unit)
    assert get_metric("pqah.ph").unit == "fraction"
    assert get_metric("pqah.ph").direction == "higher"


def test_facts_from_statistics_fills_the_table_it_is_given():
    stats = group_statistics(_scores())
    table = FactTable()
    returned = facts_from_statistics(stats, table)
    assert returned is table
    assert len(table) == len(stats) * len(STAT_COLUMNS)


def test_facts_from_statistics_adds_to_a_table_with_facts():
    stats = group_statistics(_scores())
    table = FactTable()
    table.add_value("run.samples.total", 10, 10, "count")
    returned = facts_from_statistics(stats, table)
    assert returned is table
    assert len(table) == 1 + len(stats) * len(STAT_COLUMNS)


def test_facts_from_empty_statistics_is_an_empty_table():
    facts = facts_from_statistics(group_statistics(_scores().iloc[:0]))
    assert len(facts) == 0
    assert facts.to_dict() == {"schema_version": SCHEMA_VERSION, "facts": []}
