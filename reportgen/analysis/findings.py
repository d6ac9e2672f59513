"""Findings: deterministic rule outputs that the narrative phrases and the report ranks.

A finding's ``statement`` is one sentence with fact placeholders (``{{fact:ID}}``) instead of
numbers; ``evidence`` lists the fact ids it rests on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from reportgen.analysis.facts import canonical_dims

Severity = Literal["high", "medium", "low", "info"]
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "info": 3}
# Within a severity, what a reviewer must see first: shortcuts, then background reliance.
KIND_RANK = {"class_shortcut": 0, "background_reliance": 1}


@dataclass(frozen=True)
class Finding:
    """One rule output.

    ``kind``: the rule (``background_reliance``, ``dominant_part``, ``neglected_part``,
    ``class_shortcut``, ``misclassified_shift``, ``model_difference``, ``method_difference``,
    ``above_chance``, ``chance_level``, ``faithfulness_caveat``, ``method_disagreement``);
    ``subject``: the dimensions it is about (model, method, class, region; a finding several
    methods agree on names them all, ``"gradcam, gradcam++"``); ``effect_size``: the rule's
    effect measure (for ranking; 0 when the rule has none); ``caveat``: why the finding may
    not hold (e.g. the heatmaps it rests on failed a faithfulness check), empty when none.
    """

    id: str
    kind: str
    severity: Severity
    subject: dict[str, str]
    statement: str
    evidence: list[str] = field(default_factory=list)
    effect_size: float = 0.0
    caveat: str = ""

    def __post_init__(self):
        # The same order whether computed or read back from facts.json (sorted keys).
        object.__setattr__(self, "subject", canonical_dims(self.subject))

    def to_dict(self) -> dict:
        return asdict(self)


def finding_id(kind: str, subject: dict[str, str]) -> str:
    """``kind|k=v|...`` with the subject's keys in the order the rule gave them."""
    return "|".join([kind, *(f"{k}={v}" for k, v in subject.items())])


def rank_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first; within a severity shortcuts, then background reliance, then the
    rest; then the larger effect, then the id (deterministic)."""
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f.severity], KIND_RANK.get(f.kind, 2),
                                           -abs(f.effect_size), f.id))
