"""The guard's claim checks: what a sentence says about a fact must be what the fact is.

Per sentence (split at ``. ! ? ;`` and line breaks):

* entity binding: a fact's model, method, class and region must be among the names of that
  kind in its sentence, when the sentence names any ("For class fish ... {{fact:bird}}" is
  rejected; a fact pooled over all classes needs "all", "overall" ... when a class is named);
  a baseline's fact must stand next to a baseline ("the centred baseline's {{fact:b}}"), not
  next to a model's name;
* measures: "{{fact:a}} of the heat" and "heat share {{fact:a}}" need a heat share, "PH
  {{fact:a}}" a PH (a metric name right before a fact names its measure), "n = {{fact:a}}" a
  count, "{{fact:a}} images were scored" the run's scored images (or a group's n, not a pair
  count), "{{fact:a}} were excluded" the excluded images;
* quantifiers that claim a proportion ("most", "a majority", "nearly all") need a share fact
  in the sentence that shows it.

``finding_reasons`` checks the high-severity findings: each required one cited by its main
evidence fact (the first, its effect; not only its n), not under a negation, and for a paired
difference with the finding's direction ("a puts more heat on ... than b"); and no sentence
may deny one ("no bias", "does not use the background", "the models do not differ", "the
heatmaps are faithful") unless it names another class or model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise

from reportgen.analysis.facts import Fact, FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.guard_compare import (
    CONNECTORS,
    GREATER,
    LESS,
    RELATIONAL,
    SCOPE_BREAKS,
    is_negation,
    negated,
)
from reportgen.narrative.guard_numbers import QUANTIFIERS, most_is_a_quantifier
from reportgen.narrative.guard_tokens import (
    BASELINE_WORDS,
    BOUND_DIMS,
    Token,
    dim_values,
    metric_and_stat,
)
from reportgen.vocab import ALL_CLASSES, BACKGROUND, BASELINE_MODEL, OBJECT

RefOf = Callable[[str], str]
POOLED_WORDS = {"all", "overall", "every", "pooled", "across", "whole", "entire", "average",
                "together", "combined"}
BASELINE_METHOD_WORDS = {"random": "random", "centred": "center", "centered": "center",
                         "centre": "center", "center": "center", "central": "center",
                         "gaussian": "center"}
# Words allowed between a metric's name and the fact it names ("median PH difference").
FILLERS = {"median", "mean", "average", "the", "a", "an", "of", "its", "their", "is", "was",
           "are", "were", "at", "about", "around", "only", "just", "roughly", "approximately",
           "nearly", "almost", "difference", "in", "value", "typical", "overall", "has", "had",
           "gets", "reaches", "reached", "with", "by", "lower", "upper", "quartile",
           "interquartile", "range", "score", "equals", "stands", "sits"}
IMAGE_WORDS = {"images", "image", "samples", "sample", "pictures", "photos", "photographs"}
AUXILIARIES = {"were", "was", "are", "is", "have", "has", "had", "been", "being", "got", "get",
               "actually", "successfully", "then", "only"}
SCORED = {"scored", "analysed", "analyzed", "evaluated", "processed", "assessed", "examined"}
EXCLUDED = {"excluded", "dropped", "removed", "discarded", "skipped", "rejected"}
BIAS_WORDS = {"bias", "biased", "biases", "shortcut", "shortcuts", "spurious"}
RELY_WORDS = {"rely", "relies", "relied", "relying", "reliance", "reliant", "depend", "depends",
              "depended", "depending", "dependence", "dependent", "use", "uses", "used",
              "using", "exploit", "exploits", "exploited", "exploiting", "lean", "leans",
              "leaned", "look", "looks", "looking", "focus", "focuses", "focused", "focusing",
              "attend", "attends", "attending", "put", "puts", "fall", "falls"}
DIFFER_WORDS = {"differ", "differs", "differed", "difference", "differences", "different"}
BACKGROUND_KINDS = {"class_shortcut", "background_reliance", "misclassified_shift"}
PAIRED_KINDS = {"model_difference": "model", "method_difference": "method"}


def _names(tokens: Sequence[Token], dim: str) -> set[str]:
    return {t.text for t in tokens if t.kind == "name" and dim in t.dims and not t.baseline}


def _baseline_mention(token: Token) -> bool:
    return (token.kind == "name" and token.baseline) or token.is_word(*BASELINE_WORDS)


def _model_mention(token: Token) -> bool:
    return _baseline_mention(token) or (token.kind == "name" and "model" in token.dims)


def binding_reasons(unit: list[Token], facts: FactTable, ref_of: RefOf) -> list[str]:
    """Facts whose model, method, class or region the sentence's names contradict."""
    reasons = []
    words = {t.text for t in unit if t.kind == "word"}
    named = {dim: _names(unit, dim) for dim in BOUND_DIMS}
    for j, token in enumerate(unit):
        if token.kind != "slot":
            continue
        fact, ref = facts[token.text], ref_of(token.text)
        if fact.dims.get("model") == BASELINE_MODEL:
            reasons += _baseline_reasons(unit, j, fact, ref)
            continue
        for dim in BOUND_DIMS:
            value = fact.dims.get(dim)
            if value is None or value == OBJECT or not named[dim]:
                continue
            if dim == "class" and value == ALL_CLASSES:
                if not words & POOLED_WORDS:
                    reasons.append(f"{ref} is pooled over all classes, but its sentence names "
                                   f"class {', '.join(sorted(named[dim]))}: binds a fact to "
                                   "the wrong names")
            elif not named[dim] & dim_values(fact, dim):
                reasons.append(f"{ref} is about {dim} {value}, but its sentence names "
                               f"{dim} {', '.join(sorted(named[dim]))}: binds a fact to the "
                               "wrong names")
    return reasons


