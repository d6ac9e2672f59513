"""Load: open the dataset, load the models, build the heatmap engines and open the cache.

``open_inputs(config, out_dir)`` returns ``RunInputs``, which iterates the dataset as
``Batch`` objects (samples and the items that could not be read) for the streaming stages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reportgen.analysis.grouping import unknown_expected_names
from reportgen.config import RunConfig
from reportgen.data import load_dataset
from reportgen.data.heatmap_files import open_heatmaps
from reportgen.data.loader import iter_batches
from reportgen.data.sample import Sample
from reportgen.errors import ConfigError, ReportgenError
from reportgen.exclusions import Exclusion
from reportgen.heatmaps import HeatmapCache, HeatmapEngine, make_method
from reportgen.models.loading import LoadedModel, load_model
from reportgen.vocab import ALL_CLASSES, BACKGROUND, RESERVED_CHARACTERS

HEATMAP_CACHE = Path("cache") / "heatmaps"  # inside the run directory


@dataclass(frozen=True)
class Batch:
    """One batch of the dataset: ``number`` (0-based), ``samples``, the ``unreadable`` items
    (data-stage exclusions) and ``seen_before``, the items of the earlier batches."""

    number: int
    samples: list[Sample]
    unreadable: list[Exclusion]
    seen_before: int

    @property
    def size(self) -> int:
        return len(self.samples) + len(self.unreadable)


@dataclass
class RunInputs:
    """Everything the streaming stages read: the open dataset, the loaded models with their
    output names (by output index), one engine per (model, method), the precomputed heatmap
    sources, the heatmap cache and the CAM grid the random baseline mimics."""

    config: RunConfig
    dataset: Any
    models: list[LoadedModel]
    engines: dict[tuple[int, str], HeatmapEngine]  # (model index, method)
    external: list[tuple[Any, Any]]
    cache: Any
    device: torch.device
    output_names: dict[str, list[str]] = field(default_factory=dict)
    grid: tuple[int, int] | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names)

    @property
    def part_names(self) -> list[str]:
        return list(self.dataset.part_names)

    def batches(self) -> Iterator[Batch]:
        seen = 0
        for number, items in enumerate(iter_batches(self.dataset, self.config.batch_size,
                                                    self.config.workers)):
            batch = Batch(number, [s for s in items if isinstance(s, Sample)],
                          [e for e in items if isinstance(e, Exclusion)], seen)
            seen += batch.size
            yield batch


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


def open_inputs(config: RunConfig, out_dir: Path) -> RunInputs:
    """Open the dataset (its index only), load the models on the config's device and build
    one cached engine per (model, method); fails fast on names the facts cannot hold and
    when an optional method's extra is missing."""
    device = choose_device(config.device)
    dataset = load_dataset(config.dataset.to_spec(), limit=config.limit)
    models = [load_model(m.to_spec(), device) for m in config.models]
    cache = HeatmapCache.open(out_dir / HEATMAP_CACHE, enabled=config.cache)
    engines = {(i, name): HeatmapEngine(m, make_method(
                   name, **config.method_params.get(name, {})), cache)
               for i, m in enumerate(models) for name in config.methods}
    external = [(h, open_heatmaps(h.path)) for h in config.heatmaps]
    check_names(dataset, models)
    classes = list(dataset.class_names)
    outputs = {m.name: output_names(m, classes, dataset.name, config.target) for m in models}
    check_expected_parts(config.analysis.expected_parts, classes, outputs, dataset.part_names)
    return RunInputs(config, dataset, models, engines, external, cache, device, outputs,
                     cam_grid(models[0]) if models else None)


def clear_heatmap_cache(out_dir: Path) -> int:
    """Delete the run's cached heatmaps (``--no-resume``); returns the files removed."""
    return HeatmapCache.clear(Path(out_dir) / HEATMAP_CACHE)


def output_names(model: LoadedModel, class_names: list[str], dataset: str, target: str
                 ) -> list[str]:
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


def check_names(dataset, models: list[LoadedModel]) -> None:
    """A clear error for names the facts table cannot hold: the dataset's classes and parts,
    the models' names and their own output names (fact-id dimensions and placeholders
    reserve ``{ } | =``)."""
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


def check_expected_parts(expected: dict[str, list[str]], classes: list[str],
                         outputs: dict[str, list[str]], parts: list[str]) -> None:
    """A ConfigError naming the classes and parts of ``analysis.expected_parts`` that are
    neither a dataset class nor a model's output name, nor a dataset part (or background)."""
    known = {*classes, *(n for names in outputs.values() for n in names)}
    bad_classes, bad_parts = unknown_expected_names(expected, known, parts)
    problems = []
    if bad_classes:
        problems.append(f"the class(es) {bad_classes[:5]} are neither dataset classes nor "
                        "outputs of a model")
    if bad_parts:
        problems.append(f"the part(s) {bad_parts[:5]} are not parts of the dataset (its parts: "
                        f"{', '.join(parts)}; or {BACKGROUND})")
    if problems:
        raise ConfigError(f"analysis.expected_parts: {'; '.join(problems)}")


def cam_grid(model: LoadedModel) -> tuple[int, int] | None:
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
