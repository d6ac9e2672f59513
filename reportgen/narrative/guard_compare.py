"""The guard's comparison check: a comparison word that relates two facts must agree with them.

"{{fact:a}} is higher than {{fact:b}}", "{{fact:a}} exceeds {{fact:b}}", "a dwarfs b",
"better", "worse", each read with its negation ("not", "no", "never", the "n't" forms, up to
four words before it: "is not in any way higher"). The facts are found

* on both sides of the comparison (the nearest before, with the same unit when there is one,
  and the first after);
* or both after "than" ("birds put more heat on the background than fish ({{fact:a}} against
  {{fact:b}})") or both before the comparison word: the names on each side (classes, parts,
  models ...) say which fact is which; after "than", in their order when the names do not
  tell. Facts of different measures side by side (a median and its interval) are not compared.

Two facts shown with the same display string may not be called different.
"""

from __future__ import annotations

from reportgen.analysis.facts import Fact, FactTable
from reportgen.narrative.guard_tokens import BOUND_DIMS, Token, dim_values, metric_and_stat

GREATER = {"higher", "more", "greater", "larger", "bigger", "stronger", "heavier", "above",
           "exceeds", "exceed", "exceeded", "exceeding", "dwarfs", "dwarf", "dwarfed",
           "dwarfing", "outweighs", "outweigh", "outweighed", "eclipses", "eclipse",
           "eclipsed", "overshadows", "overshadow", "overshadowed"}
LESS = {"lower", "less", "fewer", "smaller", "weaker", "lighter", "below", "lags", "lag",
        "lagged"}
BETTER = {"better", "outperforms", "outperform", "outperformed", "surpasses", "surpass",
          "surpassed", "beats", "beat"}
WORSE = {"worse", "underperforms", "underperform", "underperformed", "trails", "trail",
         "trailed"}
COMPARATIVES = GREATER | LESS | BETTER | WORSE
# Words that relate the facts on their two sides by themselves ("a exceeds b").
RELATIONAL = {"above", "below", "exceeds", "exceed", "exceeded", "exceeding", "dwarfs", "dwarf",
              "dwarfed", "dwarfing", "outweighs", "outweigh", "outweighed", "eclipses",
              "eclipse", "eclipsed", "overshadows", "overshadow", "overshadowed", "lags", "lag",
              "lagged", "outperforms", "outperform", "outperformed", "surpasses", "surpass",
              "surpassed", "beats", "beat", "underperforms", "underperform", "underperformed",
              "trails", "trail", "trailed"}
# Words after a comparative that introduce the second fact ("higher than b").
CONNECTORS = {"than", "compared", "versus", "vs", "relative"}
NEGATIONS = {"not", "no", "never", "nor", "neither", "cannot", "nowhere"}
# A comparison with a group ("does not beat both baselines") is not one of two facts.
GROUP_WORDS = {"both", "all", "either", "each", "every", "any"}
# Words after which a negation no longer reaches the comparison.
SCOPE_BREAKS = {"but", "while", "whereas", "although", "though", "yet", "however", "which",
                "that"}
COMPARISON_WORDS = COMPARATIVES | CONNECTORS | NEGATIONS


def is_negation(token: Token) -> bool:
    return token.kind == "word" and (token.text in NEGATIONS or token.text.endswith("n't"))


def negated(tokens: list[Token], i: int, reach: int = 4) -> bool:
    """Whether a negation stands among the ``reach`` words before ``tokens[i]`` (not past a
    fact, a comma or a clause word like "but")."""
    for token in reversed(tokens[max(0, i - reach):i]):
        if token.kind in ("slot", "comma") or token.is_word(*SCOPE_BREAKS):
            return False
        if is_negation(token):
            return True
    return False


def _slots(tokens: list[Token]) -> list[int]:
    return [j for j, t in enumerate(tokens) if t.kind == "slot"]


def _names(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind == "name"]


def _side(fact: Fact, names: list[Token], dims: set[str]) -> bool:
    """Whether one of ``names`` is the fact's value in one of ``dims``."""
    return any(dim in name.dims and name.text in dim_values(fact, dim)
               for name in names for dim in dims)