def _baseline_reasons(unit: list[Token], j: int, fact: Fact, ref: str) -> list[str]:
    mentions = [(abs(k - j), k > j, k) for k, t in enumerate(unit) if _model_mention(t)]
    if not mentions:
        return [f"{ref} is a baseline's, but its sentence does not say so: binds a fact to the "
                "wrong names"]
    _, _, k = min(mentions)
    nearest = unit[k]
    if not _baseline_mention(nearest):
        return [f"{ref} is a baseline's, but its sentence gives it to model {nearest.text}: "
                "binds a fact to the wrong names"]
    # Which baseline: the mention itself ("centred") or a word before it ("random baseline").
    said = None
    for token in [nearest, *reversed(unit[max(0, k - 3):k])]:
        if token.kind == "slot":
            break
        said = said or _baseline_method(token)
    method = fact.dims.get("method")
    if said and method in BASELINE_METHOD_WORDS.values() and said != method:
        return [f"{ref} is the {method} baseline's, but its sentence calls it the {said} "
                "baseline's: binds a fact to the wrong names"]
    return []


def _baseline_method(token: Token) -> str | None:
    if token.kind == "name" and token.baseline and "method" in token.dims:
        return token.text
    return BASELINE_METHOD_WORDS.get(token.text) if token.kind == "word" else None


def _measures(fact: Fact, metric: str) -> bool:
    own, _ = metric_and_stat(fact)
    return fact.unit != "count" and (own == metric or own == "paired." + metric.split(".")[-1])


def measure_reasons(unit: list[Token], facts: FactTable, ref_of: RefOf) -> list[str]:
    """Facts cited as a measure they are not (heat share, a metric, a count)."""
    reasons = []
    for j, token in enumerate(unit):
        if token.kind != "slot":
            continue
        fact, ref = facts[token.text], ref_of(token.text)
        if _heat_follows(unit, j) and not _measures(fact, "pqah.precision"):
            reasons.append(f"{ref} is not a heat share, so it cannot be 'of the heat': a fact "
                           "cited as the wrong measure")
        cue = _metric_before(unit, j)
        if cue is not None and not _measures(fact, cue):
            reasons.append(f"{ref} is not a value of the metric {cue} named before it: a fact "
                           "cited as the wrong measure")
        if j > 0 and unit[j - 1].is_word("n") and fact.unit != "count":
            reasons.append(f"{ref} is not a count, so it cannot be n: a fact cited as the "
                           "wrong measure")
        verb = _count_verb(unit, j)
        metric, stat = metric_and_stat(fact)
        if verb in SCORED and not (fact.id == "run.samples.scored" or (
                fact.unit == "count" and stat.startswith("n")
                and not metric.startswith("paired."))):
            reasons.append(f"{ref} is not a number of scored images, so it cannot be said "
                           f"'{verb}': a fact cited as the wrong measure")
        if verb in EXCLUDED and "exclu" not in fact.name:
            reasons.append(f"{ref} is not a number of excluded images, so it cannot be said "
                           f"'{verb}': a fact cited as the wrong measure")
    return reasons


