"""Readability of narrative text: Flesch reading ease and mean sentence length.

A small stand-in for ``textstat`` (not a dependency): sentences end at ``.``, ``!`` or ``?``
followed by white space and a capital or an opening bracket (so "0.25" does not end one);
a word is a run of letters, digits, ``_`` or ``'``; syllables are groups of vowels (``y``
included) less a silent final ``e``, at least one per word (a number or a symbol-only word
counts one). Scores of running English prose: 60-70 plain, below 30 very hard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
WORD = re.compile(r"[A-Za-z0-9_']+")
VOWELS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Syllables of one word by vowel groups (at least 1; "the" 1, "table" 2, "make" 1)."""
    word = word.lower().strip("'")
    if not re.search(r"[a-z]", word):
        return 1
    count = len(VOWELS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(1, count)


@dataclass(frozen=True)
class Readability:
    """``reading_ease``: Flesch reading ease (higher is easier; 0.0 for empty text);
    ``sentence_words``: mean words per sentence; counts of sentences and words."""

    reading_ease: float
    sentence_words: float
    sentences: int
    words: int


def readability(text: str) -> Readability:
    """The Flesch reading ease and mean sentence length of ``text`` (paragraphs separated by
    blank lines end sentences too)."""
    parts = [s for p in re.split(r"\n\s*\n", text) for s in SENTENCE_END.split(p.strip())]
    sentences = [s for s in parts if WORD.search(s)]
    words = [w for s in sentences for w in WORD.findall(s)]
    if not words:
        return Readability(0.0, 0.0, 0, 0)
    per_sentence = len(words) / len(sentences)
    per_word = sum(syllables(w) for w in words) / len(words)
    ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word
    return Readability(round(ease, 1), round(per_sentence, 1), len(sentences), len(words))
