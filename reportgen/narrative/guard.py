"""The guard: LLM text may show numbers only through fact placeholders, and say about a fact
only what the fact is.

``check_text`` accepts a draft only when

* every ``{{fact:REF}}`` names a known fact (by its id or the prompt's short alias), and no
  placeholder is glued to another or to a sign, a decimal point or a letter
  (``-{{fact:a}}``, ``{{fact:a}}{{fact:b}}``, ``{{fact:a}}.{{fact:b}}``, ``{{fact:a}}k``);
* outside the placeholders there is no number (``guard_numbers``: numerals in any script,
  Roman numerals, percent signs, number words in English and the common European languages,
  misspelt or glued); ordinal words used for order ("first", "second") and dates without
  digits ("in May") are not claims and pass;
* every comparison of two facts agrees with their values, negations included
  (``guard_compare``);
* the sentence around each fact names its model, method, class and region (not others), the
  measure it is cited as is its own, and proportion words rest on a share fact
  (``guard_claims``);
* each required (high-severity) finding is cited by its main evidence fact, with the
  finding's polarity, no high-severity finding is denied, and the draft refers to at least
  ``min_facts`` facts;
* there is no markup, no control or invisible formatting character, no quotation of the
  guard's own messages, the text is not empty, and a prompt's draft keeps to the answer's
  paragraph count and length.

Names from the data (classes, parts, models, methods, metric names) may hold digits
(``resnet50``, "F1") and are masked before the number checks. The accepted text carries
canonical placeholders with full fact ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.guard_claims import (
    binding_reasons,
    finding_reasons,
    measure_reasons,
    quantifier_reasons,
)
from reportgen.narrative.guard_compare import COMPARISON_WORDS, comparison_reasons
from reportgen.narrative.guard_numbers import numeral_reasons
from reportgen.narrative.guard_tokens import SENTENCE_ENDS, Lexicon, sentences, tokenize
from reportgen.narrative.placeholders import PLACEHOLDER, placeholder

# Lenient on spacing, strict on the word "fact": "{{ fact : v3 }}" is read as "{{fact:v3}}".
LOOSE_PLACEHOLDER = re.compile(r"\{\{\s*fact\s*:\s*([^{}]*?)\s*\}\}")
STRAY_BRACES = re.compile(r"\{\{|\}\}|\{\s*fact\s*:", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are text
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>")
_PH = r"\{\{fact:[^{}]+\}\}"
# A placeholder glued to another (nothing or one mark between), to a sign or decimal point
# before it, or to a letter or digit on either side: the reader would see another number.
GLUED = re.compile(rf"{_PH}\s*(?:[^\w\s{{}}()\[\]]{{1,2}})?{_PH}|[-−–‐‑‒+±.](?={_PH})|"
                   rf"[^\W_](?={_PH})|(?<=\}}\}})(?:[^\W_]|[.,][^\W_]|[-−–‐‑‒][^\W_])")
# Fragments of the guard's reasons: a draft that quotes them echoes the retry prompt.
GUARD_PHRASES = ("control characters are not allowed", "invisible formatting characters",
                 "the text is empty", "malformed fact placeholder", "markup is not allowed",
                 "outside a fact placeholder", "give numbers only as", "unknown fact id",
                 "contradicts the facts", "refers to no fact", "omits the high-severity finding",
                 "denies the high-severity finding", "contradicts the high-severity finding",
                 "glued to", "binds a fact to the wrong names", "cited as the wrong measure",
                 "a quantifier without its fact", "quotes the guard", "paragraphs at most",
                 "characters at most", "fact placeholder", "{{fact:ref}}", "checker rejected")
# A prompt's draft (a context with aliases) is held to the answer's size unless told otherwise.
DRAFT_MAX_PARAGRAPHS = 4
DRAFT_MAX_PARAGRAPH_CHARS = 1000  # shown characters (facts filled in): twice the grammar's


@dataclass(frozen=True)
class GuardVerdict:
    """``text`` is the accepted text with canonical placeholders (empty when rejected)."""

    ok: bool
    reasons: tuple[str, ...] = ()
    text: str = ""
    fact_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardContext:
    """What a draft is checked against.

    ``aliases`` maps the prompt's short fact references to fact ids; ``required`` are the
    findings the draft must mention; ``high_findings`` the run's other high-severity findings,
    which no section may deny; ``names`` are data strings allowed verbatim; ``min_facts``: how
    many facts the draft must refer to at least (a text that refers to none says nothing from
    the data). ``max_paragraphs`` and ``max_paragraph_chars`` (shown characters, facts filled
    in) bound the draft; None: the answer's limits (``DRAFT_MAX_*``) for a prompt's context
    (one with aliases), no limit otherwise; 0: no limit.
    """

    facts: FactTable
    aliases: Mapping[str, str] = field(default_factory=dict)
    required: Sequence[Finding] = ()
    names: Sequence[str] = ()
    min_facts: int = 0
    high_findings: Sequence[Finding] = ()
    max_paragraphs: int | None = None
    max_paragraph_chars: int | None = None

    def resolve(self, ref: str) -> str | None:
        if ref in self.aliases:
            return self.aliases[ref]
        return ref if ref in self.facts else None

    def ref_of(self, fid: str) -> str:
        """The short alias of a fact id, for reasons the LLM can act on."""
        return self._refs.get(fid, fid)

    @cached_property
    def _refs(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for ref, full in self.aliases.items():
            refs.setdefault(full, ref)
        return refs

    @cached_property
    def lexicon(self) -> Lexicon:
        """The data's names, read once per context (a draft may be checked several times)."""
        return Lexicon.build(self.facts, tuple(self.names))

    def limits(self) -> tuple[int, int]:
        """(paragraphs, shown characters per paragraph); 0 is no limit."""
        draft = bool(self.aliases)
        paragraphs = self.max_paragraphs
        chars = self.max_paragraph_chars
        return ((DRAFT_MAX_PARAGRAPHS if draft else 0) if paragraphs is None else paragraphs,
                (DRAFT_MAX_PARAGRAPH_CHARS if draft else 0) if chars is None else chars)