def _heat_follows(unit: list[Token], j: int) -> bool:
    """"{{fact}} of the heat", "of its heat", "of model's method heat"."""
    if j + 1 >= len(unit) or not unit[j + 1].is_word("of"):
        return False
    for token in unit[j + 2:j + 7]:
        if token.is_word("heat"):
            return True
        if token.kind not in ("word", "name"):
            return False
    return False


def _metric_before(unit: list[Token], j: int) -> str | None:
    """The metric named right before the fact, with only filler words between."""
    for token in reversed(unit[max(0, j - 5):j]):
        if token.kind == "metric":
            return token.text
        if not (token.kind == "paren" or token.is_word(*FILLERS)):
            return None
    return None


def _count_verb(unit: list[Token], j: int) -> str | None:
    """"{{fact}} images were scored", "{{fact}} scored images", "{{fact}} were excluded"."""
    for token in unit[j + 1:j + 5]:
        if token.is_word(*SCORED, *EXCLUDED):
            return token.text
        if not token.is_word(*IMAGE_WORDS, *AUXILIARIES):
            return None
    return None


_PHRASES: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(QUANTIFIERS, key=len, reverse=True):
    _PHRASES.setdefault(_phrase[0], []).append(_phrase)


def quantifier_reasons(unit: list[Token], facts: FactTable, ref_of: RefOf) -> list[str]:
    """Proportion words without a share fact in the sentence that shows the proportion."""
    reasons = []
    shares = [(j, facts[t.text]) for j, t in enumerate(unit)
              if t.kind == "slot" and facts[t.text].unit in ("share", "percent")]
    k = 0
    while k < len(unit):
        first = unit[k].text if unit[k].kind == "word" else ""
        phrase = next((p for p in _PHRASES.get(first, ()) if all(
            k + n < len(unit) and unit[k + n].is_word(w) for n, w in enumerate(p))), None)
        if phrase is None or (phrase == ("most",) and not _most_quantifies(unit, k)):
            k += 1
            continue
        said = " ".join(phrase)
        op, bound = QUANTIFIERS[phrase]
        if not shares:
            reasons.append(f"'{said}' claims a proportion: cite the share fact that shows it in "
                           "the same sentence (a quantifier without its fact)")
        else:
            _, fact = min(shares, key=lambda s: (abs(s[0] - k), s[0] < k))
            share = fact.value / 100 if fact.unit == "percent" else fact.value
            holds = {">=": share >= bound, ">": share > bound, "<": share < bound,
                     "<=": share <= bound}[op]
            if not holds:
                reasons.append(f"'{said}' claims a proportion that {ref_of(fact.id)} "
                               f"({fact.display}) does not show (a quantifier without its fact)")
        k += len(phrase)
    return reasons


def _most_quantifies(unit: list[Token], k: int) -> bool:
    previous = unit[k - 1].text if k > 0 and unit[k - 1].kind == "word" else None
    following = unit[k + 1] if k + 1 < len(unit) else None
    if following is None or following.kind in ("comma", "paren", "slot"):
        return False
    return most_is_a_quantifier(previous, following.text.casefold())


# Findings


def main_evidence(finding: Finding, facts: FactTable) -> str | None:
    """The fact a finding rests on first: its effect (never its n)."""
    return next((fid for fid in finding.evidence if fid in facts), None)


def finding_reasons(units: list[list[Token]], required: Sequence[Finding],
                    high: Sequence[Finding], facts: FactTable, referenced: set[str],
                    ref_of: RefOf) -> list[str]:
    reasons = []
    for finding in required:
        main = main_evidence(finding, facts)
        if main is not None and main not in referenced:
            reasons.append(f"omits the high-severity finding {finding.id!r}: cite its main "
                           f"fact {ref_of(main)} (its other facts alone do not state it)")
    findings = {f.id: f for f in [*required, *high]}.values()
    for finding in findings:
        main = main_evidence(finding, facts)
        for unit in units:
            if _denies(unit, finding, facts):
                reasons.append(f"denies the high-severity finding {finding.id!r}: say what its "
                               "facts show")
            if main is None or not any(t.kind == "slot" and t.text == main for t in unit):
                continue
            j = next(k for k, t in enumerate(unit) if t.kind == "slot" and t.text == main)
            if negated(unit, j):
                reasons.append(f"cites {ref_of(main)} of the high-severity finding "
                               f"{finding.id!r} under a negation: denies the high-severity "
                               "finding")
            problem = _direction_problem(unit, finding, facts[main])
            if problem:
                reasons.append(f"{problem}: contradicts the high-severity finding "
                               f"{finding.id!r} ({ref_of(main)})")
    return list(dict.fromkeys(reasons))


