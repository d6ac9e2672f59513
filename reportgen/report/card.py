"""The model card: a Hugging Face-style Markdown section built from a run directory.

``build_card`` returns YAML front matter (``model-index``: per model, the headline metrics)
followed by a block between ``<!-- reportgen:begin ... -->`` and ``<!-- reportgen:end -->``
that holds the sections "Model Examination" and "Bias, Risks, and Limitations".
``insert_card`` puts that block into an existing README or model card (or replaces the one
an earlier run put there) idempotently, and merges the ``model-index`` into its front matter.

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

import yaml

import reportgen.metrics  # noqa: F401  (registers the metrics whose names the card shows)
from reportgen.analysis.facts import Fact, FactTable, fact_id, format_value
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.analysis.stats import ALL_CLASSES
from reportgen.data.sample import BACKGROUND
from reportgen.errors import ReportgenError
from reportgen.io import atomic_write_text
from reportgen.metrics.registry import METRICS, get_metric
from reportgen.metrics.road import ROAD_CAVEAT
from reportgen.narrative.lookup import BASELINE_MODEL
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.section import NarrativeSection
from reportgen.narrative.sections import BIAS_KINDS, LIMITATION_KINDS

BEGIN = "<!-- reportgen:begin (written by `reportgen card`; edits inside are replaced) -->"
END = "<!-- reportgen:end -->"
_BEGIN = re.compile(r"<!--\s*reportgen:begin\b[^\n]*?-->")
_END = re.compile(r"<!--\s*reportgen:end\b[^\n]*?-->")
CARD_BIAS_KINDS = BIAS_KINDS | {"model_difference"}
MAX_PER_KIND = 5  # findings listed per kind; the rest are in report.html and facts.json
OBJECT_METRICS = ("loc.iou", "loc.pointing_game", "loc.energy_pointing_game",
                  "loc.relevance_mass", "loc.relevance_rank", "faith.avg_drop",
                  "faith.increase_in_confidence", "road.combined")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


@dataclass(frozen=True)
class CardInputs:
    """What the card reads from a run directory."""

    facts: FactTable
    findings: list[Finding]
    narrative: list[NarrativeSection]
    run: dict[str, Any]


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
        return fact_id(f"{self.metric}.{self.stat}", model=model, method=method,
                       region=self.region, **{"class": ALL_CLASSES})

    def n_fid(self, model: str, method: str) -> str:
        return fact_id(f"{self.metric}.n", model=model, method=method, region=self.region,
                       **{"class": ALL_CLASSES})


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


def load_card_inputs(run_dir: str | Path, run: dict | None = None) -> CardInputs:
    """facts.json and run.json (required; ``run`` replaces run.json when given, as during a
    run before run.json is written), narrative.json and the findings (optional)."""
    run_dir = Path(run_dir)
    data = _read_json(run_dir / "facts.json", required=True)
    if run is None:
        run = _read_json(run_dir / "run.json", required=True)
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
    """(model, method) pairs of real models with pooled medians, sorted."""
    return sorted({(f.dims["model"], f.dims["method"]) for f in facts
                   if ".q2|" in f.id and f.dims.get("class") == ALL_CLASSES
                   and "subset" not in f.dims and f.dims.get("model") not in (None, BASELINE_MODEL)
                   and f.id.split("|")[0].removesuffix(".q2") in METRICS})


def _region_phrase(region: str) -> str:
    return {BACKGROUND: "background", "object": "object parts pooled"}.get(region, region)


def headlines(facts: FactTable, part_names: list[str]) -> list[Headline]:
    """The headline metrics present in ``facts``, in reading order."""
    rows = [Headline("Accuracy", "model.accuracy", "", "")]
    regions = {f.dims["region"] for f in facts if f.id.startswith("pqah.ph.q2|")}
    known = [p for p in part_names if p in regions]
    ordered = [r for r in ("object", BACKGROUND) if r in regions]
    ordered += known + sorted(regions - set(known) - {"object", BACKGROUND})
    rows += [Headline(f"PH, {_region_phrase(r)} (median)", "pqah.ph", "q2", r) for r in ordered]
    if BACKGROUND in regions:
        rows.append(Headline("Heat share on the background (median)", "pqah.precision", "q2",
                             BACKGROUND))
    for metric in OBJECT_METRICS:
        # MetricInfo.summary: the mean for metrics defined as an average over images
        info = get_metric(metric)
        stat = "mean" if info.summary == "mean" else "q2"
        if any(f.id.startswith(f"{metric}.{stat}|") for f in facts):
            rows.append(Headline(f"{info.name} ({'mean' if stat == 'mean' else 'median'})",
                                 metric, stat, "object",
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


def model_index(inputs: CardInputs, model: str | None = None) -> list[dict[str, Any]]:
    """``model-index`` entries: for ``model`` (default: every model) one result with the
    headline metrics of every method; a metric's ``type`` is its fact id (so ``|model=``
    marks the results reportgen wrote), its ``value`` the fact's value as displayed."""
    facts, run = inputs.facts, inputs.run
    dataset = run.get("dataset", {})
    name = str(dataset.get("name") or dataset.get("root_name") or "dataset")
    rows = headlines(facts, list(dataset.get("part_names", [])))
    pairs = _pairs(facts)
    models = card_models(inputs)
    if model is not None and model not in models:
        raise ReportgenError(f"model {model!r} is not in this run; its models: "
                             f"{', '.join(models)}")
    entries = []
    for chosen in [model] if model is not None else models:
        metrics = [{"name": f"{h.label} [{method}]", "type": h.fid(chosen, method),
                    "value": _metric_value(facts[h.fid(chosen, method)])}
                   for _, method in (p for p in pairs if p[0] == chosen) for h in rows
                   if h.fid(chosen, method) in facts]
        entries.append({"name": chosen, "results": [{
            "task": {"type": "image-classification", "name": "Image classification"},
            "dataset": {"name": name, "type": name},
            "metrics": [m for m in metrics if m["value"] is not None],
        }]})
    return entries


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
    baselines = sorted({f.dims["method"] for f in facts
                        if f.dims.get("model") == BASELINE_MODEL and ".q2|" in f.id})
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
    dataset = run.get("dataset", {})
    target = {"ground_truth": "true"}.get(run.get("config", {}).get("target"), "predicted")
    models = list(run.get("models") or dict.fromkeys(m for m, _ in _pairs(facts)))
    methods = list(run.get("methods") or dict.fromkeys(m for _, m in _pairs(facts)))
    lines = ["## Model Examination", "",
             f"reportgen measured where the {_and(methods)} heatmaps of {_and(models)} put "
             f"their heat on images of the {md_text(dataset.get('name', 'evaluation'))} "
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
             *headline_table(facts, list(dataset.get("part_names", []))), ""]
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
    methods = list(run.get("methods") or dict.fromkeys(m for _, m in _pairs(facts)))
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
    if any(f.id.startswith("road.") for f in facts):
        lines.append(f"- {md_text(ROAD_CAVEAT)}")
    lines.append("- Each value rests on the n images beside it; per-class values rest on "
                 "fewer, and faithfulness metrics may use a subset of the images.")
    excluded = _samples(facts, "{} of {} samples were excluded (exclusions.csv gives each one "
                        "and the reason).", "run.samples.excluded", "run.samples.total")
    if excluded:
        lines.append(f"- {excluded}")
    for skipped in run.get("skipped_metrics", []):
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


