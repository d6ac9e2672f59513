"""Fact placeholders: narrative text names facts (``{{fact:ID}}``), never numbers.

Filling replaces each placeholder with the fact's display string, so every number a reader
sees in the narrative is a fact's. An unknown id is an error, not a blank.

Display precision per audience: the facts table's ``display`` is the full precision (tables,
the model card, the bias reviewer). The end user reads the *reading* precision: percentages
and seconds rounded to whole numbers ("94 %" for "94.3 %"); counts, shares (already whole
percent), fractions (two decimals) and p-values keep their display. The guard checks the
placeholders and the values, never the shown strings, so it accepts a text whatever the
precision it is later filled with.
"""

from __future__ import annotations

import re

from reportgen.analysis.facts import Fact, FactTable
from reportgen.vocab import PLACEHOLDER, placeholder

__all__ = ["AUDIENCE_PRECISION", "PLACEHOLDER", "fill_placeholders", "placeholder",
           "precision_of", "reading_display", "referenced_facts", "shown"]

FULL, READING = "full", "reading"
# An audience not listed reads the full precision.
AUDIENCE_PRECISION = {"end user": READING, "model card": FULL, "bias reviewer": FULL}


def referenced_facts(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def precision_of(audience: str | None) -> str:
    """The display precision of ``audience`` (None: full)."""
    return AUDIENCE_PRECISION.get(audience or "", FULL)


def reading_display(fact: Fact) -> str:
    """``fact`` rounded for reading: "94 %" for a percent of 94.3, "12 s" for 12.4 seconds;
    every other unit keeps its display string (a count is exact; a share is already a whole
    percent; a fraction keeps two decimals, "0.25", since rounding it would say 0). A percent
    that would round to 0 or 100 without being it keeps its full display ("99.5 %")."""
    if fact.unit not in ("percent", "seconds"):
        return fact.display
    whole = f"{fact.value:.0f}"
    if fact.unit == "percent" and whole in ("0", "100") and fact.value not in (0, 100):
        return fact.display  # 99.5 % is not 100 %: the full display keeps it apart
    return f"{whole} %" if fact.unit == "percent" else f"{whole} s"


def shown(fact: Fact, precision: str = FULL) -> str:
    """The string a reader of ``precision`` (``full`` or ``reading``) sees for ``fact``."""
    return reading_display(fact) if precision == READING else fact.display


def fill_placeholders(text: str, facts: FactTable, audience: str | None = None) -> str:
    """Replace every ``{{fact:ID}}`` by the fact's display string at ``audience``'s
    precision (None: the full display); KeyError on unknown ids."""
    precision = precision_of(audience)

    def sub(match: re.Match) -> str:
        fid = match.group(1)
        if fid not in facts:
            raise KeyError(f"narrative refers to unknown fact {fid!r}")
        return shown(facts[fid], precision)

    return PLACEHOLDER.sub(sub, text)
