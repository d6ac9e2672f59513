"""Prompts for the LLM writers, rendered from the Jinja2 templates in ``prompts/``.

Facts, findings and every dataset string reach the LLM only inside one JSON block
(``data_json``: ASCII, with ``<``, ``>``, ``&`` and backticks escaped), so a class named
``ignore previous instructions`` stays a JSON string. Facts get short references (``v1``,
``v2`` ...) that the guard maps back to fact ids; finding statements and the template writer's
draft of the section are rewritten to use them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reportgen.analysis.facts import Fact, FactTable
from reportgen.analysis.findings import Finding
from reportgen.metrics.registry import METRICS
from reportgen.narrative.guard import GuardContext, data_names
from reportgen.narrative.sections import MAX_FACTS, SectionSpec
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.resources import prompts_dir
from reportgen.vocab import PLACEHOLDER, placeholder

STAT_NAMES = {"q1": "lower quartile", "q2": "median", "q3": "upper quartile",
              "iqr": "interquartile range", "mean": "mean", "std": "standard deviation",
              "n": "number of images", "n_outliers": "number of outliers",
              "whisker_low": "lower whisker", "whisker_high": "upper whisker",
              "ci_low": "low end of the confidence interval of the median",
              "ci_high": "high end of the confidence interval of the median"}
RUN_FACT_NAMES = {"run.samples.total": "images in the dataset",
                  "run.samples.scored": "images scored",
                  "run.samples.excluded": "images excluded from the analysis",
                  "model.accuracy": "classification accuracy"}
MAX_PARAGRAPHS = 4
MAX_PARAGRAPH_CHARS = 500


def answer_schema(bounded: bool = True) -> dict:
    """The answer's JSON schema: ``{"paragraphs": [str, ...]}``.

    ``bounded`` adds string lengths, which keep a grammar-constrained small model from
    closing the JSON at once or rambling until it runs out of tokens (llama.cpp turns them
    into its grammar); the OpenAI API's strict mode does not take them.
    """
    item = {"type": "string"}
    if bounded:
        item |= {"minLength": 40, "maxLength": MAX_PARAGRAPH_CHARS}
    return {"type": "object",
            "properties": {"paragraphs": {"type": "array", "minItems": 1,
                                          "maxItems": MAX_PARAGRAPHS, "items": item}},
            "required": ["paragraphs"], "additionalProperties": False}
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "`": "\\u0060"}


def data_json(value) -> str:
    """JSON that no data string can break out of: ASCII, with markup and fence characters
    escaped (still valid JSON that parses back to ``value``)."""
    text = json.dumps(value, ensure_ascii=True, separators=(", ", ": "))
    return "".join(_JSON_ESCAPES.get(ch, ch) for ch in text)


@cache
def _environment(folder: str) -> Environment:
    env = Environment(loader=FileSystemLoader(folder), autoescape=False,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["data_json"] = data_json
    return env


def audience_file(audience: str) -> str:
    return audience.replace(" ", "_") + ".j2"


def template_files(section: str, audience: str) -> list[str]:
    """The template files one section's prompt is rendered from (its hash covers them)."""
    return ["system.j2", f"audiences/{audience_file(audience)}", f"sections/{section}.j2",
            "sections/_data.j2", "retry.j2"]


def template_hashes(folder: Path | None = None) -> dict[str, str]:
    """sha256 of every prompt template, by path relative to the prompts folder."""
    folder = folder or prompts_dir()
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.j2"))}


def prompt_hash(section: str, audience: str, folder: Path | None = None) -> str:
    """One hash over the templates of (section, audience), in a fixed order."""
    folder = folder or prompts_dir()
    digest = hashlib.sha256()
    for name in template_files(section, audience):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()


def fact_name(fact: Fact) -> str:
    """What a fact measures, in words: "median of Heat share", "images scored"."""
    if fact.metric in METRICS:
        return f"{STAT_NAMES.get(fact.stat, fact.stat)} of {METRICS[fact.metric].name}"
    return RUN_FACT_NAMES.get(fact.name) or fact.name.replace(".", " ").replace("_", " ")


