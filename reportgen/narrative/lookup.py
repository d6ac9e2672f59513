"""Finding the facts a narrative talks about: model/method pairs, classes, part medians.

Only facts a placeholder can hold are talked about: over all samples, of a real model (not a
baseline), with an id free of braces (a name with braces would break ``{{fact:ID}}``).
"""

from __future__ import annotations

from reportgen.analysis.facts import Fact, FactTable, stat_fact_id
from reportgen.vocab import BACKGROUND, BASELINE_MODEL


def _placeable(*names: str) -> bool:
    return not any("{" in name or "}" in name for name in names)


def is_main_fact(fact: Fact) -> bool:
    """A fact over all samples of a real model (not a subset, not a baseline) whose id a
    placeholder can hold (a name with braces would break ``{{fact:ID}}``)."""
    return ("subset" not in fact.dims and fact.dims.get("model") != BASELINE_MODEL
            and _placeable(fact.id))


def pairs(facts: FactTable) -> list[tuple[str, str]]:
    """The (model, method) pairs with PH medians, sorted (``FactTable.pairs``, without names
    a placeholder cannot hold)."""
    return [p for p in facts.pairs() if _placeable(*p)]


def classes(facts: FactTable) -> list[str]:
    """The classes with PH medians (not the pooled ``all``), sorted."""
    return [c for c in facts.classes() if _placeable(c)]


def medians(facts: FactTable, metric: str, model: str, method: str, cls: str) -> list[Fact]:
    """The median (q2) facts of ``metric`` for every region of (model, method, class)."""
    return [f for f in facts.select(metric=metric, stat="q2", model=model, method=method,
                                    class_=cls) if is_main_fact(f)]


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
    fid = stat_fact_id("pqah.precision", "q2", model=model, method=method, region=BACKGROUND,
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
