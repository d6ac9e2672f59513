"""The ray engine (``engine: ray``): the explain and score stages as the map step of a Ray
Data pipeline, and the driver's view of their output.

The source rows are the run's batches (number, first and last read task of the dataset),
the same batches the local engine makes, so batch-seeded baselines and the faithfulness quota
("the first ``max_samples`` items") come out the same. ``Dataset.map_batches`` runs them on a
pool of ``ExplainAndScore`` actors (``ActorPoolStrategy``): each opens the dataset index and
loads the models once, then per batch reads its samples and runs ``ExplainStage`` and
``ScoreStage`` (the local engine's code) and writes the batch's shard to
``cache/scores/<config fingerprint>/``: ``scores-K.parquet``, ``exclusions-K.json``,
``gallery-K.npz`` and, last, ``done-K.json`` (the counts). Heatmaps go to the run's
content-addressed heatmap cache, so a killed ray run resumes (batches with a ``done`` file are
skipped) and a local re-run reuses the heatmaps. The driver then reads the shards in batch
order (pyarrow), so the scores table, and every fact made from it, equals the local engine's.

Needs a shared file system between the driver and the workers (the run directory, dataset and
weights at the same paths), and a dataset format with one item per read task (every
built-in format but ``pascal_part``, whose files hold several objects).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.config import RunConfig
from reportgen.data.base import TaskDataset
from reportgen.data.sample import Sample
from reportgen.errors import ConfigError, ReportgenError
from reportgen.exclusions import EXCLUSION_COLUMNS, Exclusion
from reportgen.io import atomic_write, atomic_write_json
from reportgen.scoring import empty_scores
from reportgen.scoring.gallery import (
    GalleryCollector,
    load_gallery,
)
from reportgen.stages.counterfactual import CounterfactualStage
from reportgen.stages.explain import ExplainStage
from reportgen.stages.load import Batch, RunInputs, open_inputs, seed_everything
from reportgen.stages.score import SampleCounts, Scored, ScoreStage

SHARDS = Path("cache") / "scores"  # inside the run directory, one folder per config
READ_CPUS = 0.5  # CPUs left to Ray Data's read tasks on a CPU-only cluster

Advance = Callable[[int, int], None]


def plan_batches(dataset, batch_size: int) -> list[dict[str, int]]:
    """The run's batches as read-task ranges: ``number``, ``start``, ``stop`` (the local
    engine's batches when every read task yields one item)."""
    if not isinstance(dataset, TaskDataset) or (
            type(dataset).item_filter is not TaskDataset.item_filter):
        raise ConfigError(f"engine ray: the {dataset.format} format reads several samples "
                          "per file (or filters them in order), so its batches cannot be "
                          "planned up front; use engine: local")
    n = len(dataset.tasks())
    n = n if dataset.limit is None else min(n, dataset.limit)
    return [{"number": k, "start": s, "stop": min(s + batch_size, n)}
            for k, s in enumerate(range(0, n, batch_size))]


def shard_dir(out_dir: Path, config: RunConfig) -> Path:
    """Where this config's batch shards live (the engine is not part of the key)."""
    key = config.model_copy(update={"engine": "local"}).fingerprint()
    return Path(out_dir) / SHARDS / key


def clear_shards(out_dir: Path) -> int:
    """Delete the run directory's batch shards (``--no-resume``); returns the files removed."""
    root = Path(out_dir) / SHARDS
    files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    shutil.rmtree(root, ignore_errors=True)
    return len(files)


class ExplainAndScore:
    """Ray Data callable class: the models load once (``__init__``); ``__call__`` explains
    and scores the batches of ``rows`` and writes their shards."""

    def __init__(self, config: RunConfig, out_dir: str, shards: str, gallery: GalleryCollector,
                 threads: int = 1):
        import torch

        torch.set_num_threads(threads)
        seed_everything(config.seed)
        self.inputs = open_inputs(config, Path(out_dir))
        self.tasks = self.inputs.dataset.tasks()
        self.shards = Path(shards)
        self.gallery = gallery

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done = [self.run_batch(int(k), int(a), int(b))
                for k, a, b in zip(rows["number"], rows["start"], rows["stop"], strict=True)]
        return {key: np.array([d[key] for d in done]) for key in done[0]}

    def run_batch(self, number: int, start: int, stop: int) -> dict[str, int]:
        dataset = self.inputs.dataset
        items = []
        for task in self.tasks[start:stop]:
            read = dataset.run_task(task)
            if len(read) != 1:
                raise ReportgenError(f"engine ray: a read task of {dataset.format} gave "
                                     f"{len(read)} items, not 1")
            items += read
        batch = Batch(number, [s for s in items if isinstance(s, Sample)],
                      [e for e in items if isinstance(e, Exclusion)], start)
        explain = ExplainStage(self.inputs)
        before = explain.cache_counts()
        score = ScoreStage(self.inputs.config, copy.deepcopy(self.gallery))
        score.update(batch, *explain.update(batch))
        scored = score.compute()
        after = explain.cache_counts()
        counts = {"number": number, "total": scored.counts.total,
                  "scored": scored.counts.scored, "partial": scored.counts.partial,
                  **{k: after[k] - before[k] for k in after}}
        write_shard(self.shards, number, scored, score.gallery, counts)
        return counts


def write_shard(shards: Path, number: int, scored: Scored, gallery: GalleryCollector,
                counts: dict[str, int]) -> None:
    """One batch's files, each atomically; ``done-K.json`` last (a batch without it reruns)."""
    shards.mkdir(parents=True, exist_ok=True)
    scores = scored.scores
    atomic_write(shards / f"scores-{number:06d}.parquet",
                 lambda p: scores.to_parquet(p, index=False))
    rows = scored.exclusions.astype(object).where(scored.exclusions.notna(), None)
    atomic_write_json(shards / f"exclusions-{number:06d}.json", rows.to_dict("records"))
    if gallery.entries():
        gallery.save(shards / f"gallery-{number:06d}.npz")
    atomic_write_json(shards / f"done-{number:06d}.json", counts)


