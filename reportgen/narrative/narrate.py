"""The narrative stage's entry point: ``write_narrative(facts, findings, config)``.

It writes every section (``sections.SECTIONS``) for every configured audience with the
configured writer and returns the sections with their provenance, the token usage per section
and per run, and the prompt templates' hashes, ready for narrative.json and run.json.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.config import NarrativeSettings
from reportgen.narrative.cache import CachedChat, ResponseCache
from reportgen.narrative.chat import ChatBackend
from reportgen.narrative.llm_writer import LLMWriter
from reportgen.narrative.paragraph_writer import ParagraphWriter
from reportgen.narrative.prompts import template_hashes
from reportgen.narrative.sections import SECTION_IDS
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.narrative.writers import build_backend
from reportgen.narrative.written import NarrativeSection

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "calls", "cache_hits")


class SectionWriter(Protocol):
    """What every writer does: one section for one audience, from facts and findings."""

    name: str

    def write_section(self, section: str, facts: FactTable, findings: Sequence[Finding] = (),
                      audience: str = "end user") -> NarrativeSection: ...


@dataclass
class NarrativeResult:
    """The written sections with the settings, seed and mode that wrote them."""

    sections: list[NarrativeSection]
    settings: NarrativeSettings
    seed: int = 0
    replay: bool = False
    wall_s: float = 0.0
    prompt_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def usage(self) -> dict[str, int]:
        """Token usage, calls and cache hits summed over the sections."""
        return {k: sum(s.usage.get(k, 0) for s in self.sections) for k in USAGE_KEYS}

    def run_info(self) -> dict:
        """The narrative's entry in run.json (no secret: the settings hold none)."""
        return {
            "writer": self.settings.writer,
            "config": self.settings.public_dict(),
            "seed": self.seed,
            "replayed": self.replay,
            "wall_s": round(self.wall_s, 3),
            "usage": self.usage,
            "prompt_templates": self.prompt_hashes,
            "sections": [{"section": s.section, "audience": s.audience, "writer": s.writer,
                          "model": s.model, "attempts": s.attempts, "guard": s.guard,
                          "prompt_hash": s.prompt_hash, "usage": s.usage}
                         for s in self.sections],
        }


def _model_id(settings: NarrativeSettings) -> str:
    if settings.model:
        return settings.model
    if settings.writer == "local":
        from reportgen.narrative.local_chat import default_model_path
        return Path(settings.model_path or default_model_path()).stem
    raise ValueError(f"the {settings.writer} writer needs a model name")


def make_writer(settings: NarrativeSettings | None = None, chat: ChatBackend | None = None, *,
                seed: int = 0, cache_dir: Path | None = None, replay: bool = False
                ) -> SectionWriter:
    """The writer ``settings`` asks for; ``chat`` replaces the backend it would build.

    ``cache_dir``: the LLM response cache (None: none); ``replay``: answer only from that
    cache and never build a client (no key, no network, no model file): a miss gives the
    template text for that section.
    """
    settings = settings or NarrativeSettings()
    if settings.writer == "template":
        return TemplateWriter()
    if replay and cache_dir is None:
        raise ValueError("replay needs a cache_dir to replay from")
    if chat is None and not replay:
        chat = build_backend(settings.writer, settings, seed)
    if cache_dir is not None:
        model = chat.model if chat is not None else _model_id(settings)
        chat = CachedChat(chat, ResponseCache(cache_dir), model, replay)
    writer = ParagraphWriter if writes_paragraphs(settings) else LLMWriter
    return writer(settings.writer, chat, settings.sampling_params(seed),
                  settings.guard_retries)


def writes_paragraphs(settings: NarrativeSettings) -> bool:
    """Whether an LLM writes per paragraph (``unit``; auto: the local writer does)."""
    unit = settings.unit
    return unit == "paragraph" or (unit == "auto" and settings.writer == "local")


def write_narrative(facts: FactTable, findings: Sequence[Finding],
                    settings: NarrativeSettings | None = None,
                    writer: SectionWriter | None = None, *, seed: int = 0,
                    cache_dir: Path | None = None, replay: bool = False) -> NarrativeResult:
    """Every section for every audience of ``settings`` (default: template, end user)."""
    settings = settings or NarrativeSettings()
    start = time.perf_counter()
    writer = writer or make_writer(settings, seed=seed, cache_dir=cache_dir, replay=replay)
    sections = [writer.write_section(section, facts, findings, audience)
                for audience in settings.audiences for section in SECTION_IDS]
    hashes = template_hashes() if settings.writer != "template" else {}
    return NarrativeResult(sections, settings, seed, replay, time.perf_counter() - start,
                           hashes)
