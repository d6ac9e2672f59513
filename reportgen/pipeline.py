"""Wires the stages and owns the run directory.

``run_pipeline`` goes dataset -> heatmaps -> scores -> statistics and facts -> narrative ->
report; ``render_run`` redoes only the last two from the saved outputs of a run directory.
"""

from __future__ import annotations

import contextlib
import json
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import reportgen
from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules import BASELINE_MODEL, FindingsConfig, derive_findings
from reportgen.analysis.stats import ALL_CLASSES, group_statistics
from reportgen.conditions import ConditionResult, evaluate_conditions
from reportgen.config import RunConfig
from reportgen.data import load_dataset
from reportgen.data.heatmap_files import heatmap_groups, open_heatmaps
from reportgen.data.loader import iter_batches
from reportgen.data.sample import Sample
from reportgen.errors import ReportgenError
from reportgen.exclusions import EXCLUSION_COLUMNS, Exclusion
from reportgen.heatmaps import HeatmapBatch, HeatmapCache, HeatmapEngine, make_method
from reportgen.heatmaps.baselines import BASELINES
from reportgen.io import atomic_write, atomic_write_json, atomic_write_text
from reportgen.metrics.faithfulness import FaithfulnessConfig, score_faithfulness
from reportgen.models.loading import load_model
from reportgen.narrative.config import NarrativeConfig, redact_url
from reportgen.narrative.narrate import write_narrative
from reportgen.narrative.section import NarrativeSection
from reportgen.report.card import CardInputs, write_card
from reportgen.report.context import build_context
from reportgen.report.gallery import GalleryCollector, load_gallery
from reportgen.report.html import render_html
from reportgen.report.pdf import write_pdf
from reportgen.scoring import baseline_batch, empty_scores, object_metric_rows, score_batch

Progress = Callable[[str, int, int], None]
GALLERY_FILE = "gallery.npz"  # the gallery's thumbnails, heatmaps and part masks


