"""run.json as one versioned dataclass: written by a run, read by ``render`` and the model card.

``RunRecord`` holds what a report needs besides the facts: the config as run (public: no
credential), versions, the dataset's names, the models, the cache use, the narrative's
provenance, the sample counts and the stage timings. ``RunRecord.read`` turns a missing,
unparsable or foreign run.json into a one-line ``ReportgenError``.
"""

from __future__ import annotations

import contextlib
import json
import platform
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from reportgen.errors import ReportgenError
from reportgen.io import atomic_write_json

RUN_RECORD_VERSION = 2  # 1: the untyped dict of reportgen <= 0.1 (read as well)
RUN_FILE = "run.json"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    format: str = ""
    root_name: str = ""
    class_names: list[str] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    arch: str | None
    num_classes: int | None
    weights: str | None
    target_layer: str | None
    reshape: str | None
    torchvision_weights: str | None
    preprocessing: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    """One run's record (see the module docstring). ``config`` is the validated config as a
    JSON mapping (``RunConfig.model_dump(mode="json")`` with the LLM URL redacted)."""

    dataset: DatasetInfo
    title: str = "Heatmap analysis report"
    config: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    seed: int = 0
    device: str = ""
    models: list[str] = field(default_factory=list)
    model_specs: list[ModelInfo] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    cache: dict[str, Any] = field(default_factory=dict)
    precomputed_heatmaps: list[dict[str, str]] = field(default_factory=list)
    skipped_metrics: list[dict[str, str]] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[str, int] = field(default_factory=dict)
    narrative: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: sha256 of each artifact the run wrote (facts.json, stats.csv ...): ``render`` checks them
    artifacts: dict[str, str] = field(default_factory=dict)
    #: artifacts changed after the run that ``render --allow-modified`` rendered anyway
    modified: list[str] = field(default_factory=list)
    #: how samples were grouped into classes (``Grouping.as_dict``: requested, by_model, min_n,
    #: expected_parts, text); empty in records written before grouping existed
    grouping: dict[str, Any] = field(default_factory=dict)
    version: int = RUN_RECORD_VERSION

    def report_settings(self):
        """The run's ``ReportSettings`` (defaults live only in reportgen.config)."""
        from reportgen.config import ReportSettings

        return ReportSettings.model_validate(self.config.get("report", {}))

    def narrative_settings(self):
        """The ``NarrativeSettings`` the narrative was written with (for a replay)."""
        from reportgen.config import NarrativeSettings

        saved = self.narrative.get("config") or self.config.get("narrative")
        if saved is None:
            raise ReportgenError("run.json records no narrative settings to replay")
        # A version-1 record also saved run-time values (seed, cache_dir, replay).
        known = {k: v for k, v in saved.items() if k in NarrativeSettings.model_fields}
        return NarrativeSettings.model_validate(known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = RUN_FILE) -> RunRecord:
        if not isinstance(data, dict):
            raise ReportgenError(f"{source}: not a run record (a JSON object is expected)")
        version = data.get("version", 1)
        if version not in (1, RUN_RECORD_VERSION):
            raise ReportgenError(f"{source}: run record version {version!r} is not supported "
                                 f"(this reportgen reads 1 and {RUN_RECORD_VERSION})")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["dataset"] = DatasetInfo(**data["dataset"])
            values["model_specs"] = [ModelInfo(**m) for m in data.get("model_specs", [])]
            values["version"] = RUN_RECORD_VERSION
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ReportgenError(f"{source}: not a valid run record ({exc})") from None

    @classmethod
    def read(cls, run_dir: str | Path) -> RunRecord:
        path = Path(run_dir) / RUN_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportgenError(f"{run_dir} is not a complete run directory: {path} is "
                                 "missing") from None
        except (OSError, ValueError) as exc:
            raise ReportgenError(f"{path}: unreadable run record ({exc})") from None
        return cls.from_dict(data, str(path))

    def write(self, run_dir: str | Path) -> Path:
        return atomic_write_json(Path(run_dir) / RUN_FILE, self.to_dict())


def versions() -> dict[str, str]:
    """The versions of reportgen, Python and the packages that shape the numbers."""
    import reportgen

    found = {"reportgen": reportgen.__version__, "python": platform.python_version()}
    for dist in ("torch", "torchvision", "grad-cam", "captum", "numpy", "pandas", "weasyprint"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
