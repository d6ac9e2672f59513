"""Per-sample problems: a bad sample is excluded with a reason and counted, never fatal."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Exclusion:
    """One sample (or part of its scores) left out of the analysis.

    ``stage`` is where it failed (``data``, ``heatmap``, ``metrics``); ``reason`` is one line a
    user can act on, naming the file where there is one. ``object_id`` is the object within
    the image (several per image in PASCAL-Part); None when the whole image failed before its
    objects were known (an unreadable file). ``model``/``method`` are set when only that
    explainer's scores (or only some of its metrics) are missing: the sample may still be
    scored by the others.
    """

    image_id: str
    stage: str
    reason: str
    source: str = ""
    model: str = ""
    method: str = ""
    object_id: int | None = None

    def as_row(self) -> dict[str, str]:
        row = asdict(self)
        row["object_id"] = "" if self.object_id is None else str(self.object_id)
        return row


EXCLUSION_COLUMNS = ("image_id", "object_id", "stage", "reason", "source", "model", "method")