@dataclass
class RunResult:
    out_dir: Path
    facts: FactTable
    scores: pd.DataFrame
    exclusions: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    conditions: list[ConditionResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed_conditions(self) -> list[ConditionResult]:
        return [c for c in self.conditions if c.failed]

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def report_pdf(self) -> Path:
        return self.out_dir / "report.pdf"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (third-party code may draw from the global RNG)
    torch.manual_seed(seed)


def choose_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReportgenError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def versions() -> dict[str, str]:
    found = {"reportgen": reportgen.__version__, "python": platform.python_version()}
    for dist in ("torch", "torchvision", "grad-cam", "captum", "numpy", "pandas", "weasyprint"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


class _Timer:
    """Stage wall times; announces each stage to ``progress`` as (stage, 0, 0) when it
    starts (the heatmap stage then reports images done out of the dataset's length)."""

    def __init__(self, progress: Progress | None = None):
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextlib.contextmanager
    def stage(self, name: str):
        if self.progress:
            self.progress(name, 0, 0)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)


def run_pipeline(config: RunConfig, out_dir: str | Path, progress: Progress | None = None
                 ) -> RunResult:
    """Run every stage of ``config`` into ``out_dir`` and write the run directory."""
    out_dir = Path(out_dir)
    timer = _Timer(progress)
    seed_everything(config.seed)
    device = choose_device(config.device)
    with timer.stage("load"):
        dataset = load_dataset(config.dataset.to_spec(), limit=config.limit)
        models = [load_model(m.to_spec(), device) for m in config.models]
        # Fails fast when an optional method's extra (captum) is missing.
        cache = HeatmapCache.open(out_dir / "cache" / "heatmaps", enabled=config.cache)
        engines = {(i, name): HeatmapEngine(m, make_method(name, **config.method_params.get(
                       name, {})), cache)
                   for i, m in enumerate(models) for name in config.methods}
        external = [(h, open_heatmaps(h.path)) for h in config.heatmaps]
    class_names = list(dataset.class_names)
    _check_names(dataset, models)
    outputs = {m.name: _output_names(m, class_names, dataset.name, config.target)
               for m in models}

    grid = cam_grid(models[0]) if models else None
    gallery = GalleryCollector(list(dataset.part_names), include_baselines=False,
                               include_models=None if config.report.gallery else ())
    frames: list[pd.DataFrame] = []
    exclusions: list[Exclusion] = []
    total = scored = 0
    with timer.stage("heatmaps_and_scores"):
        for batch_no, batch in enumerate(iter_batches(dataset, config.batch_size,
                                                      config.workers)):
            samples: list[Sample] = [s for s in batch if isinstance(s, Sample)]
            exclusions += [e for e in batch if isinstance(e, Exclusion)]
            total += len(batch)
            if samples:
                for i, model in enumerate(models):
                    names = outputs[model.name]
                    classes = ([names.index(s.class_name) for s in samples]
                               if config.target == "ground_truth" else None)
                    for method in config.methods:
                        heat = engines[i, method].explain([s.image for s in samples], classes)
                        table, excluded = score_batch(samples, heat, model.name, method,
                                                      names)
                        frames.append(table)
                        gallery.update(model.name, method, samples, heat, table)
                        exclusions += excluded
                        n_faith = _faithfulness_quota(config, total - len(batch), samples)
                        if n_faith:
                            table, excluded = _faithfulness(config, model, samples[:n_faith],
                                                            heat, method, names)
                            frames.append(table)
                            exclusions += excluded
                for name in BASELINES:
                    for idx, heat in baseline_batch(samples, name, (config.seed, batch_no),
                                                    grid):
                        table, excluded = score_batch([samples[i] for i in idx], heat,
                                                      BASELINE_MODEL, name, class_names)
                        frames.append(table)
                        exclusions += excluded
                for spec, source in external:
                    groups, missing = heatmap_groups(samples, source, spec.model, spec.method)
                    exclusions += missing
                    for group in groups:
                        heat = HeatmapBatch(group.heatmaps, group.predicted,
                                            np.full(len(group.samples), np.nan, np.float32),
                                            group.target)
                        table, excluded = score_batch(group.samples, heat, spec.model,
                                                      spec.method, class_names)
                        frames.append(table)
                        gallery.update(spec.model, spec.method, group.samples, heat, table)
                        exclusions += excluded
            scored += len(samples)
            if progress:
                progress("heatmaps_and_scores", total, len(dataset))
    scores = pd.concat(frames, ignore_index=True) if frames else empty_scores()
    excluded_ids = {e.image_id for e in exclusions}

    with timer.stage("statistics"):
        stats = group_statistics(scores, seed=config.seed)
        facts = facts_from_statistics(_fact_rows(stats))
        facts.add_value("run.samples.total", total, total, "count")
        facts.add_value("run.samples.excluded", len(excluded_ids), total, "count")
        facts.add_value("run.samples.scored", total - len(excluded_ids), total, "count")
        _accuracy_facts(scores, facts)
        findings = derive_findings(scores, facts, FindingsConfig(
            **config.findings.model_dump(), seed=config.seed))
        conditions = evaluate_conditions(config.fail_if, facts)
    with timer.stage("narrative"):
        written = write_narrative(facts, findings, narrative_config(config, out_dir))
        narrative = written.sections

    exclusion_table = pd.DataFrame([e.as_row() for e in exclusions],
                                   columns=list(EXCLUSION_COLUMNS))
    run_info = {
        "title": config.title,
        "conditions": [asdict(c) for c in conditions],
        "config": _public_config(config),
        "config_hash": config.fingerprint(),
        "seed": config.seed,
        "device": str(device),
        "versions": versions(),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset": {"name": dataset.name, "format": dataset.format,
                    "root_name": Path(config.dataset.root).name,
                    "class_names": class_names, "part_names": list(dataset.part_names)},
        "models": [m.name for m in models],
        "model_specs": [{"name": m.name, "arch": m.spec.arch, "num_classes": m.spec.num_classes,
                         "weights": str(m.spec.weights) if m.spec.weights else None,
                         "target_layer": m.target_layer_name, "reshape": m.reshape_name,
                         "torchvision_weights": m.spec.torchvision_weights,
                         "preprocessing": asdict(m.spec.preprocessing)} for m in models],
        "methods": list(config.methods),
        "cache": {**cache.report().as_dict(), "enabled": cache.enabled,
                  "computed": sum(e.computed for e in engines.values()),
                  "reused": sum(e.reused for e in engines.values())},
        "precomputed_heatmaps": [{"method": h.method, "model": h.model, "path": str(h.path)}
                                 for h in config.heatmaps],
        "skipped_metrics": [{"metrics": "faithfulness", "method": h.method,
                             "reason": "precomputed heatmaps: there is no model to re-run on "
                                       "the modified images these metrics need"}
                            for h in config.heatmaps],
    }
    run_info["narrative"] = written.run_info()
    with timer.stage("write_data"):
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(out_dir / "scores.parquet", lambda p: scores.to_parquet(p, index=False))
        atomic_write_text(out_dir / "stats.csv", stats.to_csv(index=False))
        atomic_write_text(out_dir / "exclusions.csv", exclusion_table.to_csv(index=False))
        atomic_write_json(out_dir / "facts.json",
                          {**facts.to_dict(), "findings": [f.to_dict() for f in findings]})
        atomic_write_json(out_dir / "narrative.json", [asdict(s) for s in narrative])
        if config.report.gallery:
            gallery.save(out_dir / GALLERY_FILE)
    with timer.stage("report"):
        render_run(out_dir, run_info)
    run_info["timings"] = timer.timings
    atomic_write_json(out_dir / "run.json", run_info)
    return RunResult(out_dir, facts, scores, exclusion_table, findings, conditions,
                     timer.timings)