def data_names(facts: FactTable, extra: Iterable[str] = ()) -> list[str]:
    """Every dimension value of the facts (class, part, model, method names) plus ``extra``."""
    names = {v for f in facts for v in f.dims.values()} | set(extra)
    return sorted((n for n in names if n and n.strip()), key=lambda n: (-len(n), n))


def check_text(text: str, ctx: GuardContext) -> GuardVerdict:
    """Check one draft; see the module docstring for the rules."""
    reasons: list[str] = []
    ids: list[str] = []

    def canonical(match: re.Match) -> str:
        ref = match.group(1)
        fid = ctx.resolve(ref)
        if fid is None:
            reasons.append(f"unknown fact id {ref[:80]!r}")
            return " "
        ids.append(fid)
        return placeholder(fid)

    if CONTROL.search(text):
        reasons.append("control characters are not allowed")
        text = CONTROL.sub(" ", text)
    if any(unicodedata.category(ch) == "Cf" for ch in text):
        reasons.append("invisible formatting characters are not allowed")
    if not text.strip():
        reasons.append("the text is empty")
    folded = text.casefold()
    quoted = [p for p in GUARD_PHRASES if p in folded]
    if quoted:
        reasons.append(f"quotes the guard's messages ({quoted[0]!r}): write the section, not "
                       "the checker's reasons")
    canon = LOOSE_PLACEHOLDER.sub(canonical, text)
    oversized = _size_reasons(canon, ctx)
    if oversized:  # the other checks wait for a draft of the asked size
        return GuardVerdict(False, tuple(dict.fromkeys(reasons + oversized)))
    for match in GLUED.finditer(canon):
        shown = PLACEHOLDER.sub(lambda m: "{{fact:" + ctx.ref_of(m.group(1)) + "}}",
                                match.group(0))
        reasons.append(f"placeholder glued to {shown!r}: separate each fact from other facts, "
                       "signs and letters by a space or words")
    masked = _mask(canon, ctx.names)
    if STRAY_BRACES.search(masked):
        reasons.append("malformed fact placeholder: write exactly {{fact:REF}}")
    if MARKUP.search(masked):
        reasons.append("markup is not allowed: write plain text")
    reasons += numeral_reasons(masked)
    tokens = tokenize(canon, ctx.lexicon)
    reasons += comparison_reasons(list(sentences(tokens, SENTENCE_ENDS + ":")), ctx.facts,
                                  ctx.ref_of)
    units = list(sentences(tokens))
    for unit in units:
        reasons += binding_reasons(unit, ctx.facts, ctx.ref_of)
        reasons += measure_reasons(unit, ctx.facts, ctx.ref_of)
        reasons += quantifier_reasons(unit, ctx.facts, ctx.ref_of)
    referenced = set(ids)
    if len(referenced) < ctx.min_facts:
        reasons.append("the text refers to no fact: use the facts of the DATA as {{fact:REF}}")
    high = [f for f in ctx.high_findings if f.severity == "high"]
    reasons += finding_reasons(units, ctx.required, high, ctx.facts, referenced, ctx.ref_of)
    reasons = list(dict.fromkeys(reasons))
    if reasons:
        return GuardVerdict(False, tuple(reasons))
    return GuardVerdict(True, (), canon.strip(), tuple(ids))


def _size_reasons(canon: str, ctx: GuardContext) -> list[str]:
    max_paragraphs, max_chars = ctx.limits()
    paragraphs = [p for p in re.split(r"\n\s*\n", canon) if p.strip()]
    reasons = []
    if max_paragraphs and len(paragraphs) > max_paragraphs:
        reasons.append(f"{len(paragraphs)} paragraphs: write {max_paragraphs} paragraphs at "
                       "most")
    if max_chars:
        shown = [len(PLACEHOLDER.sub(lambda m: ctx.facts.display(m.group(1)), p))
                 for p in paragraphs]
        if any(n > max_chars for n in shown):
            reasons.append(f"a paragraph of {max(shown)} characters: write {max_chars} "
                           "characters at most per paragraph")
    return reasons


def _mask(text: str, names: Sequence[str]) -> str:
    """The text outside the placeholders, with each data name that would trip a number,
    markup or brace check by itself replaced by a neutral word, longest names first."""
    text = PLACEHOLDER.sub(" \x00 ", text)
    for name in names:
        if _needs_mask(name):
            text = re.sub(rf"(?<![\w\x00]){re.escape(name)}(?![\w\x00])", " item ", text)
    return text.replace("\x00", " ")


def _needs_mask(name: str) -> bool:
    """Whether a data name, echoed verbatim, would trip a check by itself."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", name)}
    return bool(numeral_reasons(name) or MARKUP.search(name) or STRAY_BRACES.search(name)
                or words & COMPARISON_WORDS)