def _provenance(run: dict, narrative: list[NarrativeSection]) -> str:
    """One line of versions, date, hash and the summary's writer (LLM model ids hold digits
    that are no measurement)."""
    versions = run.get("versions", {})
    parts = [f"reportgen {versions.get('reportgen', '?')}"]
    if run.get("created"):
        parts.append(f"run created {run['created']}")
    if run.get("config_hash"):
        parts.append(f"config hash {run['config_hash']}")
    parts += [f"{k} {v}" for k, v in versions.items() if k in ("torch", "grad-cam")]
    summary = card_summary(narrative)
    parts += [f"{summary.title}: {summary.provenance}"] if summary else []
    return f"*Provenance (not measurements): {md_text('; '.join(parts).rstrip('.'))}.*"


def card_block(inputs: CardInputs) -> str:
    """The marked block, from BEGIN to END (no trailing newline)."""
    lines = [BEGIN, *examination_section(inputs), *limitations_section(inputs),
             _provenance(inputs.run, inputs.narrative), END]
    return "\n".join(lines)


def _dump_front_matter(meta: dict, comment: str = "") -> str:
    return ("---\n" + (f"# {comment}\n" if comment else "")
            + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=4096) + "---\n")


def render_card(inputs: CardInputs, model: str | None = None) -> str:
    """Front matter (the model-index of ``model``, default every model), a blank line, the
    marked block. The block covers every model of the run either way."""
    several = model is None and len(card_models(inputs)) > 1
    comment = ("One model-index entry per model of the run; the Hub reads one model per "
               "card: use `reportgen card RUN_DIR --model NAME --into README.md`."
               if several else "")
    return (_dump_front_matter({"model-index": model_index(inputs, model)}, comment) + "\n"
            + card_block(inputs) + "\n")


def build_card(run_dir: str | Path, *, model: str | None = None,
               run: dict | None = None) -> str:
    """The model card of a run directory (``run`` stands in for run.json when given)."""
    return render_card(load_card_inputs(run_dir, run), model)


