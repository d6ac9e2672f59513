"""Narrative writers: guard acceptance per section and paragraph, wall time, readability.

    .venv/bin/python benchmarks/bench_narrative.py                      # template + SmolLM2
    .venv/bin/python benchmarks/bench_narrative.py --run-dir out/demo   # a real run's facts.json
    .venv/bin/python benchmarks/bench_narrative.py --classes 12         # many classes
    .venv/bin/python benchmarks/bench_narrative.py --writers template local local=PATH.gguf \
        openai=http://127.0.0.1:8000/v1 --model NAME --unit paragraph

Inputs: by default a demo-like run built in code (the parts-world classes and parts, two
models, one with a background shortcut on "fish", some misclassified images) through the real
statistics, facts and findings rules; ``--classes N`` the same with N classes; with
``--run-dir`` the facts and findings of a run.

Writers: ``template``; ``local`` (SmolLM2-135M in-process) or ``local=PATH`` (another GGUF);
``openai=URL`` (an OpenAI-compatible server, model ``--model``). ``--unit``: what one LLM call
writes (``auto``: paragraphs for local, sections for openai).

Per writer it writes every section for each audience ``--repeats`` times (LLM seeds differ per
repeat, no response cache) and reports, per section, the share of paragraphs whose LLM text
the guard accepted (a section writer's section counts all its paragraphs), the share of
sections with any LLM text, calls and prompt tokens per call (mean and max), the wall time per
narrative (five sections), and the readability of the filled text (Flesch reading ease and
mean words per sentence, ``reportgen.narrative.readability``). The template writer needs no
guard; its acceptance is checked by running the guard over its output anyway.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

import reportgen.metrics
import reportgen.scoring  # noqa: F401  (registers region.area_share)
from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules import derive_findings
from reportgen.analysis.stats import group_statistics
from reportgen.config import NarrativeSettings
from reportgen.narrative import SECTION_IDS, TemplateWriter, make_writer
from reportgen.narrative.guard import check_text
from reportgen.narrative.narrate import writes_paragraphs
from reportgen.narrative.placeholders import fill_placeholders
from reportgen.narrative.prompts import section_guard
from reportgen.narrative.readability import readability
from reportgen.narrative.sections import get_section
from reportgen.scoring import SCORE_COLUMNS

CLASSES = ("bird", "fish", "turtle", "beetle")
MORE_CLASSES = ("frog", "snake", "crab", "shark", "eagle", "lizard", "spider", "owl", "moth",
                "newt", "whale", "seal", "heron", "otter", "gecko", "squid")
PARTS = ("head", "body", "tail", "legs")
# Median heat share per region (background first) for a model that looks at the object.
FAIR = {"background": 0.25, "head": 0.2, "body": 0.35, "tail": 0.1, "legs": 0.1}
AREA = {"background": 0.7, "head": 0.05, "body": 0.15, "tail": 0.05, "legs": 0.05}


def demo_like_scores(images_per_class: int = 50, seed: int = 0,
                     classes: tuple[str, ...] = CLASSES) -> pd.DataFrame:
    """A scores table like the demo's: partnet (fair) and partnet_biased (whose Grad-CAM
    heat sits on the background for fish, and for every class when it is wrong)."""
    rng = np.random.default_rng(seed)
    rows = []
    for model in ("partnet", "partnet_biased"):
        for cls in classes:
            for i in range(images_per_class):
                correct = rng.random() > (0.08 if model == "partnet" else 0.2)
                shares = dict(FAIR)
                if model == "partnet_biased" and (cls == "fish" or not correct):
                    shares = {"background": 0.7, "head": 0.05, "body": 0.15, "tail": 0.05,
                              "legs": 0.05}
                for region, share in shares.items():
                    p = float(np.clip(share + rng.normal(0, 0.06), 0.001, 1))
                    area = float(np.clip(AREA[region] + rng.normal(0, 0.01), 0.001, 1))
                    r = float(np.clip(p / area * 0.1 + rng.normal(0, 0.02), 0, 1))
                    ph = 2 * p * r / (p + r) if p + r else 0.0
                    for metric, value in (("pqah.precision", p), ("pqah.recall", r),
                                          ("pqah.ph", ph), ("region.area_share", area)):
                        rows.append({"image_id": f"{cls}-{i}", "object_id": 0,
                                     "class_name": cls, "target_class": cls,
                                     "predicted_class": cls if correct else "other",
                                     "correct": correct, "model": model, "method": "gradcam",
                                     "region": region, "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def demo_like_inputs(n_classes: int = len(CLASSES)) -> tuple[FactTable, list[Finding]]:
    """Facts and findings of a demo-like run with ``n_classes`` classes (4: the demo's)."""
    classes = (CLASSES + MORE_CLASSES)[:n_classes]
    scores = demo_like_scores(images_per_class=50 if n_classes <= 4 else 30, classes=classes)
    facts = facts_from_statistics(group_statistics(scores, seed=0))
    total = scores.drop_duplicates(["model", "image_id"]).shape[0] // 2
    facts.add_value("run.samples.total", total + 3, total + 3, "count")
    facts.add_value("run.samples.excluded", 3, total + 3, "count")
    facts.add_value("run.samples.scored", total, total + 3, "count")
    result = derive_findings(scores, facts)
    return facts.merged(result.facts), result.findings


def run_inputs(run_dir: Path) -> tuple[FactTable, list[Finding]]:
    data = json.loads((run_dir / "facts.json").read_text(encoding="utf-8"))
    facts = FactTable.from_dict({k: v for k, v in data.items() if k != "findings"})
    return facts, [Finding(**f) for f in data.get("findings", [])]


class RecordingChat:
    """A chat backend that records each call's prompt tokens (the section usage only sums)."""

    def __init__(self, inner):
        self.inner, self.model, self.prompt_tokens = inner, inner.model, []

    def complete(self, messages, params):
        completion = self.inner.complete(messages, params)
        self.prompt_tokens.append(completion.prompt_tokens)
        return completion


def settings_for(spec: str, args: argparse.Namespace) -> NarrativeSettings:
    """``template``, ``local``, ``local=PATH`` or ``openai=URL`` as narrative settings."""
    name, _, value = spec.partition("=")
    extra = {"model_path": Path(value)} if name == "local" and value else {}
    if name == "openai":
        extra = {"base_url": value, "model": args.model, "timeout_s": 600.0}
    return NarrativeSettings(writer=name, guard_retries=args.guard_retries,
                             audiences=tuple(args.audiences), unit=args.unit,
                             max_tokens=args.max_tokens, n_ctx=4096, **extra)


def _paragraphs(section, name: str, ok_template: bool) -> tuple[int, int]:
    """(paragraphs accepted, paragraphs) of one written section."""
    if section.paragraph_writers:
        return sum(w == name for w in section.paragraph_writers), len(section.paragraph_writers)
    n = len(section.text.split("\n\n"))
    return (n if (section.writer == name or ok_template) else 0), n


def bench_writer(spec: str, facts: FactTable, findings: list[Finding],
                 args: argparse.Namespace) -> dict:
    config = settings_for(spec, args)
    name = config.writer
    per_section = {s: {"accepted": 0, "paragraphs": 0, "sections": 0, "n": 0}
                   for s in SECTION_IDS}
    times, prompt_tokens, texts = [], [], []
    build_s = 0.0
    for repeat in range(args.repeats):
        start = time.perf_counter()
        writer = make_writer(config, seed=repeat) if name != "template" else TemplateWriter()
        if name != "template":
            writer.chat = RecordingChat(writer.chat)
        build_s = max(build_s, time.perf_counter() - start)
        start = time.perf_counter()
        sections = []
        for audience in config.audiences:
            for section in SECTION_IDS:
                sections.append(writer.write_section(section, facts, findings, audience))
                if name != "template":
                    s = sections[-1]
                    print(f"  {spec} repeat {repeat} {section}: {s.writer}, {s.guard}, "
                          f"{time.perf_counter() - start:.0f} s", flush=True)
        times.append(time.perf_counter() - start)
        if name != "template":
            prompt_tokens += writer.chat.prompt_tokens
        for s in sections:
            ok = name == "template" and check_text(s.text, section_guard(
                get_section(s.section), facts, findings)).ok
            accepted, n = _paragraphs(s, name, ok)
            row = per_section[s.section]
            row["accepted"] += accepted
            row["paragraphs"] += n
            row["sections"] += s.writer == name or ok
            row["n"] += 1
            texts.append(fill_placeholders(s.text, facts, s.audience))
    read = readability("\n\n".join(texts))
    total = sum(r["paragraphs"] for r in per_section.values())
    return {
        "writer": spec,
        "unit": "paragraph" if name != "template" and writes_paragraphs(config) else
        ("section" if name != "template" else "-"),
        "model": sections[0].model or "-",
        "narrative_wall_s_mean": statistics.mean(times),
        "narrative_wall_s_min": min(times),
        "setup_s": build_s,
        "calls_per_narrative": len(prompt_tokens) / args.repeats,
        "prompt_tokens_mean": statistics.mean(prompt_tokens) if prompt_tokens else 0,
        "prompt_tokens_max": max(prompt_tokens, default=0),
        "paragraphs_accepted": sum(r["accepted"] for r in per_section.values()) / total,
        "reading_ease": read.reading_ease,
        "sentence_words": read.sentence_words,
        "sections": {s: {"paragraphs_accepted": r["accepted"] / max(1, r["paragraphs"]),
                         "paragraphs": r["paragraphs"] / args.repeats,
                         "sections_with_llm_text": r["sections"] / r["n"]}
                     for s, r in per_section.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--classes", type=int, default=len(CLASSES),
                        help="classes of the generated run (without --run-dir)")
    parser.add_argument("--writers", nargs="+", default=["template", "local"])
    parser.add_argument("--model", default="local-model", help="model id for openai=URL")
    parser.add_argument("--unit", default="auto", choices=["auto", "paragraph", "section"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--guard-retries", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--audiences", nargs="+", default=["end user"])
    parser.add_argument("--show", action="store_true", help="print the last narrative")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    facts, findings = (run_inputs(args.run_dir) if args.run_dir
                       else demo_like_inputs(args.classes))
    severities = {s: sum(f.severity == s for f in findings) for s in ("high", "medium", "low",
                                                                       "info")}
    print(f"inputs: {args.run_dir or f'generated, {args.classes} classes'}: {len(facts)} "
          f"facts, {len(findings)} findings {severities}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, load "
          f"{os.getloadavg()[0]:.1f}")
    results = [bench_writer(w, facts, findings, args) for w in args.writers]
    print("\n| writer | unit | paragraphs accepted | " + " | ".join(SECTION_IDS)
          + " | wall s/narrative | calls | prompt tokens/call (mean, max) | reading ease "
          "| words/sentence |")
    print("| --- " * (8 + len(SECTION_IDS)) + "|")
    for r in results:
        cells = [f"{r['sections'][s]['paragraphs_accepted']:.0%} "
                 f"({r['sections'][s]['paragraphs']:.0f})" for s in SECTION_IDS]
        print(f"| {r['writer']} ({r['model']}) | {r['unit']} | {r['paragraphs_accepted']:.0%} | "
              + " | ".join(cells) + f" | {r['narrative_wall_s_mean']:.1f} | "
              f"{r['calls_per_narrative']:.0f} | {r['prompt_tokens_mean']:.0f}, "
              f"{r['prompt_tokens_max']} | {r['reading_ease']:.1f} | "
              f"{r['sentence_words']:.1f} |")
    if args.show:
        for w in args.writers:
            config = settings_for(w, args)
            writer = make_writer(config) if config.writer != "template" else TemplateWriter()
            for s in SECTION_IDS:
                section = writer.write_section(s, facts, findings)
                print(f"\n--- {w} / {s} / {section.guard}\n"
                      f"{fill_placeholders(section.text, facts, 'end user')}")
    print("\nJSON:", json.dumps(results))


if __name__ == "__main__":
    main()
