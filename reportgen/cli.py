"""The ``reportgen`` command line.

Exit codes: 0 ok, 1 a declared condition failed, 2 usage or input error.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

import reportgen
from reportgen.errors import ReportgenError

app = typer.Typer(
    help="Quantitative, plain-language reports on the explanation heatmaps of image "
         "classifiers (PQAH part analysis, statistics, narrative, HTML/PDF report).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        print(f"reportgen {reportgen.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 (typer needs Optional)
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """reportgen: measure where explanation heatmaps put their heat."""


class _Images(ProgressColumn):
    """``done/total images, rate images/s`` on the heatmap stage (the rate averages the whole
    stage so far, model warm-up included); nothing on the other stages."""

    def render(self, task) -> Text:
        if not task.fields.get("images"):
            return Text("")
        rate = task.fields.get("rate")
        shown = f"{rate:.1f} images/s" if rate else "– images/s"
        return Text(f"{task.completed:.0f}/{task.total or 0:.0f} images, {shown}", style="cyan")


def _finish(bar: Progress, task: int) -> None:
    """Fill a stage's bar and freeze its clock (its images/s stays the stage's average)."""
    if not bar.tasks[task].finished:
        total = bar.tasks[task].total or bar.tasks[task].completed or 1
        bar.update(task, total=total, completed=total)
        bar.stop_task(task)


def _with_flags(config, source: str, overrides: dict | None = None, fail_if=None,
                llm: str | None = None, llm_model: str | None = None,
                llm_base_url: str | None = None):
    """The config with the command line's flags applied, validated once: ``overrides``
    replace top-level keys, ``fail_if`` adds conditions, the --llm* flags set the narrative."""
    if llm is not None:
        from reportgen.narrative.writers import writer_names

        if llm not in writer_names():
            raise ReportgenError(f"--llm must be one of {', '.join(writer_names())}, not "
                                 f"{llm!r}")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    narrative = {k: v for k, v in (("writer", llm), ("model", llm_model),
                                   ("base_url", llm_base_url)) if v is not None}
    if not (overrides or fail_if or narrative):
        return config
    from reportgen.config_yaml import config_from_dict

    raw = {**config.model_dump(), **overrides}
    if fail_if:
        raw["fail_if"] = [*config.fail_if, *fail_if]
    if narrative:
        raw["narrative"] = {**raw["narrative"], **narrative}
    return config_from_dict(raw, source=source)


def _run_with_progress(config, out: Path, quiet: bool, verbose: bool = False,
                       resume: bool = True) -> None:
    from reportgen.pipeline import run_pipeline

    if not resume:
        from reportgen.stages.load import clear_heatmap_cache
        from reportgen.stages.ray_engine import clear_shards

        removed = clear_heatmap_cache(out) + clear_shards(out)
        if verbose:
            console.print(f"--no-resume: removed {removed} cached heatmap files", highlight=False)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), _Images(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  disable=quiet) as bar:
        tasks: dict[str, int] = {}
        started: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:  # a new stage: the previous one is done
                for earlier in tasks.values():
                    _finish(bar, earlier)
                tasks[stage] = bar.add_task(stage.replace("_", " "), total=None,
                                            images=stage == "heatmaps_and_scores")
                started[stage] = time.perf_counter()
            if total:
                seconds = time.perf_counter() - started[stage]
                bar.update(tasks[stage], completed=done, total=total,
                           rate=done / seconds if seconds > 0 else None)

        result = run_pipeline(config, out, progress=progress)
        for task in tasks.values():
            _finish(bar, task)
    if verbose:
        for stage, seconds in result.timings.items():
            console.print(f"stage {stage}: {seconds:.2f} s", highlight=False)
    scored = result.facts["run.samples.scored"].display
    excluded = result.facts["run.samples.excluded"].display
    console.print(f"{scored} samples scored, {excluded} excluded; "
                  f"PDF: {result.report_pdf}")
    faith = config.faithfulness
    total = int(result.facts["run.samples.total"].value)
    if faith.enabled and faith.max_samples is not None and faith.max_samples < total:
        console.print(f"faithfulness and ROAD: the first {faith.max_samples} of {total} samples "
                      "(faithfulness.max_samples; null scores all)", highlight=False)
    if config.cache:
        from reportgen.heatmaps import cache_report
        from reportgen.stages.load import HEATMAP_CACHE

        console.print(cache_report(out / HEATMAP_CACHE).describe(), highlight=False)
    for c in result.conditions:
        console.print(f"condition {c.expression!r}: {'FAILED' if c.failed else 'passed'} "
                      f"({c.reason})", highlight=False)
    print(f"Report: {result.report_html}")
    if result.failed_conditions:
        raise typer.Exit(1)


LimitOption = Annotated[Optional[int], typer.Option(  # noqa: UP045 (typer needs Optional)
    "--limit", min=1, help="Only the first N samples (a quick look).")]
DeviceOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--device", help="cpu, cuda, cuda:N or auto.")]
BatchSizeOption = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--batch-size", min=1, help="Images per batch.")]
SeedOption = Annotated[Optional[int], typer.Option("--seed", help="Run seed.")]  # noqa: UP045
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar.")]
VerboseOption = Annotated[bool, typer.Option(
    "-v", "--verbose", help="Also print each stage's wall time and cache details.")]
NoCacheOption = Annotated[bool, typer.Option(
    "--no-cache", help="Neither read nor write the heatmap and LLM caches.")]
ResumeOption = Annotated[bool, typer.Option(
    "--resume/--no-resume", help="Reuse the heatmaps already cached in --out (a killed run "
    "continues where it stopped); --no-resume deletes them and starts over.")]
LlmOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--llm", help="Narrative writer: template (default, no LLM), openai (OpenAI API or a "
    "compatible server; key from $OPENAI_API_KEY or the config's api_key_env) or local "
    "(embedded SmolLM2, extra 'local-llm'). Overrides the config's narrative.writer.")]
LlmModelOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--llm-model", help="LLM model id (narrative.model).")]
LlmUrlOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--llm-base-url", help="OpenAI-compatible server URL (narrative.base_url).")]


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    raise typer.Exit(2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path(
        "out/demo"),
    limit: LimitOption = None,
    device: DeviceOption = None,
    batch_size: BatchSizeOption = None,
    seed: SeedOption = None,
    llm: LlmOption = None,
    llm_model: LlmModelOption = None,
    llm_base_url: LlmUrlOption = None,
    resume: ResumeOption = True,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    no_cache: NoCacheOption = False,
) -> None:
    """Run the built-in sample end to end (offline, CPU): Grad-CAM heatmaps of a small
    trained CNN, PQAH scores, statistics, narrative, report.html and report.pdf."""
    from reportgen.demo import demo_config

    try:
        config = _with_flags(demo_config(cache=not no_cache), "command line",
                             {"limit": limit, "device": device, "batch_size": batch_size,
                              "seed": seed}, None, llm, llm_model, llm_base_url)
        _run_with_progress(config, out, quiet, verbose, resume)
    except ReportgenError as exc:
        _fail(exc)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Run configuration (YAML).")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path(
        "out/run"),
    limit: LimitOption = None,
    device: DeviceOption = None,
    batch_size: BatchSizeOption = None,
    seed: SeedOption = None,
    fail_if: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--fail-if", help="A CI-gate condition 'FACT OP NUMBER', e.g. "
        "'pqah.precision.q2|region=background > 0.4'; exit 1 when it holds. Repeatable; "
        "added to the config's fail_if.")] = None,
    llm: LlmOption = None,
    llm_model: LlmModelOption = None,
    llm_base_url: LlmUrlOption = None,
    resume: ResumeOption = True,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    no_cache: NoCacheOption = False,
    engine: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--engine", help="local (default) or ray: heatmaps and scores on a Ray cluster "
        "(RAY_ADDRESS, else a local one; see docs/scale-out.md).")] = None,
) -> None:
    """Run the pipeline described by CONFIG (a dataset in any supported format, models with
    local weights and/or precomputed heatmaps, CAM and attribution methods) to a report in
    --out. Heatmaps are cached in --out/cache, so a killed run resumes where it stopped.
    Exit 1 when a fail_if condition holds."""
    from reportgen.config_yaml import load_config

    try:
        cfg = load_config(config, {"limit": limit, "device": device, "batch_size": batch_size,
                                   "seed": seed, "cache": False if no_cache else None,
                                   "engine": engine})
        cfg = _with_flags(cfg, str(config), None, fail_if, llm, llm_model, llm_base_url)
        _run_with_progress(cfg, out, quiet, verbose, resume)
    except ReportgenError as exc:
        _fail(exc)


@app.command("inspect")
def inspect_command(
    dataset: Annotated[str, typer.Argument(
        help="A dataset folder, or a dataset spec file (YAML/JSON: format, root, options).")],
    fmt: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="folder, partimagenet, pascal_part or mat_labelmap (default: "
        "detected from the folder).")] = None,
    option: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--option", "-o", help="A format option KEY=VALUE (VALUE is YAML); repeatable.")] = None,
    limit: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--limit", min=1, help="Only the first N items.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not text.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with 1 when any sample has a problem.")] = False,
) -> None:
    """Check a dataset before a long run: samples per class and part, each region's pixel
    share, and every image with a problem and why. Reads every image once; runs no model."""
    import json

    from reportgen.data.inspect import inspect_dataset, render_inspection
    from reportgen.data.spec import spec_from_cli

    try:
        result = inspect_dataset(spec_from_cli(dataset, fmt, option), limit=limit)
    except ReportgenError as exc:
        _fail(exc)
    print(json.dumps(result.to_dict(), indent=2) if as_json else render_inspection(result))
    if strict and result.problems:
        raise typer.Exit(1)


def _render_settings(run_dir: Path, llm: str | None, llm_model: str | None,
                     llm_base_url: str | None):
    """The narrative settings ``render --llm ...`` writes with (None without --llm* flags):
    the run's, with the flags applied; another writer starts from its own model and URL."""
    if llm is None and llm_model is None and llm_base_url is None:
        return None
    from pydantic import ValidationError

    from reportgen.config import NarrativeSettings
    from reportgen.narrative.writers import writer_names
    from reportgen.run_record import RunRecord

    if llm is not None and llm not in writer_names():
        raise ReportgenError(f"--llm must be one of {', '.join(writer_names())}, not {llm!r}")
    saved = RunRecord.read(run_dir).narrative_settings().model_dump()
    if llm is not None and llm != saved["writer"]:
        saved |= {"writer": llm, "model": None, "base_url": None, "model_path": None}
    saved |= {k: v for k, v in (("model", llm_model), ("base_url", llm_base_url))
              if v is not None}
    try:
        return NarrativeSettings.model_validate(saved)
    except ValidationError as exc:
        raise ReportgenError(f"narrative settings: {exc.errors()[0]['msg']}") from None


