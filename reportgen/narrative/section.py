"""One written section of the report and its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NarrativeSection:
    """``text`` holds fact placeholders, never literal numbers; ``writer`` is ``template`` or
    an LLM's model id; ``guard`` is the guard's verdict (``not needed`` for the template)."""

    section: str
    title: str
    text: str
    writer: str
    guard: str = "not needed"
    fact_ids: list[str] = field(default_factory=list)
    audience: str = "end user"