@dataclass
class RayRun:
    """The driver's view of the shards: ``compute()`` like ``ScoreStage``, ``cache_counts``
    like ``ExplainStage`` and ``gallery`` (with ``save``) for publish."""

    shards: Path
    numbers: list[int]
    gallery: GalleryCollector
    counts: list[dict[str, int]] = field(default_factory=list)

    def cache_counts(self) -> dict[str, int]:
        return {k: sum(c[k] for c in self.counts) for k in ("computed", "reused")}

    def compute(self) -> Scored:
        import pyarrow.parquet as pq

        frames = [pq.read_table(self.shards / f"scores-{k:06d}.parquet").to_pandas()
                  for k in self.numbers]
        scores = pd.concat(frames, ignore_index=True) if frames else empty_scores()
        rows = [r for k in self.numbers for r in json.loads(
            (self.shards / f"exclusions-{k:06d}.json").read_text(encoding="utf-8"))]
        table = pd.DataFrame(rows, columns=list(EXCLUSION_COLUMNS))
        return Scored(scores, table, SampleCounts(*(sum(c[k] for c in self.counts)
                                                   for k in ("total", "scored", "partial"))))


def actor_resources(config: RunConfig, cluster: dict, actors: int | None
                    ) -> tuple[int, float, float]:
    """(actors, CPUs per actor, GPUs per actor): one actor per GPU on CUDA; on CPUs, below
    the CPU count with ``READ_CPUS`` left for reading (two actors holding the only two CPUs
    starve the read tasks and nothing progresses)."""
    gpus, cpus = float(cluster.get("GPU", 0)), float(cluster.get("CPU", 1))
    if config.device.startswith("cuda") or (config.device == "auto" and gpus > 0):
        n = actors or max(1, int(gpus))
        return n, max(0.25, (cpus - READ_CPUS) / n), min(1.0, gpus / n)
    n = actors or max(1, int(cpus - READ_CPUS))
    return n, max(0.25, (cpus - READ_CPUS) / n), 0.0


def connect(address: str | None = None) -> bool:
    """Join the Ray cluster at ``address`` (default ``$RAY_ADDRESS``; none: start a local
    one), unless this process already did; True when this call connected (the caller then
    calls ``ray.shutdown``). An unreachable address is a one-line ReportgenError."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address not in ("auto", "local") and "://" not in address:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise ReportgenError(f"engine ray: no Ray cluster at RAY_ADDRESS={address} "
                                 f"({getattr(exc, 'strerror', None) or exc}); start one with "
                                 "'ray start --head' or unset RAY_ADDRESS") from None
    try:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportgenError(f"engine ray: cannot join the Ray cluster at {address}: "
                             f"{line}") from None
    return True


def run_on_ray(inputs: RunInputs, out_dir: Path, gallery: GalleryCollector,
               swap: CounterfactualStage, advance: Advance | None = None,
               actors: int | None = None) -> RayRun:
    """Explain and score ``inputs`` on Ray, feed the background-swap test its samples (read
    here: only its first ``max_samples``), and return the shards' ``RayRun``."""
    import ray

    config = inputs.config
    plan = plan_batches(inputs.dataset, config.batch_size)
    shards = shard_dir(out_dir, config)
    if not config.cache and shards.exists():
        shutil.rmtree(shards)
    pending = [b for b in plan if not (shards / f"done-{b['number']:06d}.json").exists()]
    started = connect()
    try:
        if pending:
            _map(ray, inputs, out_dir, shards, gallery, pending, advance, actors,
                 len(inputs.dataset))
    finally:
        if started:
            ray.shutdown()
    for batch in inputs.batches():  # the swap test keeps the first usable samples
        if not swap.enabled or swap.full:
            break
        swap.update(batch)
    run = RayRun(shards, [b["number"] for b in plan], gallery)
    for b in plan:
        k = b["number"]
        counts = json.loads((shards / f"done-{k:06d}.json").read_text(encoding="utf-8"))
        if b in pending:
            run.counts.append(counts)
        else:  # resumed: its heatmaps count as reused
            run.counts.append({**counts, "computed": 0,
                               "reused": counts["computed"] + counts["reused"]})
        if (shards / f"gallery-{k:06d}.npz").exists():
            run.gallery.merge(load_gallery(shards / f"gallery-{k:06d}.npz"))
    return run


def _map(ray, inputs: RunInputs, out_dir: Path, shards: Path, gallery: GalleryCollector,
         pending: list[dict[str, int]], advance: Advance | None, actors: int | None,
         total: int) -> None:
    ray.data.DataContext.get_current().enable_progress_bars = False  # the CLI has its own
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no plan lines; warnings stay
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "disabled"
    n, cpus, gpus = actor_resources(inputs.config, ray.cluster_resources(), actors)
    rows = ray.data.from_items(pending, override_num_blocks=len(pending))
    scored = rows.map_batches(
        ExplainAndScore, batch_size=1, compute=ray.data.ActorPoolStrategy(size=n),
        fn_constructor_args=(inputs.config, str(out_dir), str(shards), gallery,
                             max(1, int(cpus))),
        num_cpus=cpus, num_gpus=gpus or None)
    done = total - sum(b["stop"] - b["start"] for b in pending)
    sizes = {b["number"]: b["stop"] - b["start"] for b in pending}
    for row in scored.iter_rows():
        done += sizes[int(row["number"])]
        if advance:
            advance(done, total)
