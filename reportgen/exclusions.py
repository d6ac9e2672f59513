"""Per-sample problems: a bad sample is excluded with a reason and counted, never fatal."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Exclusion:
    """One sample left out of the analysis.

    ``stage`` is where it failed (``data``, ``heatmap``, ``metrics``); ``reason`` is one line a
    user can act on, naming the file where there is one.
    """

    image_id: str
    stage: str
    reason: str
    source: str = ""
    model: str = ""
    method: str = ""

    def as_row(self) -> dict[str, str]:
        return asdict(self)


EXCLUSION_COLUMNS = ("image_id", "stage", "reason", "source", "model", "method")