def _order(a: Fact, b: Fact, subject: list[Token], obj: list[Token]) -> bool | None:
    """True when ``a`` is the subject and ``b`` the object of the comparison, False when the
    other way round, None when the names do not tell (only names of the dimensions in which
    the two facts differ count)."""
    differing = {d for d in BOUND_DIMS if a.dims.get(d) != b.dims.get(d)}
    a_subject, a_object = _side(a, subject, differing), _side(a, obj, differing)
    b_subject, b_object = _side(b, subject, differing), _side(b, obj, differing)
    if (a_subject and not a_object) != (b_subject and not b_object):
        return a_subject and not a_object
    if (a_object and not a_subject) != (b_object and not b_subject):
        return b_object and not b_subject
    return None


def _comparable(a: Fact, b: Fact) -> bool:
    """Two facts of the same measure (metric and statistic), about different things."""
    return a.id != b.id and metric_and_stat(a) == metric_and_stat(b)


def _operands(tokens: list[Token], i: int, pivot: int, facts: FactTable
              ) -> tuple[str, str] | None:
    """The fact ids the comparison word at ``i`` relates (``pivot``: the word or "than")."""
    before = _slots(tokens[:pivot])
    after = [pivot + 1 + j for j in _slots(tokens[pivot + 1:])]
    if before and after:
        right = tokens[after[0]].text
        unit = facts[right].unit
        same = [j for j in before if facts[tokens[j].text].unit == unit]
        return tokens[(same or before)[-1]].text, right
    if len(after) >= 2:
        a, b = (facts[tokens[j].text] for j in after[:2])
        if not _comparable(a, b):
            return None
        subject = _names(tokens[:i])
        obj = _names(tokens[pivot + 1:after[0]])
        order = _order(a, b, subject, obj)
        return (a.id, b.id) if order in (True, None) else (b.id, a.id)
    if len(before) >= 2:
        a, b = (facts[tokens[j].text] for j in before[-2:])
        if not _comparable(a, b):
            return None
        subject = _names(tokens[before[-1] + 1:i])
        obj = _names(tokens[pivot + 1:])
        order = _order(a, b, subject, obj)
        if order is None:
            return None
        return (a.id, b.id) if order else (b.id, a.id)
    return None


def comparison_reasons(sentences: list[list[Token]], facts: FactTable, ref_of) -> list[str]:
    """Every comparison of two facts that their values contradict (``ref_of``: fact id to
    the reference the reason names)."""
    reasons = []
    for tokens in sentences:
        for i, token in enumerate(tokens):
            if token.kind != "word" or token.text not in COMPARATIVES:
                continue
            word = token.text
            pivot = i
            if word not in RELATIONAL:
                pivot = next((j for j in range(i + 1, len(tokens))
                              if tokens[j].is_word(*CONNECTORS)), None)
                if pivot is None:
                    continue  # no second term: not a comparison of two facts
            following = next((t for t in tokens[i + 1:] if t.kind != "paren"), None)
            if following is not None and following.is_word(*GROUP_WORDS):
                continue
            operands = _operands(tokens, i, pivot, facts)
            if operands is None or operands[0] == operands[1]:
                continue
            neg = negated(tokens, i)
            problem = contradiction(word, neg, facts[operands[0]], facts[operands[1]])
            if problem:
                a, b = ref_of(operands[0]), ref_of(operands[1])
                reasons.append(f"{'not ' if neg else ''}{word!r} relating {a} and {b} "
                               f"contradicts the facts: {problem}")
    return reasons


def contradiction(word: str, negation: bool, a: Fact, b: Fact) -> str | None:
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
    if negation:
        holds = a.value <= b.value if greater else a.value >= b.value
        return None if holds or shown_equal else "the first is " + (
            "higher" if greater else "lower")
    holds = (a.value > b.value if greater else a.value < b.value) and not shown_equal
    if holds:
        return None
    if shown_equal:
        return "both are shown as the same value"
    return "the first is " + ("lower" if greater else "higher")
