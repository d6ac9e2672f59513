"""The model card: a Hugging Face-style Markdown section built from a run directory.

``build_card`` returns YAML front matter (``model-index``: per model, the headline metrics,
built offline with huggingface_hub's ``ModelCardData`` and ``EvalResult``) followed by a
block between ``<!-- reportgen:begin ... -->`` and ``<!-- reportgen:end -->`` that holds
the sections "Model Examination" and "Bias, Risks, and Limitations". ``insert_card`` puts
that block into an existing README or model card (or replaces the one an earlier run put
there) idempotently, and merges the ``model-index`` into its front matter.

Every number in the block is a fact's display string or a fact's sample count n; versions,
dates and hashes appear only on the block's last line, which starts with ``*Provenance``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

import reportgen.metrics  # noqa: F401  (registers the metrics whose names the card shows)
from reportgen.analysis.facts import Fact, FactTable, fact_id, format_value, stat_fact_id
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.errors import ReportgenError
from reportgen.io import atomic_write_text
from reportgen.metrics.registry import get_metric
from reportgen.metrics.road import ROAD_CAVEAT
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.sections import BIAS_KINDS, LIMITATION_KINDS
from reportgen.narrative.written import NarrativeSection
from reportgen.report.card_insert import BEGIN, END, FACT_ARG, dump_front_matter, insert_card
from reportgen.run_record import RunRecord
from reportgen.vocab import ALL_CLASSES, BACKGROUND, BASELINE_MODEL, OBJECT

CARD_BIAS_KINDS = BIAS_KINDS | {"model_difference"}
MAX_PER_KIND = 5  # findings listed per kind; the rest are in report.html and facts.json
OBJECT_METRICS = ("loc.iou", "loc.pointing_game", "loc.energy_pointing_game",
                  "loc.relevance_mass", "loc.relevance_rank", "faith.avg_drop",
                  "faith.increase_in_confidence", "road.combined")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


@dataclass(frozen=True)
class CardInputs:
    """What the card reads from a run directory: its facts and findings, the narrative and
    the run record (run.json)."""

    facts: FactTable
    findings: list[Finding]
    narrative: list[NarrativeSection]
    run: RunRecord


@dataclass(frozen=True)
class Headline:
    """One headline metric: the fact ``{metric}.{stat}|model|method|class=all|region``."""

    label: str
    metric: str
    stat: str
    region: str
    arrow: str = ""  # "↑" higher is better, "↓" lower is better

    def fid(self, model: str, method: str) -> str:
        if self.metric == "model.accuracy":
            return fact_id("model.accuracy", model=model, method=method)
        return stat_fact_id(self.metric, self.stat, model=model, method=method,
                            region=self.region, **{"class": ALL_CLASSES})

    def n_fid(self, model: str, method: str) -> str:
        return stat_fact_id(self.metric, "n", model=model, method=method, region=self.region,
                            **{"class": ALL_CLASSES})

    @property
    def slug(self) -> str:
        """The model-index metric ``type``: ``accuracy``, ``pqah-ph-median-head``,
        ``loc-iou-mean`` (object-level metrics need no region)."""
        if self.metric == "model.accuracy":
            return "accuracy"
        words = [self.metric, {"q2": "median"}.get(self.stat, self.stat)]
        words += [self.region] if self.metric.startswith("pqah.") else []
        return re.sub(r"[\W_]+", "-", " ".join(words).lower()).strip("-")


def md_text(text: str) -> str:
    """Plain text as one line of Markdown: HTML special characters escaped, Markdown syntax
    (emphasis, links, tables, headings, code) neutralised."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(" ".join(str(text).split()), quote=False))


def _read_json(path: Path, required: bool) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ReportgenError(f"{path.parent} is not a run directory: {path.name} is "
                                 "missing") from None
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportgenError(f"{path} is not valid JSON: {exc}") from None


def load_card_inputs(run_dir: str | Path, run: RunRecord | None = None) -> CardInputs:
    """facts.json and run.json (required; ``run`` replaces run.json when given, as during a
    run before run.json is written), narrative.json and the findings (optional)."""
    run_dir = Path(run_dir)
    data = _read_json(run_dir / "facts.json", required=True)
    if run is None:
        run = RunRecord.read(run_dir)
    try:
        facts = FactTable.from_dict(data)
        findings = [Finding(**f) for f in data.get("findings", [])]
    except (ValueError, TypeError, KeyError) as exc:
        raise ReportgenError(f"{run_dir / 'facts.json'} cannot be read: {exc}") from None
    sections = _read_json(run_dir / "narrative.json", required=False) or []
    try:
        narrative = [NarrativeSection(**s) for s in sections]
    except TypeError as exc:
        raise ReportgenError(f"{run_dir / 'narrative.json'} cannot be read: {exc}") from None
    return CardInputs(facts, findings, narrative, run)


