"""The report's counterfactual tables: the background swap per model and class, and part
removal beside PH per part. Every cell is a fact (id + display) with its sample count."""

from __future__ import annotations

from typing import Any

from reportgen.analysis.facts import FactTable, stat_fact_id
from reportgen.vocab import ALL_CLASSES, OBJECT, PART_REMOVAL_METHOD, SWAP_METHOD

SWAP_COLUMNS = (("swap.original.accuracy", "unmodified"), ("swap.only_fg.accuracy", "Only-FG"),
                ("swap.no_fg.accuracy", "No-FG"), ("swap.mixed_same.accuracy", "Mixed-Same"),
                ("swap.mixed_rand.accuracy", "Mixed-Rand"), ("swap.bg_gap", "BG-gap"))
PART_DROP, PH = "part.removal_drop", "pqah.ph"


def _cell(facts: FactTable, fid: str) -> dict[str, str]:
    return {"id": fid, "display": facts.display(fid)} if fid in facts else {"id": "",
                                                                              "display": "–"}


def swap_table(facts: FactTable) -> list[dict[str, Any]]:
    """Rows (model, class; "all" last per model) of mean accuracies per variant and the BG-gap,
    with n (the samples tested). Empty when the test did not run."""
    keys = sorted({(f.dims["model"], f.dims["class"])
                   for f in facts.select(metric="swap.bg_gap", stat="mean")},
                  key=lambda mc: (mc[0], mc[1] == ALL_CLASSES, mc[1]))
    rows = []
    for model, cls in keys:
        dims = {"model": model, "method": SWAP_METHOD, "class": cls, "region": OBJECT}
        rows.append({"model": model, "class": cls,
                     "cells": [_cell(facts, stat_fact_id(m, "mean", **dims))
                               for m, _ in SWAP_COLUMNS],
                     "n": _cell(facts, stat_fact_id("swap.original.accuracy", "n", **dims))})
    return rows


def part_removal_table(facts: FactTable, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Rows (model, part) over all classes: the median drop when the part is removed, then the
    median PH of each of the model's methods in ``pairs``. Empty when not run."""
    drops = facts.select(metric=PART_DROP, stat="q2", method=PART_REMOVAL_METHOD,
                         class_=ALL_CLASSES)
    rows = []
    for f in sorted(drops, key=lambda f: (f.dims["model"], -f.value, f.dims["region"])):
        model, part = f.dims["model"], f.dims["region"]
        n = stat_fact_id(PART_DROP, "n", **f.dims)
        ph = [_cell(facts, stat_fact_id(PH, "q2", model=model, method=method,
                                        **{"class": ALL_CLASSES}, region=part))
              for m, method in pairs if m == model]
        rows.append({"model": model, "part": part, "drop": _cell(facts, f.id),
                     "n": _cell(facts, n), "ph": ph,
                     "methods": [method for m, method in pairs if m == model]})
    return rows