def _split_front_matter(text: str) -> tuple[str, dict | None, str]:
    """(raw front matter with its ``---`` lines, its mapping or None, the rest)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return "", None, text
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            raw = "".join(lines[:i + 1])
            try:
                meta = yaml.safe_load("".join(lines[1:i]))
            except yaml.YAMLError as exc:
                raise ReportgenError(f"the card's YAML front matter is invalid: {exc}") from None
            if meta is None:
                meta = {}
            if not isinstance(meta, dict):
                raise ReportgenError("the card's YAML front matter is not a mapping")
            return raw, meta, "".join(lines[i + 1:])
    raise ReportgenError("the card's YAML front matter has no closing '---' line")


def _block_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the one marked block in ``text``; None when there is none."""
    begins, ends = list(_BEGIN.finditer(text)), list(_END.finditer(text))
    if not begins and not ends:
        return None
    if len(begins) == 1 and len(ends) == 1 and begins[0].end() <= ends[0].start():
        return begins[0].start(), ends[0].end()
    if len(begins) > 1 or len(ends) > 1:
        problem = "more than one reportgen:begin or reportgen:end marker"
    elif not ends:
        problem = "a reportgen:begin marker without a reportgen:end marker"
    elif not begins:
        problem = "a reportgen:end marker without a reportgen:begin marker"
    else:
        problem = "the reportgen:end marker comes before the reportgen:begin marker"
    raise ReportgenError(f"the card has {problem}; fix or remove the markers and run again")


def _is_ours(result: Any) -> bool:
    """A result reportgen wrote: every metric's type is a fact id naming a model."""
    metrics = result.get("metrics") if isinstance(result, dict) else None
    return bool(metrics) and isinstance(metrics, list) and all(
        isinstance(m, dict) and "|model=" in str(m.get("type", "")) for m in metrics)


def merge_model_index(existing: Any, ours: list[dict]) -> list:
    """``existing`` model-index with our earlier results removed and ``ours`` added: into the
    entry of the same model name, else (one model into a card about one model) into the
    card's only entry, whatever its name, else as new entries at the end."""
    if existing is None:
        existing = []
    if not isinstance(existing, list):
        raise ReportgenError("the card's model-index is not a list")
    by_name = {e["name"]: e["results"] for e in ours}
    if len(ours) == 1 and len(existing) == 1 and isinstance(existing[0], dict):
        by_name = {existing[0].get("name"): ours[0]["results"]}
    merged: list = []
    for entry in existing:
        if not isinstance(entry, dict) or ("results" not in entry
                                           and entry.get("name") not in by_name):
            merged.append(entry)
            continue
        kept = [r for r in entry.get("results") or [] if not _is_ours(r)]
        results = kept + by_name.pop(entry.get("name"), [])
        # An entry that held only our earlier results goes when they go.
        if results or len(kept) == len(entry.get("results") or []) \
                or set(entry) - {"name", "results"}:
            merged.append({**entry, "results": results})
    merged += [e for e in ours if e["name"] in by_name]
    return merged


def insert_card(existing: str, block: str) -> str:
    """``existing`` (a README or model card) with ``block`` (``build_card``'s output) put in:
    an earlier reportgen block is replaced in place, else the block goes at the end; the
    model-index is merged into the front matter. Text outside the markers keeps its bytes;
    the front matter is rewritten (yaml.safe_dump) only when its model-index changes.
    Idempotent: inserting the same block twice gives the same text."""
    _, ours_meta, ours_body = _split_front_matter(block)
    span = _block_span(ours_body)
    if span is None:
        raise ReportgenError("the card to insert has no reportgen block")
    ours_block = ours_body[span[0]:span[1]]
    raw, meta, body = _split_front_matter(existing)
    span = _block_span(body)
    if span is not None:
        body = body[:span[0]] + ours_block + body[span[1]:]
    else:
        sep = "" if body.endswith("\n\n") else "\n" if body.endswith("\n") or not body else \
            "\n\n"
        body = body + sep + ours_block + "\n"
    index = merge_model_index((meta or {}).get("model-index"),
                              (ours_meta or {}).get("model-index", []))
    if meta is not None and (meta.get("model-index") == index or
                             (not index and "model-index" not in meta)):
        return raw + body
    new_meta = {k: v for k, v in (meta or {}).items() if k != "model-index"}
    new_meta = {**(meta or {}), "model-index": index} if index else new_meta
    front = _dump_front_matter(new_meta)
    if meta is None and existing and not existing.startswith(("\n", "\r\n")):
        front += "\n"
    return front + body


def write_card(run_dir: str | Path, into: str | Path | None = None, *,
               model: str | None = None, run: dict | None = None,
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
