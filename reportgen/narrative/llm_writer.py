"""The guarded LLM writer: draft, check, retry with the guard's reasons, else the template.

Per section it records the writer, the model id, the attempts, the guard's verdict and
reasons, the prompt templates' hash and the token usage. After an LLM failure that retries
cannot fix (credentials, retries spent) it stops calling the LLM for the rest of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.chat import (
    ChatBackend,
    InvalidResponse,
    LLMUnavailable,
    ReplayMiss,
    parse_answer,
)
from reportgen.narrative.guard import check_text
from reportgen.narrative.placeholders import referenced_facts
from reportgen.narrative.prompts import build_prompt
from reportgen.narrative.sections import get_section
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.narrative.written import NarrativeSection

log = logging.getLogger(__name__)


class ChatWriter:
    """What the LLM writers share: ``name`` (``openai`` or ``local``), the ``chat`` backend,
    its sampling ``params``, the guard's retries, the template ``fallback``, and ``stopped``
    (why the LLM is no longer called this run, or None)."""

    def __init__(self, name: str, chat: ChatBackend, params: dict, guard_retries: int = 2,
                 fallback: TemplateWriter | None = None):
        self.name = name
        self.chat = chat
        self.params = params
        self.guard_retries = guard_retries
        self.fallback = fallback or TemplateWriter()
        self.stopped: str | None = None


class LLMWriter(ChatWriter):
    """Writes a whole section with ``chat`` under the guard."""

    def write_section(self, section: str, facts: FactTable, findings: Sequence[Finding] = (),
                      audience: str = "end user") -> NarrativeSection:
        spec = get_section(section)
        prompt = build_prompt(spec, facts, findings, audience)
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0, "cache_hits": 0}
        reasons: list[str] = []
        model = self.chat.model
        attempts = 0

        def fall_back(verdict: str) -> NarrativeSection:
            log.warning("narrative section %r (%s): %s", section, audience, verdict)
            fallback = self.fallback.write_section(section, facts, findings, audience)
            return replace(fallback, guard=verdict, model=model, attempts=attempts,
                           guard_reasons=reasons, prompt_hash=prompt.template_hash,
                           usage=usage)

        if self.stopped:
            return fall_back(f"LLM not called ({self.stopped}); template fallback")
        for _ in range(1 + self.guard_retries):
            attempts += 1
            try:
                completion = self.chat.complete(prompt.messages, self.params)
            except InvalidResponse as exc:
                usage["calls"] += 1
                reasons.append(f"attempt {attempts}: {exc}")
                continue
            except ReplayMiss:
                attempts -= 1
                return fall_back("replay found no cached answer; template fallback")
            except LLMUnavailable as exc:
                self.stopped = str(exc)
                return fall_back(f"LLM unavailable ({exc}); template fallback")
            model = completion.model or model
            usage["calls"] += 1
            usage["cache_hits"] += completion.cached
            usage["prompt_tokens"] += completion.prompt_tokens
            usage["completion_tokens"] += completion.completion_tokens
            log.debug("draft %d of section %r: %s", attempts, section, completion.text)
            text, unreadable = parse_answer(completion)
            verdict = check_text(text, prompt.guard) if unreadable is None else None
            if verdict is not None and verdict.ok:
                status = "passed" if attempts == 1 else f"passed on attempt {attempts}"
                return NarrativeSection(section, spec.title, verdict.text, self.name, status,
                                        referenced_facts(verdict.text), audience, model,
                                        attempts, reasons, prompt.template_hash, usage)
            rejected = [unreadable] if verdict is None else list(verdict.reasons)
            reasons += [f"attempt {attempts}: {r}" for r in rejected]
            prompt = prompt.retry(completion.text, rejected)
        return fall_back(f"rejected {attempts} drafts; template fallback")
