"""Wires the stages (``reportgen.stages``) into a run and owns the run directory.

``run_pipeline`` is the whole flow: load, then per batch explain and score (and keep samples
for the background-swap test), then the background swap, aggregate,
find, narrate, publish and render. ``render_run`` redoes only the last stage from the saved
outputs of a run directory.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.conditions import ConditionResult
from reportgen.config import RunConfig
from reportgen.errors import ReportgenError
from reportgen.run_dir import Staging, artifact_hashes, exclusive
from reportgen.run_record import RUN_FILE
from reportgen.scoring.gallery import GalleryCollector
from reportgen.stages.aggregate import aggregate, grouping_of
from reportgen.stages.counterfactual import CounterfactualStage, with_counterfactual
from reportgen.stages.explain import ExplainStage
from reportgen.stages.find import find
from reportgen.stages.load import RunInputs, open_inputs, seed_everything
from reportgen.stages.narrate import narrate
from reportgen.stages.publish import publish
from reportgen.stages.ray_engine import run_on_ray
from reportgen.stages.record import run_record
from reportgen.stages.render import render_run
from reportgen.stages.score import ScoreStage

__all__ = ["NoSampleScored", "RunResult", "render_run", "run_pipeline"]

Progress = Callable[[str, int, int], None]


class NoSampleScored(ReportgenError):
    """The run finished, but no sample could be scored (the report shows the exclusions)."""


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


def run_pipeline(config: RunConfig, out_dir: str | Path, progress: Progress | None = None
                 ) -> RunResult:
    """Run every stage of ``config`` into ``out_dir`` and write the run directory.

    The directory is locked for the run; its files are written to a staging folder and moved
    in together at the end (run.json last), so it never holds parts of two runs.
    """
    out_dir, timer = Path(out_dir), StageTimer(progress)
    seed_everything(config.seed)
    with exclusive(out_dir), Staging(out_dir) as staging:
        with timer.stage("load"):
            inputs = open_inputs(config, out_dir)
        explain = ExplainStage(inputs)
        score = ScoreStage(config, _gallery(inputs))
        swap = CounterfactualStage(inputs)
        with timer.stage("heatmaps_and_scores"):
            if config.engine == "ray":  # the same two stages on a Ray cluster
                explain = score = run_on_ray(inputs, out_dir, score.gallery, swap, timer.advance)
            for batch in inputs.batches() if config.engine == "local" else ():
                score.update(batch, *explain.update(batch))
                swap.update(batch)
                timer.advance(batch.seen_before + batch.size, len(inputs.dataset))
        with timer.stage("background_swap"):
            scored = with_counterfactual(score.compute(), swap)
        with timer.stage("statistics"):
            aggregated = aggregate(scored, config.seed, grouping_of(config, inputs))
            found = find(scored.scores, aggregated.facts, config, aggregated.grouping)
        with timer.stage("narrative"):
            narrative = narrate(found.facts, found.findings, config.narrative, out_dir,
                                seed=config.seed, cache=config.cache)
        record = run_record(config, inputs, explain, scored, found, narrative)
        with timer.stage("write_data"):
            publish(staging.path, scored, aggregated, found, narrative,
                    score.gallery if config.report.gallery else None)
            record.artifacts = artifact_hashes(staging.path)
        with timer.stage("report"):
            render_run(staging.path, record)
        record.timings = timer.timings
        record.write(staging.path)
        staging.publish(last=[RUN_FILE])
    nothing_scored(scored)
    return RunResult(out_dir, found.facts, scored.scores, scored.exclusions, found.findings,
                     found.conditions, timer.timings)


def nothing_scored(scored) -> None:
    """A run in which no sample could be scored fails (exit 2) after writing what it has,
    with the exclusions counted by reason."""
    if scored.counts.scored:
        return
    table = scored.exclusions
    # The reason without the file it names: "8 x not a readable image", not eight lines.
    reasons = pd.Series([r.removeprefix(f"{src}: ") if src else r
                         for r, src in zip(table["reason"], table["source"], strict=True)],
                        dtype=object).value_counts()
    detail = ("; ".join(f"{n} x {r}" for r, n in reasons.head(5).items())
              if len(reasons) else "the dataset is empty")
    raise NoSampleScored(f"no sample could be scored ({scored.counts.total} in the dataset): "
                         f"{detail}")


def _gallery(inputs: RunInputs) -> GalleryCollector:
    """The gallery collects the models' and precomputed heatmaps' examples (none when the
    report shows no gallery)."""
    return GalleryCollector(inputs.part_names, include_baselines=False,
                            include_models=None if inputs.config.report.gallery else ())


class StageTimer:
    """Stage wall times; announces each stage to ``progress`` as (stage, 0, 0) when it
    starts, and ``advance`` reports items done out of the dataset's length."""

    def __init__(self, progress: Progress | None = None):
        self.timings: dict[str, float] = {}
        self.progress = progress
        self._current = ""

    @contextlib.contextmanager
    def stage(self, name: str):
        self._current = name
        if self.progress:
            self.progress(name, 0, 0)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)

    def advance(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(self._current, done, total)
