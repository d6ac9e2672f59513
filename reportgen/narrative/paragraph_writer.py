"""The paragraph writer for small LLMs: the template's paragraphs, each with a guarded note.

Per section, the template writer's text is split into paragraphs; each paragraph keeps its
words (numbers, names, polarity) and gets one LLM call (``paragraph_prompt``) for a
plain-language note after it. The note may not repeat its paragraph nor change its tone
(``tone_mismatch``: no alarm its paragraph does not raise, no reassurance where it raises
one), and the paragraph with its note must pass the guard (the run's high findings may not be
denied; the note's placeholders must bind to the right names), within
``guard_retries`` new drafts, each with another seed and temperature; otherwise that
paragraph stays the template's alone (per-paragraph fallback, recorded in
``NarrativeSection.paragraph_writers``). The section as a whole is checked again against the
section's guard (required findings included); a section in which no note passed is the
template's text, marked as a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.metrics.registry import METRICS
from reportgen.narrative.chat import InvalidResponse, LLMUnavailable, ReplayMiss
from reportgen.narrative.guard import GuardContext, check_text, data_names
from reportgen.narrative.llm_writer import ChatWriter
from reportgen.narrative.paragraph_prompt import (
    MAX_NOTE_CHARS,
    build_paragraph_prompt,
    copies,
    parse_note,
    prompt_hash,
    sampling,
    tone_mismatch,
)
from reportgen.narrative.placeholders import PLACEHOLDER, referenced_facts
from reportgen.narrative.prompts import section_guard
from reportgen.narrative.sections import get_section
from reportgen.narrative.written import NarrativeSection

log = logging.getLogger(__name__)
TEMPLATE = "template"


class ParagraphWriter(ChatWriter):
    """Writes a section as the template's paragraphs, each with a guarded LLM note."""

    def write_section(self, section: str, facts: FactTable, findings: Sequence[Finding] = (),
                      audience: str = "end user") -> NarrativeSection:
        spec = get_section(section)
        template = self.fallback.write_section(section, facts, findings, audience)
        paragraphs = template.text.split("\n\n")
        names = data_names(facts, [m.name for m in METRICS.values()])
        high = [f for f in findings if f.severity == "high"]
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0, "cache_hits": 0}
        reasons: list[str] = []
        model = self.chat.model
        texts, writers = [], []
        for i, paragraph in enumerate(paragraphs, start=1):
            written, model = self._paragraph(spec.id, paragraph, facts, names, high, audience,
                                             usage, reasons, i, model)
            texts.append(written or paragraph)
            writers.append(self.name if written else TEMPLATE)
        # The section as a whole (required findings included); never expected to fail, since
        # every paragraph keeps the template's words, but a note is dropped if it does.
        while self.name in writers and not check_text("\n\n".join(texts), section_guard(
                spec, facts, findings)).ok:
            last = len(writers) - 1 - writers[::-1].index(self.name)
            texts[last], writers[last] = paragraphs[last], TEMPLATE
            reasons.append(f"paragraph {last + 1}: the section check failed; template text")
        calls = usage["calls"]
        if self.name not in writers:
            why = self.stopped or f"no note of {len(paragraphs)} paragraphs passed"
            log.warning("narrative section %r (%s): %s", section, audience, why)
            guard = (f"LLM not called ({self.stopped}); template fallback" if self.stopped
                     and not calls else f"{why}; template fallback")
            return NarrativeSection(section, spec.title, template.text, TEMPLATE, guard,
                                    template.fact_ids, audience, model, calls, reasons,
                                    prompt_hash(), usage, writers)
        text = "\n\n".join(texts)
        fallen = [str(i) for i, w in enumerate(writers, start=1) if w == TEMPLATE]
        guard = "passed" if not fallen else (
            f"passed for {len(writers) - len(fallen)} of {len(writers)} paragraphs; template "
            f"text for paragraph{'s' if len(fallen) > 1 else ''} {', '.join(fallen)}")
        return NarrativeSection(section, spec.title, text, self.name, guard,
                                referenced_facts(text), audience, model, calls, reasons,
                                prompt_hash(), usage, writers)

    def _paragraph(self, section: str, paragraph: str, facts: FactTable, names: list[str],
                   high: list[Finding], audience: str, usage: dict, reasons: list[str],
                   number: int, model: str) -> tuple[str | None, str]:
        """The paragraph with an accepted note (canonical placeholders), or None; and the
        model id the server reported."""
        if self.stopped:
            return None, model
        prompt = build_paragraph_prompt(section, paragraph, audience)
        shown = PLACEHOLDER.sub(lambda m: facts.display(m.group(1)), paragraph)
        ctx = GuardContext(facts, prompt.aliases, (), names, min_facts=0, high_findings=high,
                           max_paragraphs=1, max_paragraph_chars=len(shown) + MAX_NOTE_CHARS)
        for attempt in range(1 + self.guard_retries):
            params = {**sampling(self.params, attempt), "grammar": prompt.grammar}
            try:
                completion = self.chat.complete(prompt.attempt(attempt), params)
            except InvalidResponse as exc:
                usage["calls"] += 1
                reasons.append(f"paragraph {number}, attempt {attempt + 1}: {exc}")
                continue
            except ReplayMiss:
                reasons.append(f"paragraph {number}: replay found no cached answer")
                return None, model
            except LLMUnavailable as exc:
                self.stopped = f"LLM unavailable ({exc})"
                reasons.append(f"paragraph {number}: {self.stopped}")
                return None, model
            model = completion.model or model
            usage["calls"] += 1
            usage["cache_hits"] += completion.cached
            usage["prompt_tokens"] += completion.prompt_tokens
            usage["completion_tokens"] += completion.completion_tokens
            note, unusable = parse_note(completion.text)
            if unusable is None and copies(note, shown):
                unusable = "the note repeats the paragraph"
            if unusable is None:
                unusable = tone_mismatch(note, shown)
            rejected = [unusable] if unusable else []
            if not rejected:
                verdict = check_text(f"{paragraph} {note}", ctx)
                if verdict.ok:
                    return verdict.text, model
                rejected = list(verdict.reasons)
            log.debug("paragraph %d of %r, attempt %d: %s", number, section, attempt + 1,
                      completion.text)
            reasons += [f"paragraph {number}, attempt {attempt + 1}: {r}" for r in rejected]
        return None, model
