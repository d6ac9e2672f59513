"""Narrate: the report's sections, written by the configured writer (template or LLM + guard).

The LLM response cache lives in the run directory (``cache/llm``) when caching is on, so a
re-run or ``reportgen render --llm-replay`` answers from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.config import NarrativeSettings
from reportgen.narrative.narrate import NarrativeResult, write_narrative

LLM_CACHE = Path("cache") / "llm"  # inside the run directory


def narrate(facts: FactTable, findings: Sequence[Finding], settings: NarrativeSettings,
            out_dir: Path, *, seed: int, cache: bool = True, replay: bool = False
            ) -> NarrativeResult:
    """Every section for every audience of ``settings``; ``replay`` answers only from the
    run's response cache (no LLM call; a miss gets the template text)."""
    cache_dir = Path(out_dir) / LLM_CACHE if cache or replay else None
    return write_narrative(facts, findings, settings, seed=seed, cache_dir=cache_dir,
                           replay=replay)