def _fact_entry(ref: str, fact: Fact) -> dict:
    return {"ref": ref, "what": fact_name(fact), **fact.dims, "value": fact.display}


def _metric_entries(facts: Sequence[Fact]) -> list[dict]:
    used = sorted({f.metric for f in facts} & set(METRICS))
    return [{"metric": METRICS[m].name, "meaning": METRICS[m].meaning,
             "range": list(METRICS[m].range), "better": METRICS[m].direction} for m in used]


def section_guard(spec: SectionSpec, facts: FactTable, findings: Sequence[Finding],
                  aliases: dict[str, str] | None = None) -> GuardContext:
    """What a draft of section ``spec`` is checked against (names: data and metric names)."""
    names = data_names(facts, [m.name for m in METRICS.values()])
    return GuardContext(facts, aliases or {}, spec.required(findings), names,
                        min_facts=1 if aliases else 0,
                        high_findings=[f for f in findings if f.severity == "high"])


@dataclass(frozen=True)
class Prompt:
    """Everything one section's LLM call needs, and what its answer is checked against."""

    section: str
    audience: str
    messages: tuple[dict, ...]
    guard: GuardContext
    template_hash: str

    def retry(self, answer: str, reasons: Sequence[str]) -> Prompt:
        """The conversation extended by the rejected answer and the guard's reasons."""
        follow_up = _environment(str(prompts_dir())).get_template("retry.j2").render(
            reasons=list(reasons))
        messages = (*self.messages, {"role": "assistant", "content": answer},
                    {"role": "user", "content": follow_up})
        return Prompt(self.section, self.audience, messages, self.guard, self.template_hash)


def build_prompt(spec: SectionSpec, facts: FactTable, findings: Sequence[Finding],
                 audience: str) -> Prompt:
    """Render the system and section messages for one section and audience.

    The data holds the template writer's text of the section as a ``draft`` (correct, plain)
    and every fact it refers to, then the findings' evidence and context facts up to
    ``MAX_FACTS``; a finding whose statement the draft already holds is marked ``in_draft``
    instead of repeating it.
    """
    draft = TemplateWriter().write_section(spec.id, facts, findings, audience)
    ids = list(dict.fromkeys([*draft.fact_ids, *(f.id for f in spec.facts(facts, findings))]))
    chosen = [facts[fid] for fid in ids[:max(MAX_FACTS, len(set(draft.fact_ids)))]]
    aliases = {f"v{i}": fact.id for i, fact in enumerate(chosen, start=1)}
    refs = {fid: ref for ref, fid in aliases.items()}
    required = spec.required(findings)

    def short(statement: str) -> str:
        return PLACEHOLDER.sub(lambda m: placeholder(refs.get(m.group(1), m.group(1))),
                               statement)

    def entry(i: int, f: Finding) -> dict:
        # A statement the draft already says is not repeated: the prompt stays short.
        said = f.statement.strip() in draft.text
        return {"ref": f"k{i}", "kind": f.kind, "severity": f.severity,
                "must_mention": f in required, "about": f.subject,
                **({"in_draft": True} if said else {"statement": short(f.statement)}),
                **({"caveat": f.caveat} if f.caveat and not said else {}),
                "evidence": [refs[e] for e in f.evidence if e in refs]}

    data = {
        "section": spec.title,
        "audience": audience,
        "draft": short(draft.text).split("\n\n"),
        "findings": [entry(i, f) for i, f in enumerate(spec.findings(findings), start=1)],
        "facts": [_fact_entry(ref, facts[fid]) for ref, fid in aliases.items()],
        "metrics": _metric_entries(chosen),
    }
    env = _environment(str(prompts_dir()))
    system = env.get_template("system.j2").render(audience_file=audience_file(audience))
    user = env.get_template(f"sections/{spec.id}.j2").render(data=data)
    guard = section_guard(spec, facts, findings, aliases)
    return Prompt(spec.id, audience, ({"role": "system", "content": system},
                                      {"role": "user", "content": user}),
                  guard, prompt_hash(spec.id, audience))