@app.command()
def render(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by demo or run.")],
    llm_replay: Annotated[bool, typer.Option(
        "--llm-replay", help="Rewrite the narrative from the run's LLM response cache "
        "(cache/llm) with no LLM call; a request the cache lacks gets the template text.")
    ] = False,
    allow_modified: Annotated[bool, typer.Option(
        "--allow-modified", help="Render even when an artifact (facts.json, stats.csv ...) "
        "differs from what the run wrote; the report's provenance names the changed files.")
    ] = False,
    llm: LlmOption = None,
    llm_model: LlmModelOption = None,
    llm_base_url: LlmUrlOption = None,
) -> None:
    """Rebuild report.html, report.pdf and model_card.md of RUN_DIR from its facts.json,
    stats.csv, narrative.json, gallery.npz and exclusions.csv, with no model and no LLM
    call; with --llm (or --llm-model / --llm-base-url) the narrative is written anew first
    by that writer (the run's response cache answers what it holds)."""
    from reportgen.pipeline import render_run

    try:
        settings = _render_settings(run_dir, llm, llm_model, llm_base_url)
        html = render_run(run_dir, llm_replay=llm_replay, allow_modified=allow_modified,
                          narrative=settings)
        print(f"Report: {html}")
    except ReportgenError as exc:
        _fail(exc)


