"""Score: each explainer's heatmaps through the scorers, streamed batch by batch.

``ScoreStage.update(batch, explained)`` scores one batch with the region scorers (PQAH,
localisation; one preparation per batch and size) and, for the first
``faithfulness.max_samples`` samples of a model's heatmaps, with the model scorers
(faithfulness, ROAD); it offers the scored rows to the gallery and counts, per sample (one
object of an image), whether any explainer scored it. ``compute()`` returns the ``Scored``
tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reportgen.config import RunConfig
from reportgen.exclusions import EXCLUSION_COLUMNS, Exclusion
from reportgen.metrics.scorers import ModelInputs
from reportgen.scoring import (
    BatchScores,
    PartsRequest,
    ScoredParts,
    empty_scores,
    frame,
    region_scorers,
    score_many,
    score_with_model,
)
from reportgen.scoring.gallery import GalleryCollector
from reportgen.stages.explain import Explained
from reportgen.stages.load import Batch


@dataclass(frozen=True)
class SampleCounts:
    """Per sample (an object of an image): ``total`` items the dataset yielded (samples and
    unreadable items), ``scored`` samples with a score from at least one explainer (the
    baselines do not count), ``excluded`` = total - scored, and ``partial``: scored samples
    that still miss some scores (an explainer or a metric family excluded them; listed in
    exclusions.csv)."""

    total: int
    scored: int
    partial: int

    @property
    def excluded(self) -> int:
        return self.total - self.scored


@dataclass(frozen=True)
class Scored:
    """The score stage's output: the tidy ``scores`` table, the ``exclusions`` table and the
    sample ``counts``."""

    scores: pd.DataFrame
    exclusions: pd.DataFrame
    counts: SampleCounts


class ScoreStage:
    """Streaming: ``update`` per batch, ``compute`` once at the end."""

    def __init__(self, config: RunConfig, gallery: GalleryCollector):
        self.config = config
        self.gallery = gallery
        self._frames: list[pd.DataFrame] = []
        self._exclusions: list[Exclusion] = []
        self._total = 0
        self._scored: set[tuple[str, int]] = set()
        self._lacking: set[tuple[str, int | None]] = set()

    def update(self, batch: Batch, explained: list[Explained],
               missing: list[Exclusion] = ()) -> None:
        """Score one batch: ``explained`` from the explain stage, ``missing`` the samples a
        precomputed heatmap set lacks.

        Explainers share the batch's stacked regions, every explainer's size groups are scored
        side by side (``score_many``), and consecutive explainers' rows become one DataFrame
        (``_flush``): the same rows, in the same order, as one frame each.
        """
        self._total += batch.size
        self._exclusions += batch.unreadable
        self._add_exclusions(missing)
        shared_regions: dict = {}  # each group's regions, stacked once for all explainers
        requests = [PartsRequest(e.samples, e.heat, e.model_name, e.method, e.output_names,
                                 None if e.scorers is None else
                                 [sc for sc in region_scorers() if sc.name in e.scorers])
                    for e in explained]
        pending: list[tuple[Explained, ScoredParts]] = []
        for e, parts in zip(explained, score_many(requests, shared_regions), strict=True):
            pending.append((e, parts))
            n = self._faithfulness_quota(batch, len(e.samples)) if e.model else 0
            if n:
                self._flush(pending)
                self._add(self._score_with_model(e, n), e)
        self._flush(pending)

    def _flush(self, pending: list[tuple[Explained, ScoredParts]]) -> None:
        """Add the ``pending`` explainers' rows as one frame (an explainer without rows as its
        own empty frame, as before), offer each its slice for the gallery, and clear it."""
        run: list[tuple[Explained, ScoredParts]] = []
        for e, parts in [*pending, (None, None)]:
            if parts is not None and parts.columns is not None:
                run.append((e, parts))
                continue
            if run:
                table, start = frame([p for _, p in run]), 0
                self._frames.append(table)
                for e_run, p in run:
                    rows = table.iloc[start:start + p.n_rows]
                    start += p.n_rows
                    self._add_scored(BatchScores(rows, p.exclusions, p.groups), e_run)
                run = []
            if parts is not None:  # no rows
                scored = BatchScores(empty_scores(), parts.exclusions, parts.groups)
                self._frames.append(scored.table)
                self._add_scored(scored, e)
        pending.clear()

    def _add_scored(self, scored: BatchScores, e: Explained) -> None:
        """Region scores of ``e`` whose table is already among the frames."""
        self._add_exclusions(scored.exclusions)
        self._count_scored(scored, e)
        if e.in_gallery:
            self.gallery.update(e.model_name, e.method, e.samples, scored)

    def _score_with_model(self, e: Explained, n: int) -> BatchScores:
        samples = e.samples[:n]
        inputs = ModelInputs(e.model.module,
                             e.model.spec.preprocessing([s.image for s in samples],
                                                        e.model.device),
                             e.heat.target[:n], self.config.faithfulness, self.config.seed)
        return score_with_model(samples, e.heat, e.model_name, e.method, e.output_names,
                                inputs)

    def _faithfulness_quota(self, batch: Batch, n: int) -> int:
        """How many of this batch's samples get model scores (the run's first max_samples
        items)."""
        settings = self.config.faithfulness
        if not settings.enabled:
            return 0
        if settings.max_samples is None:
            return n
        return max(0, min(n, settings.max_samples - batch.seen_before))

    def _add(self, scored: BatchScores, e: Explained) -> None:
        self._frames.append(scored.table)
        self._add_exclusions(scored.exclusions)
        self._count_scored(scored, e)

    def _count_scored(self, scored: BatchScores, e: Explained) -> None:
        if not e.is_baseline and not scored.table.empty:
            self._scored.update(zip(scored.table["image_id"],
                                    scored.table["object_id"].astype(int), strict=True))

    def _add_exclusions(self, exclusions: list[Exclusion]) -> None:
        self._exclusions += exclusions
        self._lacking.update((e.image_id, e.object_id) for e in exclusions)

    def compute(self) -> Scored:
        scores = pd.concat(self._frames, ignore_index=True) if self._frames else empty_scores()
        table = pd.DataFrame([e.as_row() for e in self._exclusions],
                             columns=list(EXCLUSION_COLUMNS))
        lacking_ids = {i for i, o in self._lacking if o is None}
        partial = sum(1 for key in self._scored
                      if key in self._lacking or key[0] in lacking_ids)
        return Scored(scores, table, SampleCounts(self._total, len(self._scored), partial))
