"""Find: the findings rules over the scores and facts, and the CI-gate conditions.

The rules read the scores grouped as the aggregate stage grouped them (``Grouping.apply``), so
the classes of the findings are those of the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.analysis.grouping import Grouping
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
    grouping: Grouping = field(default_factory=Grouping)


def find(scores: pd.DataFrame, facts: FactTable, config: RunConfig,
         grouping: Grouping | None = None) -> Found:
    """``scores``: the score stage's table (dataset classes); ``grouping`` (None: the dataset
    class) regroups it as the aggregate stage did."""
    grouping = grouping or Grouping()
    result = derive_findings(grouping.apply(scores), facts, config.findings, seed=config.seed)
    every = FactTable([*facts, *result.facts])
    return Found(every, result.findings, evaluate_conditions(config.fail_if, every), grouping)
