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
from reportgen.narrative.cache import CachedChat, ResponseCache
from reportgen.narrative.chat import ChatBackend
from reportgen.narrative.config import NarrativeConfig
from reportgen.narrative.llm_writer import LLMWriter
from reportgen.narrative.prompts import template_hashes
from reportgen.narrative.section import NarrativeSection
from reportgen.narrative.sections import SECTION_IDS
from reportgen.narrative.template_writer import TemplateWriter

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "calls", "cache_hits")


class SectionWriter(Protocol):
    """What every writer does: one section for one audience, from facts and findings."""

    name: str

    def write_section(self, section: str, facts: FactTable, findings: Sequence[Finding] = (),
                      audience: str = "end user") -> NarrativeSection: ...


@dataclass
class NarrativeResult:
    sections: list[NarrativeSection]
    config: NarrativeConfig
    wall_s: float = 0.0
    prompt_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def usage(self) -> dict[str, int]:
        """Token usage, calls and cache hits summed over the sections."""
        return {k: sum(s.usage.get(k, 0) for s in self.sections) for k in USAGE_KEYS}

    def run_info(self) -> dict:
        """The narrative's entry in run.json (no secret: the config holds none)."""
        return {
            "writer": self.config.writer,
            "config": self.config.to_dict(),
            "wall_s": round(self.wall_s, 3),
            "usage": self.usage,
            "prompt_templates": self.prompt_hashes,
            "sections": [{"section": s.section, "audience": s.audience, "writer": s.writer,
                          "model": s.model, "attempts": s.attempts, "guard": s.guard,
                          "prompt_hash": s.prompt_hash, "usage": s.usage}
                         for s in self.sections],
        }


def _chat_backend(config: NarrativeConfig) -> ChatBackend | None:
    if config.replay:
        return None  # replay never builds a client: no key, no network, no model file
    if config.writer == "openai":
        from reportgen.narrative.openai_chat import OpenAIChat
        return OpenAIChat(config)
    from reportgen.narrative.local_chat import LlamaCppChat
    return LlamaCppChat(config)


def _model_id(config: NarrativeConfig) -> str:
    if config.model:
        return config.model
    if config.writer == "local":
        from reportgen.narrative.local_chat import default_model_path
        return Path(config.model_path or default_model_path()).stem
    raise ValueError("the openai writer needs a model name")


def make_writer(config: NarrativeConfig, chat: ChatBackend | None = None) -> SectionWriter:
    """The writer ``config`` asks for; ``chat`` replaces the backend it would build."""
    if config.writer == "template":
        return TemplateWriter()
    chat = chat if chat is not None else _chat_backend(config)
    if config.cache_dir is not None:
        model = chat.model if chat is not None else _model_id(config)
        chat = CachedChat(chat, ResponseCache(config.cache_dir), model, config.replay)
    return LLMWriter(config.writer, chat, config.sampling_params(), config.guard_retries)


def write_narrative(facts: FactTable, findings: Sequence[Finding],
                    config: NarrativeConfig | None = None,
                    writer: SectionWriter | None = None) -> NarrativeResult:
    """Every section for every audience of ``config`` (default: template, end user)."""
    config = config or NarrativeConfig()
    start = time.perf_counter()
    writer = writer or make_writer(config)
    sections = [writer.write_section(section, facts, findings, audience)
                for audience in config.audiences for section in SECTION_IDS]
    hashes = template_hashes() if config.writer != "template" else {}
    return NarrativeResult(sections, config, time.perf_counter() - start, hashes)
