"""Narrative writers: guard acceptance per section and wall time, template vs LLM.

    .venv/bin/python benchmarks/bench_narrative.py                      # template + local SmolLM2
    .venv/bin/python benchmarks/bench_narrative.py --run-dir out/demo   # a real run's facts.json
    .venv/bin/python benchmarks/bench_narrative.py --writers template --repeats 5

Inputs: by default a demo-like run built in code (the parts-world classes and parts, two
models, one with a background shortcut on "fish", some misclassified images) through the real
statistics, facts and findings rules; with ``--run-dir`` the facts and findings of a run.

Per writer it writes every section for each audience ``--repeats`` times (LLM seeds differ per
repeat, no response cache) and reports, per section, the share of sections whose LLM draft the
guard accepted (within the configured guard retries), the share of first drafts accepted, the
mean attempts, and the wall time per narrative (five sections). The template writer needs no
guard; its acceptance is checked by running the guard over its output anyway.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from dataclasses import replace
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
from reportgen.narrative.prompts import section_guard
from reportgen.narrative.sections import get_section
from reportgen.scoring import SCORE_COLUMNS

CLASSES = ("bird", "fish", "turtle", "beetle")
PARTS = ("head", "body", "tail", "legs")
# Median heat share per region (background first) for a model that looks at the object.
FAIR = {"background": 0.25, "head": 0.2, "body": 0.35, "tail": 0.1, "legs": 0.1}
AREA = {"background": 0.7, "head": 0.05, "body": 0.15, "tail": 0.05, "legs": 0.05}


def demo_like_scores(images_per_class: int = 50, seed: int = 0) -> pd.DataFrame:
    """A scores table like the demo's: partnet (fair) and partnet_biased (whose Grad-CAM
    heat sits on the background for fish, and for every class when it is wrong)."""
    rng = np.random.default_rng(seed)
    rows = []
    for model in ("partnet", "partnet_biased"):
        for cls in CLASSES:
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


def demo_like_inputs() -> tuple[FactTable, list[Finding]]:
    scores = demo_like_scores()
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


def bench_writer(name: str, facts: FactTable, findings: list[Finding], repeats: int,
                 audiences: tuple[str, ...], guard_retries: int) -> dict:
    per_section = {s: {"accepted": 0, "first": 0, "attempts": [], "n": 0} for s in SECTION_IDS}
    times, tokens = [], 0
    build_s = 0.0
    for repeat in range(repeats):
        config = NarrativeSettings(writer=name, guard_retries=guard_retries,
                                   audiences=audiences)
        start = time.perf_counter()
        writer = make_writer(config, seed=repeat) if name != "template" else TemplateWriter()
        build_s = max(build_s, time.perf_counter() - start)
        start = time.perf_counter()
        sections = []
        for audience in audiences:
            for section in SECTION_IDS:
                sections.append(writer.write_section(section, facts, findings, audience))
                if name != "template":
                    s = sections[-1]
                    print(f"  {name} repeat {repeat} {section}: {s.writer}, {s.guard}, "
                          f"{time.perf_counter() - start:.0f} s", flush=True)
        times.append(time.perf_counter() - start)
        for s in sections:
            row = per_section[s.section]
            row["n"] += 1
            if name == "template":
                ok = check_text(s.text, section_guard(get_section(s.section), facts,
                                                      findings)).ok
                row["accepted"] += ok
                row["first"] += ok
                row["attempts"].append(0)
            else:
                row["accepted"] += s.writer == name
                row["first"] += s.writer == name and s.attempts == 1
                row["attempts"].append(s.attempts)
                tokens += s.usage.get("prompt_tokens", 0) + s.usage.get("completion_tokens", 0)
    return {
        "writer": name,
        "model": sections[0].model or "-",
        "narrative_wall_s_mean": statistics.mean(times),
        "narrative_wall_s_min": min(times),
        "setup_s": build_s,
        "tokens_per_narrative": tokens / repeats,
        "sections": {s: {"accepted": r["accepted"] / r["n"], "first_draft": r["first"] / r["n"],
                         "mean_attempts": statistics.mean(r["attempts"]), "n": r["n"]}
                     for s, r in per_section.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--writers", nargs="+", default=["template", "local"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--guard-retries", type=int, default=2)
    parser.add_argument("--audiences", nargs="+", default=["end user"])
    parser.add_argument("--show", action="store_true", help="print one narrative per writer")
    parser.add_argument("--ci-in-words", action="store_true",
                        help="rewrite the rules' literal '95 %% CI' as 'confidence interval' "
                             "(statements must hold no numeral; see issue 8's report)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    facts, findings = run_inputs(args.run_dir) if args.run_dir else demo_like_inputs()
    if args.ci_in_words:
        findings = [replace(f, statement=f.statement.replace("95 % CI", "confidence interval"))
                    for f in findings]
    severities = {s: sum(f.severity == s for f in findings) for s in ("high", "medium", "low",
                                                                       "info")}
    print(f"inputs: {len(facts)} facts, {len(findings)} findings {severities}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    results = [bench_writer(w, facts, findings, args.repeats, tuple(args.audiences),
                            args.guard_retries) for w in args.writers]
    for r in results:
        print(f"\n{r['writer']} ({r['model']}): narrative wall time mean "
              f"{r['narrative_wall_s_mean']:.3f} s, min {r['narrative_wall_s_min']:.3f} s; "
              f"setup {r['setup_s']:.2f} s; tokens per narrative {r['tokens_per_narrative']:.0f}")
        print("| section | accepted by the guard | first draft accepted | mean attempts |")
        print("| --- | --- | --- | --- |")
        for s, row in r["sections"].items():
            print(f"| {s} | {row['accepted']:.0%} | {row['first_draft']:.0%} | "
                  f"{row['mean_attempts']:.2f} |")
    if args.show:
        for w in args.writers:
            writer = make_writer(NarrativeSettings(writer=w, guard_retries=0))
            for s in SECTION_IDS:
                section = writer.write_section(s, facts, findings)
                print(f"\n--- {w} / {s} / {section.guard}\n{section.text}")
    print("\nJSON:", json.dumps(results))


if __name__ == "__main__":
    main()
