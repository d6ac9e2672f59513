"""Render: the report (HTML, PDF) and the model card from a run directory's saved files.

A run calls it last; ``reportgen render RUN`` calls it alone (no model, no dataset), with
``llm_replay`` rewriting the narrative from the run's LLM response cache first, or
``narrative`` (``render --llm ...``) rewriting it with any writer.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.analysis.stats import GROUP_KEYS, STAT_COLUMNS
from reportgen.config import NarrativeSettings
from reportgen.errors import ReportgenError
from reportgen.io import atomic_write_text
from reportgen.narrative.written import NarrativeSection
from reportgen.report.card import CardInputs, write_card
from reportgen.report.context import build_context
from reportgen.report.gallery import load_gallery
from reportgen.report.html import render_html
from reportgen.report.pdf import write_pdf
from reportgen.run_dir import exclusive, sha256_file, verify_artifacts
from reportgen.run_record import RunRecord
from reportgen.stages.narrate import narrate
from reportgen.stages.publish import (
    FACTS_FILE,
    GALLERY_FILE,
    NARRATIVE_FILE,
    write_narrative_file,
)

STATS_COLUMNS = (*GROUP_KEYS, *STAT_COLUMNS)


def render_run(out_dir: str | Path, record: RunRecord | None = None, *,
               llm_replay: bool = False, allow_modified: bool = False,
               narrative: NarrativeSettings | None = None) -> Path:
    """(Re)build report.html, report.pdf and model_card.md from ``out_dir``'s saved outputs.

    Without ``record`` (``reportgen render``) the directory is locked, run.json is read and
    every artifact is checked against the sha256 run.json recorded: a changed one is refused
    with a one-line error naming it, unless ``allow_modified`` (the report's provenance then
    says so). ``llm_replay`` rewrites the narrative first, answering every LLM request from
    the run's response cache (cache/llm) and never calling an LLM: a request the cache lacks
    falls back to the template writer for that section. ``narrative`` rewrites the
    narrative with those settings first (any writer; the run's response cache answers the
    requests it holds, the others go to the LLM; with ``llm_replay`` none do).
    """
    out_dir = Path(out_dir)
    if record is not None:
        return _render(out_dir, record, llm_replay, narrative)
    with exclusive(out_dir):
        record = RunRecord.read(out_dir)
        changed = verify_artifacts(out_dir, record.artifacts)
        if changed and not allow_modified:
            raise ReportgenError(f"{out_dir / changed[0]} was changed after the run wrote it "
                                 f"(its sha256 differs from run.json's); re-run, or render "
                                 f"anyway with --allow-modified")
        record.modified = changed
        return _render(out_dir, record, llm_replay, narrative)


def _render(out_dir: Path, record: RunRecord, llm_replay: bool,
            settings: NarrativeSettings | None = None) -> Path:
    saved = read_saved(out_dir)
    narrative = saved.narrative
    if llm_replay or settings is not None:
        written = narrate(saved.facts, saved.findings,
                          settings or record.narrative_settings(), out_dir,
                          seed=record.seed, replay=llm_replay)
        record.narrative = written.run_info()
        write_narrative_file(out_dir, written)
        if NARRATIVE_FILE in record.artifacts:
            record.artifacts[NARRATIVE_FILE] = sha256_file(out_dir / NARRATIVE_FILE)
        record.write(out_dir)
        narrative = written.sections
    context = build_context(facts=saved.facts, stats=saved.stats, narrative=narrative,
                            findings=saved.findings, exclusions=saved.exclusions, run=record,
                            gallery=saved.gallery)
    html = render_html(context)
    atomic_write_text(out_dir / "report.html", html)
    refused = write_pdf(html, out_dir / "report.pdf")
    if refused:
        raise ReportgenError(f"the report refers to external resources: {refused[:3]}")
    write_card(out_dir, inputs=CardInputs(saved.facts, saved.findings, narrative, record))
    return out_dir / "report.html"


@dataclass(frozen=True)
class SavedRun:
    """A run directory's data files, parsed and checked."""

    facts: FactTable
    findings: list[Finding]
    stats: pd.DataFrame
    exclusions: pd.DataFrame
    narrative: list[NarrativeSection]
    gallery: list


def read_saved(out_dir: Path) -> SavedRun:
    """Read the data files ``render`` needs; a missing, unparsable or malformed one is a
    one-line ReportgenError naming the file and the problem."""
    def where(name: str) -> Path:
        path = out_dir / name
        if not path.is_file():
            raise ReportgenError(f"{out_dir} is not a complete run directory: {path} is "
                                 "missing")
        return path

    path = where(FACTS_FILE)
    try:
        data = json.loads(path.read_text("utf-8"))
        facts = FactTable.from_dict(data)
        findings = [Finding(**f) for f in data.get("findings", [])]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReportgenError(f"{path}: not a valid facts file ({_short(exc)})") from None
    path = where("stats.csv")
    try:
        stats = pd.read_csv(path)
        missing = [c for c in STATS_COLUMNS if c not in stats.columns]
        if missing:
            raise ValueError(f"columns {missing} are missing")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReportgenError(f"{path}: not a valid statistics table ({_short(exc)})") from None
    path = where("exclusions.csv")
    try:
        exclusions = pd.read_csv(path, dtype=str).fillna("")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReportgenError(f"{path}: not a valid exclusions table ({_short(exc)})") from None
    path = where(NARRATIVE_FILE)
    try:
        narrative = [NarrativeSection(**s) for s in json.loads(path.read_text("utf-8"))]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReportgenError(f"{path}: not a valid narrative file ({_short(exc)})") from None
    gallery: list = []
    path = out_dir / GALLERY_FILE
    if path.exists():
        try:
            gallery = load_gallery(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ReportgenError(f"{path}: not a valid gallery ({_short(exc)})") from None
    return SavedRun(facts, findings, stats, exclusions, narrative, gallery)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__
