"""CI-gate conditions on facts: ``"pqah.precision.q2|region=background > 0.4"``.

The left side names a fact (``metric.stat``) and, optionally, some of its dimensions; every
fact that matches is compared. A condition *fails the run* when any matching fact satisfies
the comparison, so conditions read as "fail if ...". A condition that matches no fact fails
too: a gate that cannot be checked must not pass silently.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from reportgen.analysis.facts import FactTable, parse_fact_id
from reportgen.errors import ConfigError
from reportgen.vocab import ALL_SAMPLES

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
        ">": operator.gt, "<": operator.lt}
_PATTERN = re.compile(r"^\s*(?P<lhs>[^\s<>!]+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
                      r"(?P<rhs>-?\d+(\.\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    expression: str
    name: str
    dims: dict[str, str]
    op: str
    threshold: float


@dataclass(frozen=True)
class ConditionResult:
    """``failed``: the run fails on this condition; ``matched``: fact ids compared;
    ``triggered``: the ids that satisfied the comparison."""

    expression: str
    failed: bool
    matched: list[str]
    triggered: list[str]
    reason: str


def parse_condition(expression: str) -> Condition:
    m = _PATTERN.match(expression)
    if not m:
        raise ConfigError(f"condition {expression!r}: expected 'FACT OP NUMBER' with OP one of "
                          f"{' '.join(_OPS)}, e.g. 'pqah.ph.q2|region=background > 0.4'")
    try:
        key = parse_fact_id(m["lhs"])
    except ValueError as exc:
        raise ConfigError(f"condition {expression!r}: {exc}") from None
    return Condition(expression, key.name, key.dims, m["op"], float(m["rhs"]))


def evaluate_condition(condition: Condition, facts: FactTable) -> ConditionResult:
    """Compare the facts named ``condition.name`` with every dimension the condition gives;
    facts of the correct / misclassified subsets only when it names a ``subset``."""
    where = {k: v for k, v in condition.dims.items() if k != "subset"}
    matched = facts.select(name=condition.name, subset=condition.dims.get("subset", ALL_SAMPLES),
                           where=where)
    if not matched:
        return ConditionResult(condition.expression, True, [], [],
                               "no fact matches this condition")
    compare = _OPS[condition.op]
    triggered = [f.id for f in matched if compare(f.value, condition.threshold)]
    reason = (f"{len(triggered)} of {len(matched)} matching facts satisfy it" if triggered
              else f"none of {len(matched)} matching facts satisfies it")
    return ConditionResult(condition.expression, bool(triggered), [f.id for f in matched],
                           triggered, reason)


def evaluate_conditions(expressions: list[str], facts: FactTable) -> list[ConditionResult]:
    return [evaluate_condition(parse_condition(e), facts) for e in expressions]
