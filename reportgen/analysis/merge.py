"""One finding per claim: findings that several methods agree on become one, a claim that only
some of a model's methods support gets its own ``method_disagreement`` finding, and the
"all classes" copy of a per-class finding goes when the model saw one class only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from reportgen.analysis.findings import Finding, finding_id
from reportgen.vocab import ALL_CLASSES
from reportgen.vocab import placeholder as ph

METHOD_SEPARATOR = ", "  # a merged finding's subject["method"]: "gradcam, gradcam++"
# Kinds whose subject names a pair of methods, or that are about one method by nature.
_NOT_MERGED = {"method_difference"}
_WORDS = {"class_shortcut": "background shortcut", "background_reliance": "background reliance",
          "misclassified_shift": "shift of heat when the model is wrong",
          "model_difference": "model difference", "neglected_part": "neglected part",
          "dominant_part": "dominant part", "above_chance": "above-chance part",
          "chance_level": "chance-level part", "faithfulness_caveat": "faithfulness caveat"}


def _key(f: Finding) -> tuple:
    rest = tuple(sorted((k, v) for k, v in f.subject.items() if k != "method"))
    return f.kind, f.severity, rest


def merge_methods(findings: Iterable[Finding],
                  methods_of: dict[str, list[str]]) -> list[Finding]:
    """Merge findings equal in kind, severity and subject but for the method.

    ``methods_of``: model -> the methods it was explained with. The merged finding keeps the
    first method's statement (methods in ``methods_of`` order) and adds, per other method, its
    main evidence fact; its evidence is the union. A high or medium claim found with only some
    of the model's methods adds a low ``method_disagreement`` finding naming the others.
    """
    groups: dict[tuple, list[Finding]] = defaultdict(list)
    out: list[Finding] = []
    for f in findings:
        method = f.subject.get("method", "")
        if f.kind in _NOT_MERGED or not method or " vs " in method:
            out.append(f)
        else:
            groups[_key(f)].append(f)
    for group in groups.values():
        model = group[0].subject.get("model", "")
        order = methods_of.get(model, [])
        group.sort(key=lambda f: (order.index(f.subject["method"])
                                  if f.subject["method"] in order else len(order),
                                  f.subject["method"]))
        out.append(_merged(group) if len(group) > 1 else group[0])
        found = [f.subject["method"] for f in group]
        missing = [m for m in order if m not in found]
        if missing and len(order) > 1 and group[0].severity in ("high", "medium"):
            out.append(_disagreement(group[0], found, missing))
    return out


def _merged(group: list[Finding]) -> Finding:
    first = group[0]
    methods = [f.subject["method"] for f in group]
    also = "; ".join(f"{f.subject['method']} agrees ({ph(f.evidence[0])})" if f.evidence
                     else f"{f.subject['method']} agrees" for f in group[1:])
    subject = {**first.subject, "method": METHOD_SEPARATOR.join(methods)}
    evidence = list(dict.fromkeys(e for f in group for e in f.evidence))
    return Finding(finding_id(first.kind, subject), first.kind, first.severity, subject,
                   f"{first.statement} {also[0].upper()}{also[1:]}.", evidence,
                   max((f.effect_size for f in group), key=abs),
                   next((f.caveat for f in group if f.caveat), ""))


def _disagreement(f: Finding, found: list[str], missing: list[str]) -> Finding:
    subject = {**f.subject, "method": METHOD_SEPARATOR.join(missing)}
    words = _WORDS.get(f.kind, f.kind.replace("_", " "))
    what = ", ".join(f"{k} {v}" for k, v in f.subject.items() if k not in ("method", "model"))
    statement = (f"The methods disagree about {f.subject.get('model', 'the model')}: the "
                 f"{words} finding{' (' + what + ')' if what else ''} holds with "
                 f"{' and '.join(found)} heatmaps but not with {' and '.join(missing)}; read "
                 "it with that caution.")
    return Finding(finding_id("method_disagreement", {"kind": f.kind, **subject}),
                   "method_disagreement", "low", subject, statement, list(f.evidence[:1]),
                   0.0)


def drop_single_class_copies(findings: Iterable[Finding],
                             classes_of: dict[tuple[str, str], int]) -> list[Finding]:
    """Leave out findings about "all classes" of a (model, method) that saw one class: the
    same finding exists for that class. ``classes_of``: (model, method) -> classes scored."""
    return [f for f in findings
            if not (f.subject.get("class") == ALL_CLASSES and classes_of.get(
                (f.subject.get("model", ""), f.subject.get("method", "")), 2) == 1)]
