"""Explain: every explainer's heatmaps for one batch.

The explainers, in the order their scores are written: each model x method (through the
cached engine; heatmaps stay on the model's device), then the random, centre and oracle
baselines (the ``baseline`` pseudo-model, explaining the ground truth), then each set of precomputed
heatmaps (read from files; samples without one are excluded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.data.heatmap_files import heatmap_groups
from reportgen.data.sample import Sample
from reportgen.exclusions import Exclusion
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.heatmaps.baselines import BASELINES, baseline_heatmaps
from reportgen.models.loading import LoadedModel
from reportgen.scoring.parallel import map_groups
from reportgen.stages.load import Batch, RunInputs
from reportgen.vocab import BASELINE_MODEL, ORACLE


@dataclass(frozen=True)
class Explained:
    """One explainer's heatmaps of (some of) a batch's samples.

    ``heat.heatmaps[i]`` belongs to ``samples[i]``; ``output_names`` names the indices in
    ``heat.predicted`` / ``heat.target``; ``model`` is the loaded model for model scorers
    (None for baselines and precomputed heatmaps, which have no model to re-run);
    ``in_gallery``: whether the gallery may show these heatmaps; ``scorers``: the names of
    the region scorers that apply (the oracle needs only PQAH's background share).
    """

    model_name: str
    method: str
    samples: list[Sample]
    heat: HeatmapBatch
    output_names: list[str]
    model: LoadedModel | None = None
    in_gallery: bool = True
    scorers: tuple[str, ...] | None = None  # the region scorers to run (None: all)

    @property
    def is_baseline(self) -> bool:
        return self.model_name == BASELINE_MODEL


class ExplainStage:
    """Streaming: ``update(batch)`` explains one batch with every explainer of the run."""

    def __init__(self, inputs: RunInputs):
        self.inputs = inputs
        self.config = inputs.config

    def update(self, batch: Batch) -> tuple[list[Explained], list[Exclusion]]:
        """The batch's heatmaps per explainer, and the samples a precomputed set lacks."""
        samples = batch.samples
        if not samples:
            return [], []
        out: list[Explained] = []
        for i, model in enumerate(self.inputs.models):
            names = self.inputs.output_names[model.name]
            classes = ([names.index(s.class_name) for s in samples]
                       if self.config.target == "ground_truth" else None)
            for method in self.config.methods:
                heat = self.inputs.engines[i, method].explain([s.image for s in samples],
                                                              classes, on_device=True)
                out.append(Explained(model.name, method, samples, heat, names, model))
        classes = self.inputs.class_names
        for name in BASELINES:
            for idx, heat in baseline_batch(samples, name, (self.config.seed, batch.number),
                                            self.inputs.grid):
                out.append(Explained(BASELINE_MODEL, name, [samples[i] for i in idx], heat,
                                     classes, in_gallery=False,
                                     scorers=("pqah",) if name == ORACLE else None))
        missing: list[Exclusion] = []
        for spec, source in self.inputs.external:
            groups, lacking = heatmap_groups(samples, source, spec.model, spec.method)
            missing += lacking
            for group in groups:
                heat = HeatmapBatch(group.heatmaps, group.predicted,
                                    np.full(len(group.samples), np.nan, np.float32),
                                    group.target)
                out.append(Explained(spec.model, spec.method, group.samples, heat, classes))
        return out, missing

    def cache_counts(self) -> dict[str, int]:
        """Heatmaps computed afresh and taken from the cache, over all engines."""
        engines = self.inputs.engines.values()
        return {"computed": sum(e.computed for e in engines),
                "reused": sum(e.reused for e in engines)}


def baseline_batch(samples: Sequence[Sample], name: str, seed: tuple[int, ...],
                   grid: tuple[int, int] | None) -> list[tuple[list[int], HeatmapBatch]]:
    """Baseline heatmaps (``random`` / ``center`` / ``oracle``) for ``samples``, grouped by
    image size (the groups made side by side, ``map_groups``).

    Baselines have no prediction (-1) and explain the ground-truth class. ``grid``: the CAM
    grid the random baseline's blobs and the oracle's blur mimic.
    """
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_size[s.size].append(i)

    def make(job: tuple[int, tuple[tuple[int, int], list[int]]]) -> HeatmapBatch:
        k, (size, idx) = job
        options = {"grid": grid} if name != "center" and grid else {}
        if name == ORACLE:
            options["objects"] = np.stack([samples[i].object_region() for i in idx])
        n = len(idx)
        return HeatmapBatch(baseline_heatmaps(name, n, size, (*seed, k), **options),
                            np.full(n, -1, np.int64), np.full(n, np.nan, np.float32),
                            np.array([samples[i].class_index for i in idx]))

    groups = list(enumerate(sorted(by_size.items())))  # seeded by group: any thread, same maps
    return [(idx, heat) for (_, (_, idx)), heat in zip(groups, map_groups(make, groups),
                                                       strict=True)]
