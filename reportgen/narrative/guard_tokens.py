"""How the guard reads a draft's claims: words, fact slots and the names of the data.

A draft (canonical placeholders, full fact ids) becomes a list of ``Token``: a fact slot for
each placeholder, a name for each data name (model, method, class, region; case-insensitive,
with plural and possessive endings: "birds", "fish's"), a metric for each metric name ("PH",
"heat share"), a neutral item for any other data string (so a class called "higher than"
compares nothing), lower-case words, and commas, parentheses and sentence ends.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from reportgen.analysis.facts import Fact, FactTable
from reportgen.metrics.registry import METRICS
from reportgen.vocab import ALL_CLASSES, BASELINE_MODEL, OBJECT, PLACEHOLDER

BOUND_DIMS = ("model", "method", "class", "region")
# Short metric names a text uses besides the registry's names.
METRIC_ALIASES = {"ph": "pqah.ph", "part f1": "pqah.ph", "heat share": "pqah.precision",
                  "share of the heat": "pqah.precision", "share of its heat": "pqah.precision",
                  "share of their heat": "pqah.precision", "area share": "region.area_share"}
# Words that name a baseline without its data name.
BASELINE_WORDS = frozenset({"baseline", "baselines", "baseline's", "baselines'", "chance",
                            "random", "centred", "centered", "centre", "center", "central",
                            "gaussian"})
SENTENCE_ENDS = ".!?;\n"
_TOKEN = re.compile(r"\x00(\d+)\x00|\x01(\d+)\x01|[^\W\d_]+(?:'[^\W\d_]+)*'?|[.!?;:\n,()]")


@dataclass(frozen=True)
class Token:
    """``kind``: ``slot`` (``text`` is the fact id), ``name`` (``text`` the data name,
    ``dims`` the dimensions it is a value of, ``baseline`` for a baseline's model or method),
    ``metric`` (``text`` the metric id), ``item`` (another data string), ``word`` (lower case),
    ``comma``, ``paren`` or ``end`` (``text`` the character)."""

    kind: str
    text: str
    dims: frozenset[str] = frozenset()
    baseline: bool = False

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text in words


@dataclass(frozen=True)
class Lexicon:
    """The names a draft may use, from the facts (and ``extra`` data strings)."""

    entries: dict[str, Token]
    pattern: re.Pattern | None

    @classmethod
    def build(cls, facts: FactTable, extra: tuple[str, ...] = ()) -> Lexicon:
        entries: dict[str, Token] = {}
        for name in extra:  # one plain word ("all", "correct") stays a word
            if name.strip() and not name.isalpha():
                entries[name.casefold()] = Token("item", name)
        for name, metric in [*((m.name, m.id) for m in METRICS.values()),
                             *METRIC_ALIASES.items()]:
            entries[name.casefold()] = Token("metric", metric)
        dims: dict[tuple[str, bool], set[str]] = {}
        for fact in facts:
            baseline = fact.dims.get("model") == BASELINE_MODEL
            for dim in BOUND_DIMS:
                value = fact.dims.get(dim)
                if value and value.strip() and value not in (ALL_CLASSES, OBJECT):
                    dims.setdefault((value, baseline and dim in ("model", "method")),
                                    set()).add(dim)
        for (value, baseline), found in sorted(dims.items()):
            key = value.casefold()
            known = entries.get(key)
            merged = found | (known.dims if known and known.kind == "name" else set())
            entries[key] = Token("name", value, frozenset(merged),
                                 baseline or bool(known and known.baseline))
        names = sorted(entries, key=lambda n: (-len(n), n))
        if not names:
            return cls(entries, None)
        pattern = re.compile(r"(?<![\w\x00])(" + "|".join(map(re.escape, names)) +
                             r")(?:'s|s'|es|s|')?(?![\w\x00])", re.IGNORECASE)
        return cls(entries, pattern)


def normalise(text: str) -> str:
    """NFKC, typographic apostrophes and quotes as ASCII."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate(str.maketrans({"’": "'", "‘": "'", "ʼ": "'"}))


def tokenize(canon: str, lexicon: Lexicon) -> list[Token]:
    """The tokens of a draft with canonical placeholders."""
    found: list[Token] = []

    def slot(match: re.Match) -> str:
        found.append(Token("slot", match.group(1)))
        return f" \x00{len(found) - 1}\x00 "

    def name(match: re.Match) -> str:
        found.append(lexicon.entries[match.group(1).casefold()])
        return f" \x01{len(found) - 1}\x01 "

    text = PLACEHOLDER.sub(slot, normalise(canon))
    if lexicon.pattern is not None:
        text = lexicon.pattern.sub(name, text)
    tokens = []
    for match in _TOKEN.finditer(text):
        index = match.group(1) or match.group(2)
        token = match.group(0)
        if index is not None:
            tokens.append(found[int(index)])
        elif token in SENTENCE_ENDS or token == ":":
            tokens.append(Token("end", token))
        elif token == ",":
            tokens.append(Token("comma", token))
        elif token in "()":
            tokens.append(Token("paren", token))
        else:
            tokens.append(Token("word", token.casefold()))
    return tokens


def sentences(tokens: list[Token], ends: str = SENTENCE_ENDS) -> Iterator[list[Token]]:
    """The runs of tokens between sentence ends (``ends``: which end characters split)."""
    current: list[Token] = []
    for token in tokens:
        if token.kind == "end" and token.text in ends:
            if current:
                yield current
            current = []
        elif token.kind != "end":
            current.append(token)
    if current:
        yield current


def metric_and_stat(fact: Fact) -> tuple[str, str]:
    """``("pqah.precision", "q2")`` for ``pqah.precision.q2|...``; ``("run.samples", "scored")``
    for ``run.samples.scored``. The id up to the first ``|`` is ``<metric>.<stat>``."""
    return fact.metric, fact.stat


def dim_values(fact: Fact, dim: str) -> set[str]:
    """The names that may stand for the fact's ``dim``: both sides of ``a vs b``."""
    value = fact.dims.get(dim)
    if value is None:
        return set()
    return {value, *(v.strip() for v in value.split(" vs "))}
