"""Fact placeholders: narrative text names facts (``{{fact:ID}}``), never numbers.

Filling replaces each placeholder with the fact's display string, so every number a reader
sees in the narrative is a fact's. An unknown id is an error, not a blank.
"""

from __future__ import annotations

import re

from reportgen.analysis.facts import FactTable
from reportgen.vocab import PLACEHOLDER, placeholder

__all__ = ["PLACEHOLDER", "fill_placeholders", "placeholder", "referenced_facts"]


def referenced_facts(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def fill_placeholders(text: str, facts: FactTable) -> str:
    """Replace every ``{{fact:ID}}`` by the fact's display string; KeyError on unknown ids."""

    def sub(match: re.Match) -> str:
        fid = match.group(1)
        if fid not in facts:
            raise KeyError(f"narrative refers to unknown fact {fid!r}")
        return facts.display(fid)

    return PLACEHOLDER.sub(sub, text)
