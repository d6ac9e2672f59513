"""Narrative: writers that phrase the facts, and the placeholder filling that keeps numbers true."""

from reportgen.narrative.placeholders import fill_placeholders, placeholder
from reportgen.narrative.section import NarrativeSection
from reportgen.narrative.template_writer import TemplateWriter

__all__ = ["NarrativeSection", "TemplateWriter", "fill_placeholders", "placeholder"]
