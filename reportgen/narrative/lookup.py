"""Finding the facts a narrative talks about: model/method pairs, classes, part medians."""

from __future__ import annotations

from reportgen.analysis.facts import Fact, FactTable, fact_id
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.data.sample import BACKGROUND

BASELINE_MODEL = "baseline"  # the findings rules' pseudo-model of the random / centre baselines


def is_main_fact(fact: Fact) -> bool:
    """A fact over all samples of a real model (not a subset, not a baseline) whose id a
    placeholder can hold (a name with braces would break ``{{fact:ID}}``)."""
    return ("subset" not in fact.dims and fact.dims.get("model") != BASELINE_MODEL
            and "{" not in fact.id and "}" not in fact.id)


def pairs(facts: FactTable) -> list[tuple[str, str]]:
    """The (model, method) pairs with PH medians, sorted."""
    return sorted({(f.dims["model"], f.dims["method"]) for f in facts
                   if f.id.startswith("pqah.ph.q2|") and is_main_fact(f)})


def classes(facts: FactTable) -> list[str]:
    """The classes with PH medians (not the pooled ``all``), sorted."""
    return sorted({f.dims["class"] for f in facts
                   if f.id.startswith("pqah.ph.q2|") and is_main_fact(f)
                   and f.dims["class"] != ALL_CLASSES})


def medians(facts: FactTable, metric: str, model: str, method: str, cls: str) -> list[Fact]:
    """The median (q2) facts of ``metric`` for every region of (model, method, class)."""
    return [f for f in facts
            if f.id.startswith(f"{metric}.q2|") and is_main_fact(f) and f.dims.get("model") == model
            and f.dims.get("method") == method and f.dims.get("class") == cls]


def most_and_least(facts: FactTable, model: str, method: str, cls: str
                   ) -> tuple[Fact, Fact] | None:
    """The parts with the highest and lowest median PH (ties broken by id)."""
    parts = [f for f in medians(facts, "pqah.ph", model, method, cls)
             if f.dims["region"] != BACKGROUND]
    if not parts:
        return None
    return (max(parts, key=lambda f: (f.value, f.id)), min(parts, key=lambda f: (f.value, f.id)))


def background_share(facts: FactTable, model: str, method: str, cls: str) -> Fact | None:
    """The median heat share on the background, when it was scored."""
    fid = fact_id("pqah.precision.q2", model=model, method=method, region=BACKGROUND,
                  **{"class": cls})
    if fid not in facts:
        return None
    return facts[fid]


def overview(facts: FactTable, cls: str) -> list[Fact]:
    """Per pair: the most and least overlapped parts and the background share of ``cls``."""
    out: list[Fact] = []
    for model, method in pairs(facts):
        extremes = most_and_least(facts, model, method, cls)
        out += list(extremes or ())
        share = background_share(facts, model, method, cls)
        out += [share] if share else []
    return out
