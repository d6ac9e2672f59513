"""Narrative: writers that phrase the facts and findings, the guard that keeps numbers true.

Entry point: ``write_narrative(facts, findings, settings, seed=..., cache_dir=...)`` with the
run config's ``NarrativeSettings``. Writers (``template``,
``openai``, ``local``) share ``write_section``; LLM drafts pass ``guard.check_text`` or fall
back to the template writer: per section (``llm_writer``, for large models) or per paragraph
(``paragraph_writer``, for small models: the template's paragraph kept, a grammar-bound note
added; ``narrative.unit``).
"""

from reportgen.narrative.guard import GuardContext, GuardVerdict, check_text
from reportgen.narrative.narrate import NarrativeResult, SectionWriter, make_writer, write_narrative
from reportgen.narrative.placeholders import fill_placeholders, placeholder
from reportgen.narrative.sections import SECTION_IDS, SECTIONS
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.narrative.writers import WRITERS, writer_names
from reportgen.narrative.written import NarrativeSection

__all__ = ["SECTIONS", "SECTION_IDS", "WRITERS", "GuardContext", "GuardVerdict",
           "NarrativeResult", "NarrativeSection", "SectionWriter",
           "TemplateWriter", "check_text", "fill_placeholders", "make_writer", "placeholder",
           "write_narrative", "writer_names"]