def _about(unit: list[Token], finding: Finding, facts: FactTable) -> bool:
    """Whether a sentence may be about the finding: it names no other class and no other
    model (for a paired difference: not only the side with less)."""
    subject = finding.subject
    classes = _names(unit, "class")
    if classes and subject.get("class", ALL_CLASSES) not in classes | {ALL_CLASSES}:
        return False
    models = _names(unit, "model")
    sides = [v.strip() for v in subject.get("model", "").split(" vs ")]
    main = main_evidence(finding, facts)
    if finding.kind == "model_difference" and main is not None and len(sides) == 2:
        sides = [sides[0] if facts[main].value > 0 else sides[1]]
    return not models or bool(models & set(sides))


def _negation_scopes(unit: list[Token]) -> Iterator[list[Token]]:
    """The words each negation of the sentence reaches: up to a fact, a comma or a clause
    word ("but", "rather")."""
    for i, token in enumerate(unit):
        if not is_negation(token):
            continue
        scope = []
        for t in unit[i + 1:]:
            if t.kind in ("slot", "comma") or t.is_word(*SCOPE_BREAKS, "rather", "instead"):
                break
            scope.append(t)
        yield scope


def _denies(unit: list[Token], finding: Finding, facts: FactTable) -> bool:
    if not _about(unit, finding, facts):
        return False
    words = [t.text for t in unit if t.kind == "word"]
    kind = finding.kind
    background = kind in BACKGROUND_KINDS or (kind in PAIRED_KINDS
                                              and finding.subject.get("region") == BACKGROUND)
    if kind == "faithfulness_caveat":
        checked = any(t.is_word("road", "faithfulness", "check", "test") or t.kind == "metric"
                      for t in unit)
        claims = [k for k, t in enumerate(unit) if t.is_word("faithful")
                  or (checked and t.is_word("pass", "passes", "passed"))]
        return any(not negated(unit, k) for k in claims)
    if background and ("unbiased" in words or _bias_free(words)):
        return True
    for scope in _negation_scopes(unit):
        near = scope[:5]
        if background and any(t.is_word(*BIAS_WORDS) for t in near):
            return True
        if kind in PAIRED_KINDS and any(t.is_word(*DIFFER_WORDS) for t in near):
            return True
        if kind in BACKGROUND_KINDS:
            rely = next((n for n, t in enumerate(near) if t.is_word(*RELY_WORDS)), None)
            if rely is not None and any(t.kind == "name" and t.text == BACKGROUND
                                        for t in scope[rely + 1:rely + 7]):
                return True
    return False


def _bias_free(words: list[str]) -> bool:
    return ("bias", "free") in pairwise(words) or any(
        a == "free" and b in ("of", "from") and c in BIAS_WORDS
        for a, b, c in zip(words, words[1:], words[2:], strict=False))


def _direction_problem(unit: list[Token], finding: Finding, main: Fact) -> str | None:
    """For a paired difference: the sentence's comparison of its two sides must have the sign
    of the difference ("a puts more ... than b" when a - b > 0)."""
    dim = PAIRED_KINDS.get(finding.kind)
    sides = [v.strip() for v in (main.dims.get(dim, "") if dim else "").split(" vs ")]
    if len(sides) != 2 or main.value == 0:
        return None
    for i, token in enumerate(unit):
        if token.kind != "word" or token.text not in GREATER | LESS:
            continue
        pivot = i if token.text in RELATIONAL else next(
            (j for j in range(i + 1, len(unit)) if unit[j].is_word(*CONNECTORS)), None)
        if pivot is None:
            continue
        before = [t.text for t in unit[:pivot] if t.kind == "name" and dim in t.dims
                  and t.text in sides]
        after = [t.text for t in unit[pivot + 1:] if t.kind == "name" and dim in t.dims
                 and t.text in sides]
        if not before or not after or before[-1] == after[0]:
            continue
        first = before[-1]
        claims_more = (token.text in GREATER) != negated(unit, i)
        first_is_more = (main.value > 0) == (first == sides[0])
        if claims_more != first_is_more:
            return (f"says {first} has {'more' if claims_more else 'less'} than "
                    f"{after[0]}, but the difference says {'less' if claims_more else 'more'}")
        return None
    return None