@app.command()
def card(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by demo or run.")],
    into: Annotated[Optional[Path], typer.Option(  # noqa: UP045 (typer needs Optional)
        "--into", help="Insert the card into this README or model card (replacing an "
                       "earlier reportgen block) instead of writing RUN_DIR/model_card.md.")
    ] = None,
    model: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer needs Optional)
        "--model", help="The model the card describes (needed with --into when the run "
                        "has several models).")
    ] = None,
) -> None:
    """Write the Hugging Face-style model card section of RUN_DIR (model_card.md: YAML
    model-index with the headline metrics, "Model Examination", "Bias, Risks, and
    Limitations"), or insert it into an existing card with --into; running it again replaces
    the marked block and nothing else."""
    from reportgen.report.card import write_card

    try:
        print(f"Model card: {write_card(run_dir, into=into, model=model)}")
    except ReportgenError as exc:
        _fail(exc)


config_app = typer.Typer(help="The run configuration file.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the run configuration (YAML keys, types, defaults)."""
    import json

    from reportgen.config import RunConfig

    print(json.dumps(RunConfig.model_json_schema(), indent=2))


class Stopped(BaseException):
    """SIGINT or SIGTERM, raised in the main thread so every ``with`` block (the run
    directory's lock and staging folder, open files) unwinds; a BaseException, so neither a
    broad ``except Exception`` nor click's own Ctrl-C handling turns it into something else."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.exit_code = 128 + signum
        self.name = signal.Signals(signum).name


def _stop(signum, frame) -> None:
    raise Stopped(signum)


def main() -> None:
    """The console script: exit 130 on Ctrl-C (SIGINT) and 143 on SIGTERM, after a clean
    shutdown (heatmaps already cached stay: the next run resumes from them)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        app()
    except Stopped as stop:
        console.print(f"stopped by {stop.name}: cached heatmaps are kept; run again to resume",
                      highlight=False)
        sys.exit(stop.exit_code)
