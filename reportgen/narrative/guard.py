"""The guard: LLM text may show numbers only through fact placeholders.

``check_text`` accepts a draft only when

* every ``{{fact:REF}}`` names a known fact (by its id or the prompt's short alias);
* outside the placeholders there is no numeral (any digit or numeric character, so dates
  written with digits too), no percentage (``%``, "percent"), no number word ("seven",
  "twice", "half", "a third", "dozen" ...); ordinal words used for order ("first",
  "second", "finally") and dates without digits ("in May") are not claims and pass;
* every comparison word that relates two facts ("{{fact:a}} is higher than {{fact:b}}",
  "{{fact:a}} exceeds {{fact:b}}", "better", "worse", with "not" read as a negation) agrees
  with their values, and the reader would not see two equal numbers called different;
* each required (high-severity) finding is mentioned: one of its evidence facts is referenced,
  and the draft refers to at least ``min_facts`` facts;
* there is no markup (HTML tags) and the text is not empty.

Names from the data (classes, parts, models, methods, metric names) may hold digits
(``resnet50``, "F1") and are masked before the checks. The accepted text carries canonical
placeholders with full fact ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reportgen.analysis.facts import Fact, FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.placeholders import placeholder

# Lenient on spacing, strict on the word "fact": "{{ fact : v3 }}" is read as "{{fact:v3}}".
LOOSE_PLACEHOLDER = re.compile(r"\{\{\s*fact\s*:\s*([^{}]*?)\s*\}\}")
STRAY_BRACES = re.compile(r"\{\{|\}\}|\{\s*fact\s*:", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are text
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>")
PERCENT_SIGNS = re.compile(r"[%‰‱]")
_UNITS = ("zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
          "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
          "eighty|ninety|hundred|thousand|million|billion|trillion|dozen")
NUMBER_WORDS = re.compile(
    rf"\b(?:(?:{_UNITS})s?|twice|thrice|double[ds]?|doubling|triple[ds]?|tripling|"
    r"quadruple[ds]?|half|halves|halved|quarters?|percent(?:age)?s?|per\s+cent|"
    rf"(?:{_UNITS}|many)-?fold)\b",
    re.IGNORECASE)
# Ordinals are order words ("the second class"), except as fractions: "a third", "two fifths".
FRACTION_WORDS = re.compile(
    r"\b(?:(?:a|an|one|" + _UNITS + r")\s+(?:third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth)s?|thirds|fourths|fifths|sixths|sevenths|eighths|ninths|tenths|hundredths|"
    r"thousandths)\b", re.IGNORECASE)
# "one" is a number only in ratios ("one in", "one out of"); elsewhere it is a pronoun.
ONE_RATIO = re.compile(r"\bone\s+(?:in|out\s+of)\s+(?:every|each|\w+)\b", re.IGNORECASE)

GREATER = {"higher", "more", "greater", "larger", "bigger", "stronger", "above", "exceeds",
           "exceed", "exceeded", "exceeding"}
LESS = {"lower", "less", "fewer", "smaller", "weaker", "below"}
BETTER = {"better", "outperforms", "outperform", "outperformed", "surpasses", "surpass",
          "surpassed", "beats", "beat"}
WORSE = {"worse", "underperforms", "underperform", "underperformed", "trails", "trail",
         "trailed"}
# Words that relate the facts on their two sides by themselves ("a exceeds b").
RELATIONAL = {"above", "below", "exceeds", "exceed", "exceeded", "exceeding", "outperforms",
              "outperform", "outperformed", "surpasses", "surpass", "surpassed", "beats",
              "beat", "underperforms", "underperform", "underperformed", "trails", "trail",
              "trailed"}
# Words after a comparative that introduce the second fact ("higher than b").
CONNECTORS = {"than", "compared", "versus", "vs", "relative"}
NEGATIONS = {"not", "no", "never", "nor", "neither"}
COMPARISON_WORDS = GREATER | LESS | BETTER | WORSE | CONNECTORS | NEGATIONS
_TOKEN = re.compile(r"\x00(\d+)\x00|[A-Za-z]+(?:'[A-Za-z]+)?|[.!?;:\n]")
_SENTENCE_END = {".", "!", "?", ";", ":", "\n"}


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
    findings the draft must mention; ``names`` are data strings allowed verbatim;
    ``min_facts``: how many facts the draft must refer to at least (a text that refers to
    none says nothing from the data).
    """

    facts: FactTable
    aliases: Mapping[str, str] = field(default_factory=dict)
    required: Sequence[Finding] = ()
    names: Sequence[str] = ()
    min_facts: int = 0

    def resolve(self, ref: str) -> str | None:
        if ref in self.aliases:
            return self.aliases[ref]
        return ref if ref in self.facts else None

    def ref_of(self, fid: str) -> str:
        """The short alias of a fact id, for reasons the LLM can act on."""
        for ref, full in self.aliases.items():
            if full == fid:
                return ref
        return fid


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
    canon = LOOSE_PLACEHOLDER.sub(canonical, text)
    if not text.strip():
        reasons.append("the text is empty")
    masked, slots = _mask(canon, ctx.names)
    outside = re.sub(r"\x00\d+\x00", " ", masked)
    if STRAY_BRACES.search(outside):
        reasons.append("malformed fact placeholder: write exactly {{fact:REF}}")
    if MARKUP.search(outside):
        reasons.append("markup is not allowed: write plain text")
    reasons += _numeral_reasons(outside)
    reasons += _comparison_reasons(masked, slots, ctx)
    referenced = set(ids)
    if len(referenced) < ctx.min_facts:
        reasons.append("the text refers to no fact: use the facts of the DATA as {{fact:REF}}")
    for finding in ctx.required:
        evidence = [fid for fid in finding.evidence if fid in ctx.facts]
        if evidence and not referenced.intersection(evidence):
            refs = ", ".join(ctx.ref_of(fid) for fid in evidence)
            reasons.append(f"omits the high-severity finding {finding.id!r}: refer to at "
                           f"least one of its facts ({refs})")
    reasons = list(dict.fromkeys(reasons))
    if reasons:
        return GuardVerdict(False, tuple(reasons))
    return GuardVerdict(True, (), canon.strip(), tuple(ids))


