"""One written section of the report and its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NarrativeSection:
    """``text`` holds fact placeholders, never literal numbers; ``writer`` is the writer that
    produced the text (``template``, ``openai`` or ``local``); ``guard`` is the guard's verdict
    (``not needed`` for the template writer by choice).

    LLM provenance: ``model`` (the LLM's model id, also on a template fallback), ``attempts``
    (LLM generations tried), ``guard_reasons`` (why drafts were rejected), ``prompt_hash``
    (sha256 of the prompt templates used) and ``usage`` (token counts, calls, cache hits).
    ``paragraph_writers``: per paragraph, who wrote it (the paragraph writer's LLM name, or
    ``template`` where its note failed and the template's paragraph stands alone); empty for
    writers that write the section as a whole.
    """

    section: str
    title: str
    text: str
    writer: str
    guard: str = "not needed"
    fact_ids: list[str] = field(default_factory=list)
    audience: str = "end user"
    model: str = ""
    attempts: int = 0
    guard_reasons: list[str] = field(default_factory=list)
    prompt_hash: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    paragraph_writers: list[str] = field(default_factory=list)

    @property
    def provenance(self) -> str:
        """One line for the report: who wrote the section and what the guard said."""
        if self.writer == "template" and not self.model:
            return "Written by the template writer."
        who = (f"the {self.writer} writer ({self.model})" if self.writer != "template"
               else "the template writer")
        tries = f"{self.attempts} LLM attempt{'s' if self.attempts != 1 else ''}"
        if self.writer != "template" and self.paragraph_writers:
            who = (f"the template writer, with notes by the {self.writer} writer "
                   f"({self.model})")
        return f"Written by {who}; guard: {self.guard}; {tries}."