def _pairs(facts: FactTable) -> list[tuple[str, str]]:
    """(model, method) pairs of real models with medians of any metric, sorted."""
    return facts.pairs(metric=None)


def _region_phrase(region: str) -> str:
    return {BACKGROUND: "background", OBJECT: "object parts pooled"}.get(region, region)


def headlines(facts: FactTable, part_names: list[str]) -> list[Headline]:
    """The headline metrics present in ``facts``, in reading order."""
    rows = [Headline("Accuracy", "model.accuracy", "", "")]
    regions = {f.dims["region"] for f in facts.select(metric="pqah.ph", stat="q2", subset=None)}
    known = [p for p in part_names if p in regions]
    ordered = [r for r in (OBJECT, BACKGROUND) if r in regions]
    ordered += known + sorted(regions - set(known) - {OBJECT, BACKGROUND})
    rows += [Headline(f"PH, {_region_phrase(r)} (median)", "pqah.ph", "q2", r) for r in ordered]
    if BACKGROUND in regions:
        rows.append(Headline("Heat share on the background (median)", "pqah.precision", "q2",
                             BACKGROUND))
    for metric in OBJECT_METRICS:
        # MetricInfo.summary: the mean for metrics defined as an average over images
        info = get_metric(metric)
        stat = "mean" if info.summary == "mean" else "q2"
        if facts.select(metric=metric, stat=stat, subset=None):
            rows.append(Headline(f"{info.name} ({'mean' if stat == 'mean' else 'median'})",
                                 metric, stat, OBJECT,
                                 {"higher": "↑", "lower": "↓"}.get(info.direction, "")))
    pairs = _pairs(facts)
    return [h for h in rows if any(h.fid(m, meth) in facts for m, meth in pairs)]


def _metric_value(fact: Fact) -> float | int | None:
    """The fact's value rounded as its display string shows it (None for p-values)."""
    text = fact.display.replace(",", "").removesuffix(" %").removesuffix(" s")
    try:
        value = float(text)
    except ValueError:
        return None
    if fact.unit == "count":
        return int(value)
    return round(value / 100, 4) if fact.unit == "share" else value


def card_models(inputs: CardInputs) -> list[str]:
    """The run's models that have headline facts, in run order."""
    return list(dict.fromkeys(m for m, _ in _pairs(inputs.facts)))


def card_data(inputs: CardInputs, model: str) -> ModelCardData:
    """The Hub metadata of ``model``: its ``model-index``, one EvalResult per headline
    metric and method (built offline, no Hub call)."""
    facts, dataset = inputs.facts, inputs.run.dataset
    name = str(dataset.name or dataset.root_name or "dataset")
    rows, results = headlines(facts, list(dataset.part_names)), []
    for method in (meth for m, meth in _pairs(facts) if m == model):
        for h in rows:
            fid = h.fid(model, method)
            value = _metric_value(facts[fid]) if fid in facts else None
            if value is not None:
                results.append(EvalResult(
                    task_type="image-classification", task_name="Image classification",
                    dataset_type=name, dataset_name=name, metric_type=h.slug,
                    metric_value=value, metric_name=f"{h.label} [{method}]",
                    metric_config=method, metric_args={FACT_ARG: fid}))
    return ModelCardData(model_name=model, eval_results=results)


def model_index(inputs: CardInputs, model: str | None = None) -> list[dict[str, Any]]:
    """``model-index`` entries for ``model`` (default: every model), one result each with the
    headline metrics of every method: ``type`` a readable slug, ``config`` the method,
    ``args.reportgen_fact`` the fact id (it marks the results reportgen wrote), ``value``
    the fact's value as displayed."""
    models = card_models(inputs)
    if model is not None and model not in models:
        raise ReportgenError(f"model {model!r} is not in this run; its models: "
                             f"{', '.join(models)}")
    return [entry for chosen in ([model] if model is not None else models)
            for entry in card_data(inputs, chosen).to_dict()["model-index"]]


def _cell(facts: FactTable, h: Headline, model: str, method: str) -> str:
    fid = h.fid(model, method)
    if fid not in facts:
        return "–"
    n_fid = h.n_fid(model, method)
    n = facts.display(n_fid) if n_fid in facts else format_value(facts[fid].n, "count")
    return f"{md_text(facts.display(fid))} (n = {n})"


