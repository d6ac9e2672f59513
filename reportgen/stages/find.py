"""Find: the findings rules over the scores and facts, and the CI-gate conditions."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules import derive_findings
from reportgen.conditions import ConditionResult, evaluate_conditions
from reportgen.config import RunConfig


@dataclass(frozen=True)
class Found:
    """``facts``: the aggregate stage's facts plus those the rules added (test statistics,
    effect sizes); ``findings`` ranked; ``conditions``: the config's fail_if, evaluated."""

    facts: FactTable
    findings: list[Finding]
    conditions: list[ConditionResult]


def find(scores: pd.DataFrame, facts: FactTable, config: RunConfig) -> Found:
    result = derive_findings(scores, facts, config.findings, seed=config.seed)
    every = FactTable([*facts, *result.facts])
    return Found(every, result.findings, evaluate_conditions(config.fail_if, every))