def _mask(text: str, names: Sequence[str]) -> tuple[str, list[str]]:
    """Replace placeholders by ``\\x00i\\x00`` slots (i indexes the returned ids) and data
    names by a neutral word, longest names first."""
    slots: list[str] = []

    def slot(match: re.Match) -> str:
        slots.append(match.group(1))
        return f" \x00{len(slots) - 1}\x00 "

    text = re.sub(r"\{\{fact:([^{}]+)\}\}", slot, text)
    for name in names:
        if _needs_mask(name):
            text = re.sub(rf"(?<![\w\x00]){re.escape(name)}(?![\w\x00])", " item ", text)
    return text, slots


def _needs_mask(name: str) -> bool:
    """Whether a data name, echoed verbatim, would trip a check by itself."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", name)}
    return bool(_numeral_reasons(name) or MARKUP.search(name) or STRAY_BRACES.search(name)
                or words & COMPARISON_WORDS)


def _numeral_reasons(text: str) -> list[str]:
    reasons = []
    for token in re.findall(r"\S+", text):
        if any(unicodedata.numeric(ch, None) is not None for ch in token):
            reasons.append(f"numeral {token.strip('.,;:()')!r} outside a fact placeholder: "
                           "give numbers only as {{fact:REF}}")
    if PERCENT_SIGNS.search(text):
        reasons.append("percentage outside a fact placeholder")
    for pattern in (NUMBER_WORDS, FRACTION_WORDS, ONE_RATIO):
        for match in pattern.finditer(text):
            reasons.append(f"number word {match.group(0)!r}: give numbers only as "
                           "{{fact:REF}}")
    return reasons


def _sentences(masked: str) -> list[list[str]]:
    sentences, current = [], []
    for match in _TOKEN.finditer(masked):
        token = match.group(0)
        if token in _SENTENCE_END:
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(token if match.group(1) else token.lower())
    if current:
        sentences.append(current)
    return sentences


def _slot(token: str) -> int | None:
    return int(token.strip("\x00")) if token.startswith("\x00") else None


def _comparison_reasons(masked: str, slots: list[str], ctx: GuardContext) -> list[str]:
    reasons = []
    for tokens in _sentences(masked):
        for i, word in enumerate(tokens):
            if word not in GREATER | LESS | BETTER | WORSE:
                continue
            pivot = i
            if word not in RELATIONAL:
                pivot = next((j for j in range(i + 1, len(tokens)) if tokens[j] in CONNECTORS),
                             None)
                if pivot is None:
                    continue  # no second term: not a comparison of two facts
            left = next((_slot(t) for t in reversed(tokens[:pivot]) if _slot(t) is not None),
                        None)
            right = next((_slot(t) for t in tokens[pivot + 1:] if _slot(t) is not None), None)
            if left is None or right is None or slots[left] == slots[right]:
                continue
            negated = any(t in NEGATIONS for t in tokens[max(0, i - 2):i])
            problem = _contradiction(word, negated, ctx.facts[slots[left]],
                                     ctx.facts[slots[right]])
            if problem:
                a, b = ctx.ref_of(slots[left]), ctx.ref_of(slots[right])
                reasons.append(f"{'not ' if negated else ''}{word!r} relating {a} and {b} "
                               f"contradicts the facts: {problem}")
    return reasons


def _contradiction(word: str, negated: bool, a: Fact, b: Fact) -> str | None:
    """Why ``a <word> b`` is false for the facts' values, or None when it holds."""
    if a.unit != b.unit:
        return f"the two facts have different units ({a.unit}, {b.unit})"
    if word in BETTER | WORSE:
        if a.direction != b.direction or a.direction not in ("higher", "lower"):
            return "'better' and 'worse' need two facts of a metric with a better direction"
        greater = (word in BETTER) == (a.direction == "higher")
    else:
        greater = word in GREATER
    shown_equal = a.display == b.display
    if negated:
        holds = a.value <= b.value if greater else a.value >= b.value
        return None if holds or shown_equal else "the first is " + (
            "higher" if greater else "lower")
    holds = (a.value > b.value if greater else a.value < b.value) and not shown_equal
    if holds:
        return None
    if shown_equal:
        return "both are shown as the same value"
    return "the first is " + ("lower" if greater else "higher")
