"""The Python API for notebooks: ``reportgen.evaluate(...) -> Report``."""

from __future__ import annotations

import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.conditions import ConditionResult
from reportgen.config import RunConfig
from reportgen.config_yaml import config_from_dict, load_config
from reportgen.narrative.placeholders import fill_placeholders


@dataclass
class Report:
    """The outcome of a run: its facts, per-sample scores, findings, and the files on disk."""

    out_dir: Path
    facts: FactTable
    scores: pd.DataFrame
    findings: list[Finding]
    conditions: list[ConditionResult]

    def save(self, directory: str | Path) -> Path:
        """Copy the run directory (report.html, report.pdf, facts.json, ...) to ``directory``."""
        directory = Path(directory)
        if directory.resolve() != self.out_dir.resolve():
            shutil.copytree(self.out_dir, directory, dirs_exist_ok=True)
        return directory

    def finding_texts(self) -> list[str]:
        return [fill_placeholders(f.statement, self.facts) for f in self.findings]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(f.severity)}</td><td>{html.escape(f.kind)}</td>"
            f"<td>{html.escape(text)}</td></tr>"
            for f, text in zip(self.findings, self.finding_texts(), strict=True)
            if f.severity != "info")
        n = html.escape(self.facts.display("run.samples.scored"))
        return (f"<div><strong>reportgen</strong>: {n} samples scored; report at "
                f"<code>{html.escape(str(self.out_dir / 'report.html'))}</code>"
                f"<table><thead><tr><th>severity</th><th>finding</th><th>statement</th></tr>"
                f"</thead><tbody>{rows}</tbody></table></div>")


def evaluate(config: RunConfig | dict | str | Path | None = None, *, out: str | Path | None = None,
             **kwargs: Any) -> Report:
    """Run the pipeline and return a ``Report``.

    ``config`` is a RunConfig, a dict of config keys, or a YAML file path; keyword arguments
    override keys (``evaluate("run.yaml", limit=20)``) or make the whole config
    (``evaluate(dataset={...}, models=[...])``). ``out`` defaults to a new temporary folder.
    """
    from reportgen.pipeline import run_pipeline

    if isinstance(config, (str, Path)):
        cfg = load_config(config, kwargs)
    elif isinstance(config, RunConfig):
        cfg = config_from_dict({**config.model_dump(), **kwargs}) if kwargs else config
    else:
        cfg = config_from_dict({**(config or {}), **kwargs}, source="evaluate()")
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="reportgen-"))
    result = run_pipeline(cfg, out_dir)
    return Report(out_dir, result.facts, result.scores, result.findings, result.conditions)