def headline_table(facts: FactTable, part_names: list[str]) -> list[str]:
    """Markdown table lines: one row per headline metric, one column per model and method,
    then the random and centre baselines."""
    pairs = _pairs(facts)
    baselines = sorted({f.dims["method"] for f in facts.select(stat="q2", model=BASELINE_MODEL,
                                                               subset=None)})
    columns = [*pairs, *((BASELINE_MODEL, b) for b in baselines)]
    head = ["Metric", *(f"{md_text(m)} / {md_text(meth)}" if m != BASELINE_MODEL
                        else f"{md_text(meth)} baseline" for m, meth in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for h in headlines(facts, part_names):
        label = md_text(h.label) + (f" {h.arrow}" if h.arrow else "")
        cells = [label, *(_cell(facts, h, m, meth) for m, meth in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _and(items: list[str]) -> str:
    items = [md_text(i) for i in items] or ["(none)"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _finding_lines(findings: list[Finding], facts: FactTable) -> list[str]:
    """One bullet per finding, filled from the facts: grouped by kind (the kind of the most
    severe finding first), most severe first, at most MAX_PER_KIND per kind."""
    ranked = rank_findings(findings)
    lines = []
    for kind in dict.fromkeys(f.kind for f in ranked):
        of_kind = [f for f in ranked if f.kind == kind]
        for f in of_kind[:MAX_PER_KIND]:
            caveat = f" (Caveat: {md_text(f.caveat)}.)" if f.caveat else ""
            lines.append(f"- **{md_text(f.severity)}**: "
                         f"{md_text(fill_placeholders(f.statement, facts))}{caveat}")
        if len(of_kind) > MAX_PER_KIND:
            lines.append(f"- Further {md_text(kind.replace('_', ' '))} findings are listed in "
                         "report.html and facts.json.")
    return lines


def _samples(facts: FactTable, template: str, *ids: str) -> str:
    """``template`` filled with the display strings of ``ids``; empty when one is missing."""
    if not all(fid in facts for fid in ids):
        return ""
    return template.format(*(facts.display(fid) for fid in ids))


def examination_section(inputs: CardInputs) -> list[str]:
    facts, run = inputs.facts, inputs.run
    target = {"ground_truth": "true"}.get(run.config.get("target"), "predicted")
    models = list(run.models or dict.fromkeys(m for m, _ in _pairs(facts)))
    methods = list(run.methods or dict.fromkeys(m for _, m in _pairs(facts)))
    lines = ["## Model Examination", "",
             f"reportgen measured where the {_and(methods)} heatmaps of {_and(models)} put "
             f"their heat on images of the {md_text(run.dataset.name or 'evaluation')} "
             f"dataset; the heatmaps explain the {target} class. "
             + _samples(facts, "{} of {} samples were scored.", "run.samples.scored",
                        "run.samples.total"),
             "",
             "PH is the F1 overlap of the heat with a region (a part or the background); the "
             "heat share is the part of the heat that falls on a region; localisation metrics "
             "compare the heat with the object; faithfulness metrics measure how the "
             "prediction changes when the hot pixels are removed (↑ higher is better, "
             "↓ lower is better). The random and centre baselines are heatmaps that know "
             "nothing about the image: heat on a part means something only when it beats "
             "both. Each value comes with n, the number of images behind it.", "",
             "### Headline metrics", "",
             *headline_table(facts, list(run.dataset.part_names)), ""]
    summary = card_summary(inputs.narrative)
    if summary is not None:
        lines += [f"### {md_text(summary.title)}", ""]
        for paragraph in fill_placeholders(summary.text, facts).split("\n\n"):
            if paragraph.strip():
                lines += [md_text(paragraph), ""]
    key = [f for f in inputs.findings if f.severity != "info"
           and f.kind not in CARD_BIAS_KINDS | LIMITATION_KINDS]
    lines += ["### Key findings", ""]
    lines += _finding_lines(key, facts) or ["- No finding about the parts beyond those under "
                                            "Bias, Risks, and Limitations."]
    lines += ["", "The full report (report.html, report.pdf: figures, per-class tables, "
              "examples) and every number with its id and sample count (facts.json) are in "
              "the run directory.", ""]
    return lines


def limitations_section(inputs: CardInputs) -> list[str]:
    facts, run = inputs.facts, inputs.run
    methods = list(run.methods or dict.fromkeys(m for _, m in _pairs(facts)))
    bias = [f for f in inputs.findings if f.severity != "info" and f.kind in CARD_BIAS_KINDS]
    limits = [f for f in inputs.findings if f.severity != "info" and f.kind in LIMITATION_KINDS]
    lines = ["## Bias, Risks, and Limitations", "", "### Possible biases", ""]
    lines += _finding_lines(bias, facts) or [
        "- The rules found no background reliance, class shortcut, or difference between "
        "models beyond their thresholds."]
    lines += ["", "### Limitations", ""]
    lines += _finding_lines(limits, facts)
    lines.append(f"- Heatmaps ({_and(methods)}) approximate what the model uses: methods can "
                 "disagree, and heat on a part shows overlap, not that the model needs the "
                 "part. Confirm a conclusion with a second method.")
    if any(f.name.startswith("road.") for f in facts):
        lines.append(f"- {md_text(ROAD_CAVEAT)}")
    lines.append("- Each value rests on the n images beside it; per-class values rest on "
                 "fewer, and faithfulness metrics may use a subset of the images.")
    excluded = _samples(facts, "{} of {} samples were excluded (exclusions.csv gives each one "
                        "and the reason).", "run.samples.excluded", "run.samples.total")
    if excluded:
        lines.append(f"- {excluded}")
    for skipped in run.skipped_metrics:
        lines.append(f"- {md_text(skipped.get('metrics', ''))} not computed for "
                     f"{md_text(skipped.get('method', ''))}: {md_text(skipped.get('reason', ''))}.")
    lines.append("- The results hold for this dataset; other data can show other behaviour.")
    return [*lines, ""]


def card_summary(narrative: list[NarrativeSection]) -> NarrativeSection | None:
    """The executive summary written for the model-card audience when the run wrote one
    (``narrative.audiences``), else the first summary."""
    summaries = [s for s in narrative if s.section == "summary"]
    return next((s for s in summaries if s.audience == "model card"),
                summaries[0] if summaries else None)


def _provenance(run: RunRecord, narrative: list[NarrativeSection]) -> str:
    """One line of versions, date, hash and the summary's writer (LLM model ids hold digits
    that are no measurement)."""
    versions = run.versions
    parts = [f"reportgen {versions.get('reportgen', '?')}"]
    if run.created:
        parts.append(f"run created {run.created}")
    if run.config_hash:
        parts.append(f"config hash {run.config_hash}")
    if run.modified:
        parts.append(f"rendered with changed artifacts {', '.join(run.modified)}")
    parts += [f"{k} {v}" for k, v in versions.items() if k in ("torch", "grad-cam")]
    summary = card_summary(narrative)
    parts += [f"{summary.title}: {summary.provenance}"] if summary else []
    return f"*Provenance (not measurements): {md_text('; '.join(parts).rstrip('.'))}.*"


def card_block(inputs: CardInputs) -> str:
    """The marked block, from BEGIN to END (no trailing newline)."""
    lines = [BEGIN, *examination_section(inputs), *limitations_section(inputs),
             _provenance(inputs.run, inputs.narrative), END]
    return "\n".join(lines)


def render_card(inputs: CardInputs, model: str | None = None) -> str:
    """Front matter (the model-index of ``model``, default every model), a blank line, the
    marked block. The block covers every model of the run either way."""
    several = model is None and len(card_models(inputs)) > 1
    comment = ("One model-index entry per model of the run; the Hub reads one model per "
               "card: use `reportgen card RUN_DIR --model NAME --into README.md`."
               if several else "")
    return (dump_front_matter({"model-index": model_index(inputs, model)}, comment) + "\n"
            + card_block(inputs) + "\n")


def build_card(run_dir: str | Path, *, model: str | None = None,
               run: RunRecord | None = None) -> str:
    """The model card of a run directory (``run`` stands in for run.json when given)."""
    return render_card(load_card_inputs(run_dir, run), model)


def write_card(run_dir: str | Path, into: str | Path | None = None, *,
               model: str | None = None, run: RunRecord | None = None,
               inputs: CardInputs | None = None) -> Path:
    """Write ``run_dir/model_card.md`` (model-index: ``model``, default every model), or
    insert the card into ``into`` (created when missing, rewritten atomically only when its
    text changes; a run with several models needs ``model``: a Hub card describes one).
    ``inputs``: what a caller already read from the run directory (else read here).
    Returns the path written."""
    inputs = inputs or load_card_inputs(run_dir, run)
    if into is None:
        return atomic_write_text(Path(run_dir) / "model_card.md", render_card(inputs, model))
    models = card_models(inputs)
    if model is None and len(models) > 1:
        raise ReportgenError(f"the run has several models ({', '.join(models)}); choose the "
                             "one this card describes with --model")
    card = render_card(inputs, model)
    into = Path(into)
    try:
        existing = into.read_bytes().decode("utf-8") if into.exists() else ""
    except UnicodeDecodeError as exc:
        raise ReportgenError(f"{into} is not UTF-8 text: {exc}") from None
    try:
        text = insert_card(existing, card)
    except ReportgenError as exc:
        raise ReportgenError(f"{into}: {exc}") from None
    if text != existing:
        atomic_write_text(into, text)
    return into
