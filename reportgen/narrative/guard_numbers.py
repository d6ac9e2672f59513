"""The guard's number rules: no number may reach the reader except through a fact placeholder.

``numeral_reasons(text)`` looks at the text outside the placeholders (data names already
masked) and names every numeral in any script (digits, superscripts, full-width, fractions),
every Roman numeral (``XCIV``), every percent sign or unit (``%``, ``％``, "per mille"), and
every number word: English ones, misspelt or glued ("fourty", "ninetyfour"), multipliers and
fractions ("tenfold", "three quarters", "a handful") and those of the common European
languages ("noventa y cuatro por ciento"). The text is NFKC-normalised first, so full-width
letters spell the same words. Ordinal words that order ("first", "second") are not numbers.

``QUANTIFIERS`` are words that claim a proportion ("most", "a majority", "nearly all"); the
claims checks allow them only next to a fact that supports them.
"""

from __future__ import annotations

import re
import unicodedata

PERCENT_SIGNS = re.compile(r"[%‰‱％﹪٪؉؊]")
_STEMS = ("zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
          "fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
          "sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|"
          # common misspellings
          "fourty|ninty|ninteen|fiveteen|eightteen|fivety|twelf")
_UNITS = ("zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
          "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
          "eighty|ninety|hundred|thousand|million|billion|trillion|dozen")
NUMBER_WORDS = re.compile(
    rf"\b(?:(?:{_UNITS})s?|twice|thrice|double[ds]?|doubling|triple[ds]?|tripling|"
    r"quadruple[ds]?|half|halves|halved|quarters?|percent(?:age)?s?|per\s*cent|pct|"
    r"per\s*mille?|permille|pro\s*mille|basis\s+points?|handfuls?|couple|[a-z]*illions?|"
    rf"(?:{_UNITS}|many)-?fold)\b",
    re.IGNORECASE)
# Ordinals are order words ("the second class"), except as fractions: "a third", "two fifths".
FRACTION_WORDS = re.compile(
    r"\b(?:(?:a|an|one|" + _UNITS + r")\s+(?:third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth)s?|thirds|fourths|fifths|sixths|sevenths|eighths|ninths|tenths|hundredths|"
    r"thousandths)\b", re.IGNORECASE)
# "one" is a number only in ratios ("one in", "one out of"); elsewhere it is a pronoun.
ONE_RATIO = re.compile(r"\bone\s+(?:in|out\s+of)\s+(?:every|each|\w+)\b", re.IGNORECASE)
# Number words glued or misspelt ("ninetyfour", "fourty", "onehundred", "thirtyish"): a word
# made only of number stems. "one" and "ones" alone are pronouns.
_GLUED = re.compile(rf"(?:{_STEMS})(?:(?:and)?(?:{_STEMS}))*(?:s|ish|fold)?")
# Spanish, Portuguese, French, Italian, German and Dutch number and percent words, without
# accents; words that are also English ("due", "once", "cent", "dos", "six", "seize") are left
# out.
_FOREIGN = (
    "cero uno tres cuatro cinco seis siete ocho nueve diez doce trece catorce quince veinte "
    "treinta cuarenta cincuenta sesenta setenta ochenta noventa cien ciento cientos millon "
    "millones mitad doble porcentaje porciento "
    "quatro sete oito nove dez vinte trinta quarenta cinquenta sessenta oitenta cem metade "
    "deux trois quatre cinq sept huit neuf dix onze douze treize quatorze quinze vingt trente "
    "quarante cinquante soixante septante octante nonante mille moitie pourcent pourcentage "
    "tre quattro cinque sei sette otto dieci venti quaranta sessanta settanta ottanta novanta "
    "cento mila percento "
    "eins zwei drei vier funf fuenf sechs sieben acht neun zehn zwolf zwoelf hundert tausend "
    "prozent halfte haelfte doppelt "
    "twee drie vijf zes zeven negen tien twintig dertig veertig vijftig zestig zeventig tachtig "
    "negentig honderd duizend procent")
FOREIGN_NUMBER_WORDS = frozenset(_FOREIGN.split())
_FOREIGN_GLUED = re.compile(r"(?:veinti|dieci)[a-z]+|[a-z]*(?:zwanzig|dreissig|vierzig|"
                            r"funfzig|fuenfzig|sechzig|siebzig|achtzig|neunzig|hundert|"
                            r"tausend)[a-z]*")
_ROMAN = re.compile(r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})",
                    re.IGNORECASE)
# Upper-case abbreviations that happen to be Roman numerals.
ROMAN_ABBREVIATIONS = frozenset({"CI", "CD", "CV", "DC", "DL", "MD", "ML", "CM", "MM", "CC",
                                 "LCD", "DIV", "mix"})
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")