def _output_names(model, class_names: list[str], dataset: str, target: str) -> list[str]:
    """The model's class names by output index: its own (``class_names`` in the model config,
    e.g. the ImageNet classes) or else the dataset's, which then must match in number."""
    own = model.spec.class_names
    if own is None:
        if model.spec.num_classes != len(class_names):
            raise ReportgenError(
                f"model {model.name} has {model.spec.num_classes} outputs but dataset {dataset} "
                f"has {len(class_names)} classes; give the model's own class names "
                "(models[].class_names, e.g. 'imagenet') when its label set differs")
        return list(class_names)
    if len(own) != model.spec.num_classes:
        raise ReportgenError(f"model {model.name}: {len(own)} class names for "
                             f"{model.spec.num_classes} outputs")
    missing = sorted(set(class_names) - set(own))
    if target == "ground_truth" and missing:
        raise ReportgenError(f"target ground_truth: the dataset classes {missing[:5]} are not "
                             f"outputs of model {model.name}; use target: predicted")
    return list(own)


# Names become fact-id dimensions (``class=cat|region=head``) and prompt data: these
# characters would split an id or forge a ``{{fact:...}}`` placeholder.
RESERVED_CHARACTERS = "{}|="


def _check_names(dataset, models: list) -> None:
    """A clear error for names the facts table cannot hold: the dataset's classes and parts,
    the models' names and their own output names."""
    where = getattr(dataset, "manifest_path", None) or dataset.root
    if ALL_CLASSES in dataset.class_names:
        raise ReportgenError(f"{where}: the class name {ALL_CLASSES!r} is reserved for "
                             "statistics pooled over all classes; rename it")
    checks = [(where, "class", dataset.class_names), (where, "part", dataset.part_names),
              ("config", "model", [m.name for m in models])]
    checks += [(f"model {m.name}", "class", m.spec.class_names) for m in models
               if m.spec.class_names]
    for source, what, names in checks:
        bad = [n for n in names if any(c in n for c in RESERVED_CHARACTERS)]
        if bad:
            raise ReportgenError(f"{source}: the {what} name(s) {bad[:5]} contain one of "
                                 f"{' '.join(RESERVED_CHARACTERS)}, which fact ids and "
                                 "placeholders reserve; rename them")


def _faithfulness_quota(config: RunConfig, seen_before: int, samples: list) -> int:
    """How many of this batch's samples get faithfulness scores (the first max_samples)."""
    settings = config.faithfulness
    if not settings.enabled:
        return 0
    if settings.max_samples is None:
        return len(samples)
    return max(0, min(len(samples), settings.max_samples - seen_before))


def _faithfulness(config: RunConfig, model, samples: list, heat: HeatmapBatch, method: str,
                  class_names: list[str]) -> tuple[pd.DataFrame, list[Exclusion]]:
    n = len(samples)
    part = HeatmapBatch(heat.heatmaps[:n], heat.predicted[:n], heat.probability[:n],
                        heat.target[:n])
    inputs = model.spec.preprocessing([s.image for s in samples], model.device)
    settings = config.faithfulness
    scores = score_faithfulness(model.module, inputs, part.heatmaps, part.target,
                                FaithfulnessConfig(threshold=settings.threshold,
                                                   fill=settings.fill, seed=config.seed,
                                                   fractions=tuple(settings.road_fractions),
                                                   road_noise_std=settings.road_noise_std))
    excluded = [Exclusion(samples[i].image_id, "metrics", f"faithfulness: {reason}",
                          samples[i].source, model.name, method)
                for i, reason in sorted(scores.excluded.items())]
    return (object_metric_rows(samples, part, scores.values, model.name, method, class_names),
            excluded)


def _public_config(config: RunConfig) -> dict:
    """The config for run.json: the LLM server URL without user info or query (either may
    carry a credential; the API key itself is never in the config)."""
    data = config.model_dump(mode="json")
    data["narrative"]["base_url"] = redact_url(data["narrative"]["base_url"])
    return data


def _replay_narrative(out_dir: Path, run_info: dict, facts: FactTable,
                      findings: list[Finding]) -> list[NarrativeSection]:
    saved = run_info.get("narrative", {}).get("config")
    if saved is None:
        raise ReportgenError(f"{out_dir / 'run.json'} records no narrative settings to replay")
    written = write_narrative(facts, findings, NarrativeConfig.from_dict(
        saved, replay=True, cache_dir=out_dir / "cache" / "llm"))
    run_info["narrative"] = {**written.run_info(), "replayed": True}
    atomic_write_json(out_dir / "narrative.json", [asdict(s) for s in written.sections])
    atomic_write_json(out_dir / "run.json", run_info)
    return written.sections