def fold(text: str) -> str:
    """NFKC, then without accents, lower case: how number words are compared."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _is_roman(word: str) -> bool:
    if not word.isascii() or word in ROMAN_ABBREVIATIONS:
        return False
    if not ((len(word) >= 2 and word.isupper()) or (len(word) >= 3 and word.islower())):
        return False
    return bool(_ROMAN.fullmatch(word))


def _word_number(word: str) -> bool:
    """Whether one word (letters, hyphens, apostrophes) spells a number."""
    if _is_roman(word):
        return True
    folded = fold(word)
    parts = [p for p in re.split(r"[-']", folded) if p]
    for part in [*parts, "".join(parts)]:
        if part in ("one", "ones"):
            continue
        if (_GLUED.fullmatch(part) or part in FOREIGN_NUMBER_WORDS
                or _FOREIGN_GLUED.fullmatch(part)):
            return True
    return False


def numeral_reasons(text: str) -> list[str]:
    """Why ``text`` (outside the placeholders, names masked) shows a number, or []."""
    reasons = []
    normal = unicodedata.normalize("NFKC", text)
    for token in re.findall(r"\S+", normal):
        if any(unicodedata.numeric(ch, None) is not None for ch in token):
            reasons.append(f"numeral {token.strip('.,;:()')!r} outside a fact placeholder: "
                           "give numbers only as {{fact:REF}}")
    if PERCENT_SIGNS.search(normal):
        reasons.append("percentage outside a fact placeholder")
    for pattern in (NUMBER_WORDS, FRACTION_WORDS, ONE_RATIO):
        for match in pattern.finditer(normal):
            reasons.append(f"number word {match.group(0)!r}: give numbers only as "
                           "{{fact:REF}}")
    for match in _WORD.finditer(normal):
        word = match.group(0)
        if not NUMBER_WORDS.fullmatch(word) and _word_number(word):
            reasons.append(f"number word {word!r}: give numbers only as {{{{fact:REF}}}}")
    return reasons


# Quantifiers that claim a proportion: phrase (lower-case words) -> (test on the supporting
# fact's share in [0, 1], what the test says). "most" counts only as a determiner ("most
# heat", "most of"), not as a superlative ("the most", "overlaps most with").
QUANTIFIERS: dict[tuple[str, ...], tuple[str, float]] = {
    ("nearly", "all"): (">=", 0.9), ("almost", "all"): (">=", 0.9),
    ("virtually", "all"): (">=", 0.9), ("practically", "all"): (">=", 0.9),
    ("nearly", "every"): (">=", 0.9), ("almost", "every"): (">=", 0.9),
    ("almost", "entirely"): (">=", 0.9), ("nearly", "entirely"): (">=", 0.9),
    ("all", "but"): (">=", 0.9),
    ("vast", "majority"): (">=", 0.75), ("overwhelming", "majority"): (">=", 0.75),
    ("overwhelmingly",): (">=", 0.75),
    ("majority",): (">", 0.5), ("most",): (">", 0.5), ("mostly",): (">", 0.5),
    ("predominantly",): (">", 0.5), ("bulk",): (">", 0.5),
    ("minority",): ("<", 0.5),
    ("hardly", "any"): ("<=", 0.1), ("barely", "any"): ("<=", 0.1),
    ("scarcely", "any"): ("<=", 0.1), ("almost", "none"): ("<=", 0.1),
    ("nearly", "none"): ("<=", 0.1), ("virtually", "none"): ("<=", 0.1),
    ("almost", "no"): ("<=", 0.1), ("nearly", "no"): ("<=", 0.1),
}
_NOT_A_NOUN = frozenset({"with", "on", "in", "at", "to", "for", "from", "among", "by", "than",
                         "across", "over", "under", "around", "about", "like", "into", "onto",
                         "when", "where", "if", "and", "or", "but", "is", "are", "was", "were",
                         "be", "it", "they", "often", "likely", "probably", "clearly"})
_ADJECTIVE_ENDINGS = ("ly", "ive", "ant", "ent", "ful", "ous", "able", "ible", "ing", "ed",
                      "al", "ic", "est", "ar", "ary")


def most_is_a_quantifier(previous: str | None, following: str | None) -> bool:
    """Whether "most" between these words is a determiner ("most heat", "most of the"), not a
    superlative ("the most", "at most", "matters most", "most likely", "most important")."""
    if previous in ("the", "at", "to") or following is None:
        return False
    if following == "of":
        return True
    return following not in _NOT_A_NOUN and not following.endswith(_ADJECTIVE_ENDINGS)