def narrative_config(config: RunConfig, out_dir: Path, **overrides) -> NarrativeConfig:
    """The narrative stage's settings: the config's ``narrative`` block, the run's seed, and
    the LLM response cache in the run directory (when caching is on)."""
    cache_dir = out_dir / "cache" / "llm" if config.cache else None
    return NarrativeConfig.from_dict(config.narrative.model_dump(mode="json"),
                                     seed=config.seed, cache_dir=cache_dir, **overrides)


def cam_grid(model) -> tuple[int, int] | None:
    """(rows, cols) of the target layer's output: the resolution the random baseline mimics."""
    shape: list[tuple[int, ...]] = []
    hook = model.target_layer.register_forward_hook(lambda m, i, o: shape.append(tuple(o.shape)))
    try:
        size = model.spec.preprocessing.size
        with torch.no_grad():
            model.module(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        hook.remove()
    return shape[0][-2:] if shape and len(shape[0]) == 4 else None


def _fact_rows(stats: pd.DataFrame) -> pd.DataFrame:
    """The statistics that become facts (stats.csv keeps every group).

    Left out, because nothing shown or checked reads them and they would be most of
    facts.json: the correct/misclassified subsets of single classes (the subsets are compared
    pooled over classes), and per-fraction ROAD points (``road.morf@0.3``) other than pooled
    over classes and subsets (they draw one figure)."""
    curve = stats["metric"].str.contains("@", regex=False)
    pooled_class = stats["class_name"] == ALL_CLASSES
    all_samples = stats["subset"] == "all"
    return stats[(all_samples | pooled_class) & (~curve | (pooled_class & all_samples))]


def _accuracy_facts(scores: pd.DataFrame, facts: FactTable) -> None:
    if scores.empty:
        return
    per_image = scores.drop_duplicates(["model", "method", "image_id", "object_id"])
    # precomputed heatmaps and baselines have no prediction
    per_image = per_image[(per_image["predicted_class"] != "") & per_image["correct"].notna()]
    for (model, method), group in per_image.groupby(["model", "method"], sort=True):
        facts.add_value("model.accuracy", 100.0 * group["correct"].astype(bool).mean(),
                        len(group),
                        "percent", "higher", model=model, method=method)


def render_run(out_dir: str | Path, run_info: dict | None = None, *,
               llm_replay: bool = False) -> Path:
    """(Re)build report.html and report.pdf from a run directory's saved outputs.

    ``llm_replay`` rewrites the narrative first, answering every LLM request from the run's
    response cache (cache/llm) and never calling an LLM: a request the cache lacks falls back
    to the template writer for that section.
    """
    out_dir = Path(out_dir)
    try:
        if run_info is None:
            run_info = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
        facts_data = json.loads((out_dir / "facts.json").read_text("utf-8"))
        facts = FactTable.from_dict(facts_data)
        findings = [Finding(**f) for f in facts_data.get("findings", [])]
        stats = pd.read_csv(out_dir / "stats.csv")
        exclusions = pd.read_csv(out_dir / "exclusions.csv", dtype=str).fillna("")
        narrative = [NarrativeSection(**s) for s in
                     json.loads((out_dir / "narrative.json").read_text(encoding="utf-8"))]
    except FileNotFoundError as exc:
        raise ReportgenError(f"{out_dir} is not a complete run directory: {exc.filename} is "
                             "missing") from None
    if llm_replay:
        narrative = _replay_narrative(out_dir, run_info, facts, findings)
    gallery_path = out_dir / GALLERY_FILE
    settings = run_info.get("config", {}).get("report", {})
    context = build_context(facts=facts, stats=stats, narrative=narrative, findings=findings,
                            exclusions=exclusions, run=run_info,
                            part_names=run_info["dataset"]["part_names"],
                            class_names=run_info["dataset"]["class_names"],
                            gallery=load_gallery(gallery_path) if gallery_path.exists() else [],
                            gallery_max_parts=settings.get("gallery_max_parts", 12),
                            max_class_figures=settings.get("max_class_figures", 4),
                            gallery_max_figures=settings.get("gallery_max_figures", 8))
    html = render_html(context)
    atomic_write_text(out_dir / "report.html", html)
    refused = write_pdf(html, out_dir / "report.pdf")
    if refused:
        raise ReportgenError(f"the report refers to external resources: {refused[:3]}")
    write_card(out_dir, inputs=CardInputs(facts, findings, narrative, run_info))
    return out_dir / "report.html"
