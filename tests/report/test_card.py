"""The model card: front matter, numbers from facts, idempotent insertion into existing cards."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import reportgen.metrics  # noqa: F401  (registers the metrics)
from reportgen.analysis.facts import FactTable, facts_from_statistics, format_value
from reportgen.analysis.rules import derive_findings
from reportgen.analysis.stats import group_statistics
from reportgen.errors import ReportgenError
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.narrative.written import NarrativeSection
from reportgen.report.card import BEGIN, END, build_card, insert_card, write_card
from reportgen.scoring import SCORE_COLUMNS

REPORTGEN = Path(sys.executable).with_name("reportgen")
XSS = "<script>alert(1)</script>"
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # a model-index metric type
NUMBER = re.compile(r"(?<![\w.])(?:< )?-?\d[\d,]*(?:\.\d+)?(?: %)?")
# Fixed texts that hold digits but are no measurement: a confidence level and a citation.
NOT_MEASUREMENTS = ("95 % CI", "arXiv 2304.13836")


def _scores(parts, classes, models=("partnet",), methods=("gradcam",), seed=0) -> pd.DataFrame:
    """Synthetic scores: 12 images per class; class ``classes[1]`` puts most heat on the
    background (a planted shortcut); plus object metrics and a random baseline."""
    rng = np.random.default_rng(seed)
    rows = []

    def row(model, method, cls, i, region, metric, value, predicted=None):
        rows.append({"image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                     "target_class": cls, "predicted_class": cls if predicted is None
                     else predicted, "correct": predicted is None, "model": model,
                     "method": method, "region": region, "metric": metric,
                     "value": float(value)})

    for cls in classes:
        shortcut = cls == classes[1]
        for i in range(12):
            for model in models:
                for method in methods:
                    wrong = classes[0] if i == 0 and cls != classes[0] else None
                    for region in ("background", *parts):
                        share = rng.uniform(0.8, 0.95) if shortcut else rng.uniform(0.1, 0.4)
                        if region != "background":
                            share = rng.uniform(0, 1 - share) / len(parts)
                        row(model, method, cls, i, region, "pqah.precision", share, wrong)
                        row(model, method, cls, i, region, "pqah.ph", rng.random(), wrong)
                        row(model, method, cls, i, region, "pqah.recall", rng.random(), wrong)
                    for metric in ("loc.iou", "loc.relevance_mass", "road.combined"):
                        row(model, method, cls, i, "object", metric, rng.random(), wrong)
                    row(model, method, cls, i, "object", "faith.avg_drop",
                        100 * rng.random(), wrong)
            for region in ("background", *parts):
                row("baseline", "random", cls, i, region, "pqah.ph", rng.random(), "")
            row("baseline", "random", cls, i, "object", "loc.iou", rng.random(), "")
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def make_run_dir(path: Path, parts=("head", "body", "tail"), classes=("cat", "fish", "dog"),
                 narrative=True, findings=True, seed=0, models=("partnet",)) -> Path:
    """A run directory (facts.json with findings, run.json, narrative.json) from synthetic
    scores, with the real statistics, facts, rules and template writer."""
    scores = _scores(parts, classes, models=models, seed=seed)
    facts = facts_from_statistics(group_statistics(scores, seed=0))
    per_image = scores[scores["model"] != "baseline"].drop_duplicates(
        ["model", "method", "image_id"])
    for (model, method), group in per_image.groupby(["model", "method"]):
        facts.add_value("model.accuracy", 100 * group["correct"].mean(), len(group),
                        "percent", "higher", model=model, method=method)
    total = len(classes) * 12 + 2
    facts.add_value("run.samples.total", total, total, "count")
    facts.add_value("run.samples.scored", total - 2, total, "count")
    facts.add_value("run.samples.excluded", 2, total, "count")
    found = []
    if findings:
        result = derive_findings(scores, facts)
        facts, found = facts.merged(result.facts), result.findings
    path.mkdir(parents=True, exist_ok=True)
    data = facts.to_dict()
    if findings:
        data["findings"] = [f.to_dict() for f in found]
    (path / "facts.json").write_text(json.dumps(data), encoding="utf-8")
    run = {"title": "Synthetic", "models": list(models), "methods": ["gradcam"],
           "dataset": {"name": "partworld", "root_name": "world", "class_names": list(classes),
                       "part_names": list(parts)},
           "config": {"target": "predicted"}, "created": "2024-01-01 00:00 UTC",
           "config_hash": "cafe0123", "versions": {"reportgen": "0.1.0", "torch": "2.1.0"}}
    (path / "run.json").write_text(json.dumps(run), encoding="utf-8")
    if narrative:
        section = TemplateWriter().write_section("summary", facts, found)
        (path / "narrative.json").write_text(json.dumps([asdict(section)]), encoding="utf-8")
    return path


def split_card(card: str) -> tuple[dict, str]:
    """(front matter mapping, the text of the marked block)."""
    assert card.startswith("---\n")
    front, rest = card[4:].split("\n---\n", 1)
    start, end = rest.index(BEGIN), rest.index(END)
    return yaml.safe_load(front), rest[start + len(BEGIN):end]


def unescaped(markdown: str) -> str:
    """The text a reader sees: Markdown backslash escapes and HTML entities resolved."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def numbers_not_from_facts(body: str, facts: FactTable, names: list[str]) -> list[str]:
    """Numbers in ``body`` that are neither a fact's display string nor a fact's sample
    count; the provenance line and fixed non-measurement texts are left out by design."""
    text = "\n".join(line for line in unescaped(body).splitlines()
                     if not line.startswith("*Provenance"))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "NAME")
    for fixed in NOT_MEASUREMENTS:
        text = text.replace(fixed, "")
    allowed = {f.display for f in facts} | {format_value(f.n, "count") for f in facts}
    return [token for token in NUMBER.findall(text) if token not in allowed]


def load_facts(run_dir: Path) -> FactTable:
    return FactTable.from_dict(json.loads((run_dir / "facts.json").read_text("utf-8")))


def assert_model_index_matches_facts(meta: dict, facts: FactTable) -> int:
    """Every model-index metric: its ``args`` name a fact of its model and method, its type
    is a readable slug and its value is the fact's value as the display rounds it. Returns
    the number of metrics checked."""
    checked = 0
    for entry in meta["model-index"]:
        for result in entry["results"]:
            assert result["task"]["type"] == "image-classification"
            for metric in result["metrics"]:
                fact = facts[metric["args"]["reportgen_fact"]]
                assert fact.dims["model"] == entry["name"]
                assert fact.dims["method"] == metric["config"]
                assert SLUG.fullmatch(metric["type"]), metric
                assert format_value(metric["value"], fact.unit) == fact.display, metric
                step = {"share": 0.01, "percent": 0.1, "count": 1}.get(fact.unit, 0.01)
                assert abs(metric["value"] - fact.value) <= step / 2 + 1e-9, metric
                assert metric["name"]
                checked += 1
    return checked


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("card") / "run")


@pytest.fixture(scope="module")
def synthetic_card(synthetic_run) -> str:
    return build_card(synthetic_run)


def test_front_matter_model_index_values_equal_the_facts(synthetic_run, synthetic_card):
    meta, _ = split_card(synthetic_card)
    facts = load_facts(synthetic_run)
    assert [e["name"] for e in meta["model-index"]] == ["partnet"]  # baselines are no model
    result = meta["model-index"][0]["results"][0]
    assert result["dataset"] == {"name": "partworld", "type": "partworld"}
    types = [m["type"] for m in result["metrics"]]
    assert types == ["accuracy", "pqah-ph-median-background", "pqah-ph-median-head",
                     "pqah-ph-median-body", "pqah-ph-median-tail",
                     "pqah-precision-median-background", "loc-iou-mean",
                     "loc-relevance-mass-median", "faith-avg-drop-mean", "road-combined-median"]
    fids = [m["args"]["reportgen_fact"] for m in result["metrics"]]
    assert fids[:2] == ["model.accuracy|model=partnet|method=gradcam",
                        "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=background"]
    assert "road.combined.q2|model=partnet|method=gradcam|class=all|region=object" in fids
    assert result["metrics"][2]["name"] == "PH, head (median) [gradcam]"
    assert assert_model_index_matches_facts(meta, facts) == len(types) == 10


def test_every_number_in_the_body_is_a_fact_display_string(synthetic_run, synthetic_card):
    _, body = split_card(synthetic_card)
    facts = load_facts(synthetic_run)
    assert NUMBER.findall(unescaped(body)), "the body shows numbers"
    names = ["partnet", "gradcam", "partworld", "head", "body", "tail", "cat", "fish", "dog"]
    assert numbers_not_from_facts(body, facts, names) == []
    # The scanner can fail: a number that is no fact's display string is caught.
    assert numbers_not_from_facts(body + "\nabout 0.123 of it", facts, names) == ["0.123"]


def test_headline_table_shows_each_value_with_its_n(synthetic_run, synthetic_card):
    facts = load_facts(synthetic_run)
    dims = "model=partnet|method=gradcam|class=all"
    head = facts.display(f"pqah.ph.q2|{dims}|region=head")
    n = facts.display(f"pqah.ph.n|{dims}|region=head")
    base = facts.display("pqah.ph.q2|model=baseline|method=random|class=all|region=head")
    assert (f"| PH, head (median) | {head} (n = {n}) | {base} (n = {n}) |"
            in synthetic_card)
    iou = facts.display(f"loc.iou.mean|{dims}|region=object")
    assert f"| IoU with the object (mean) ↑ | {iou} (n = {n}) |" in synthetic_card
    accuracy = facts["model.accuracy|model=partnet|method=gradcam"]
    assert (f"| Accuracy | {accuracy.display} (n = {format_value(accuracy.n, 'count')}) | – |"
            in synthetic_card)


def test_card_has_both_sections_with_findings_filled_from_facts(synthetic_run,
                                                                  synthetic_card):
    _, body = split_card(synthetic_card)
    examination = body.index("## Model Examination")
    bias = body.index("## Bias, Risks, and Limitations")
    assert examination < body.index("### Executive summary") < bias
    assert "{{fact:" not in body
    biases = body[bias:body.index("### Limitations")]
    assert "the model may use the background as a shortcut for fish" in biases
    facts = load_facts(synthetic_run)
    share = facts.display("pqah.precision.q2_explaining|model=partnet|method=gradcam"
                          "|class=fish|region=background")
    assert f"a median {share} of the heat falls on the background" in body
    assert "2 of 38 samples were excluded" in body
    assert "run created 2024-01-01 00:00 UTC; config hash cafe0123" in body
    assert "report.html" in body and "facts.json" in body


def test_card_without_narrative_and_findings_still_has_both_sections(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", narrative=False, findings=False)
    card = build_card(run_dir)
    _, body = split_card(card)
    assert "## Model Examination" in body and "## Bias, Risks, and Limitations" in body
    assert "Executive summary" not in body
    assert "The rules found no background reliance" in body
    assert numbers_not_from_facts(body, load_facts(run_dir),
                                  ["partnet", "gradcam", "partworld"]) == []


def test_an_llm_summary_is_shown_and_its_model_id_goes_to_the_provenance_line(synthetic_run,
                                                                             tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(synthetic_run, run_dir)
    fid = "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head"
    section = NarrativeSection("summary", "Executive summary",
                               f"The head gets a median PH of {{{{fact:{fid}}}}}.", "local",
                               guard="accepted", model="SmolLM2-135M-Instruct", attempts=1)
    (run_dir / "narrative.json").write_text(json.dumps([asdict(section)]), encoding="utf-8")
    _, body = split_card(build_card(run_dir))
    facts = load_facts(run_dir)
    assert f"The head gets a median PH of {facts.display(fid)}." in body
    provenance = body.strip().splitlines()[-1]
    assert provenance.startswith("*Provenance") and "SmolLM2-135M-Instruct" in provenance
    assert numbers_not_from_facts(body, facts, ["partnet", "gradcam", "partworld"]) == []


@pytest.mark.parametrize("missing", ["facts.json", "run.json"])
def test_missing_facts_or_run_json_is_an_error_naming_the_file(synthetic_run, tmp_path,
                                                               missing):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("facts.json", "run.json", "narrative.json"):
        if name != missing:
            (run_dir / name).write_bytes((synthetic_run / name).read_bytes())
    with pytest.raises(ReportgenError, match=re.escape(missing)):
        build_card(run_dir)


def test_part_and_class_named_script_are_escaped(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", parts=("head", XSS, "a|b"),
                           classes=("cat", XSS, "dog"))
    card = build_card(run_dir)
    meta, body = split_card(card)
    assert "<script" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "shortcut for &lt;script&gt;alert(1)&lt;/script&gt;" in body  # class in a finding
    # A "|" in a name does not break the table: every row has the header's cell count.
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    cells = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
    assert len(rows) > 5 and len(cells) == 1
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    fids = [m["args"]["reportgen_fact"] for m in metrics]
    assert f"pqah.ph.q2|model=partnet|method=gradcam|class=all|region={XSS}" in fids
    assert "pqah-ph-median-script-alert-1-script" in [m["type"] for m in metrics]
    assert all(SLUG.fullmatch(m["type"]) for m in metrics)


EXISTING = """---
license: apache-2.0
tags:
- image-classification
model-index:
- name: partnet
  results:
  - task:
      type: image-classification
    dataset:
      name: ImageNet
      type: imagenet-1k
    metrics:
    - type: accuracy
      value: 0.71
- name: other-model
  results: []
---

# PartNet

Some text the authors wrote.\r
With a CRLF line and a trailing space.\x20

## Training
Trained for a while.
"""


def test_insert_into_an_existing_card_is_idempotent_and_keeps_the_rest(synthetic_card):
    once = insert_card(EXISTING, synthetic_card)
    assert insert_card(once, synthetic_card) == once
    body = EXISTING.split("---\n", 2)[2]
    assert once.split("\n---\n", 1)[1].startswith(body)  # every byte of the body, then ours
    assert once.endswith(split_card(synthetic_card)[1] + END + "\n")


def test_front_matter_merge_keeps_other_keys_and_other_results(synthetic_card):
    meta = yaml.safe_load(insert_card(EXISTING, synthetic_card).split("\n---\n", 1)[0][4:])
    assert meta["license"] == "apache-2.0"
    assert meta["tags"] == ["image-classification"]
    names = [e["name"] for e in meta["model-index"]]
    assert names == ["partnet", "other-model"]
    results = meta["model-index"][0]["results"]
    assert results[0]["dataset"]["name"] == "ImageNet"  # the authors' result stays first
    assert results[1] == split_card(synthetic_card)[0]["model-index"][0]["results"][0]
    assert meta["model-index"][1] == {"name": "other-model", "results": []}


def test_a_new_run_replaces_the_older_block_and_results(synthetic_card, tmp_path):
    older = build_card(make_run_dir(tmp_path / "older", seed=1))
    assert older != synthetic_card
    card = insert_card(EXISTING, older) + "\n## After the block\nKept.\n"
    updated = insert_card(card, synthetic_card)
    assert updated == insert_card(EXISTING, synthetic_card) + "\n## After the block\nKept.\n"
    meta = yaml.safe_load(updated.split("\n---\n", 1)[0][4:])
    assert len(meta["model-index"][0]["results"]) == 2  # the authors' and the newest run's


def test_card_without_front_matter_gets_ours_and_keeps_its_text(synthetic_card):
    readme = "# My model\n\nText.\n"
    out = insert_card(readme, synthetic_card)
    meta, _ = split_card(out)
    assert meta == split_card(synthetic_card)[0]
    assert "\n# My model\n\nText.\n\n" + BEGIN in out
    assert insert_card(out, synthetic_card) == out
    assert insert_card("", synthetic_card) == synthetic_card


@pytest.mark.parametrize("broken, problem", [
    (f"# Card\n{BEGIN}\nold\n", "without a reportgen:end"),
    (f"# Card\nold\n{END}\n", "without a reportgen:begin"),
    (f"# Card\n{END}\nold\n{BEGIN}\n", "comes before"),
    (f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", "more than one"),
])
def test_broken_markers_are_an_error(synthetic_card, broken, problem):
    with pytest.raises(ReportgenError, match=problem):
        insert_card(broken, synthetic_card)


def test_write_card_writes_model_card_md_into_the_run_directory(synthetic_run):
    path = write_card(synthetic_run)
    assert path == synthetic_run / "model_card.md"
    assert path.read_text(encoding="utf-8") == build_card(synthetic_run)


def test_write_card_into_updates_an_existing_readme_in_place(synthetic_run, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_bytes(EXISTING.encode("utf-8"))
    assert write_card(synthetic_run, into=readme) == readme
    first = readme.read_bytes()
    assert b"Some text the authors wrote.\r\nWith a CRLF line" in first
    write_card(synthetic_run, into=readme)
    assert readme.read_bytes() == first
    readme.write_text(f"{BEGIN}\n", encoding="utf-8")
    with pytest.raises(ReportgenError, match=re.escape("README.md")):
        write_card(synthetic_run, into=readme)


def test_one_model_goes_into_the_cards_only_entry_whatever_its_name(synthetic_card):
    existing = "---\nmodel-index:\n- name: org/partnet-v2\n  results: []\n---\n# Card\n"
    out = insert_card(existing, synthetic_card)
    meta, _ = split_card(out)
    assert [e["name"] for e in meta["model-index"]] == ["org/partnet-v2"]
    assert meta["model-index"][0]["results"] == \
        split_card(synthetic_card)[0]["model-index"][0]["results"]
    assert insert_card(out, synthetic_card) == out


def test_a_run_with_several_models_needs_a_model_for_an_existing_card(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", models=("biased", "fair"), findings=False)
    meta, body = split_card(build_card(run_dir))
    assert [e["name"] for e in meta["model-index"]] == ["biased", "fair"]
    readme = tmp_path / "README.md"
    readme.write_text("# Fair\n", encoding="utf-8")
    with pytest.raises(ReportgenError, match=r"several models \(biased, fair\).*--model"):
        write_card(run_dir, into=readme)
    write_card(run_dir, into=readme, model="fair")
    meta, into_body = split_card(readme.read_text(encoding="utf-8"))
    assert [e["name"] for e in meta["model-index"]] == ["fair"]
    assert {m["args"]["reportgen_fact"].split("|")[1]
            for m in meta["model-index"][0]["results"][0]["metrics"]} == {"model=fair"}
    assert into_body == body  # the block still compares every model of the run
    with pytest.raises(ReportgenError, match="'unfair' is not in this run"):
        build_card(run_dir, model="unfair")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """A fresh `reportgen demo` run directory (about a minute), once for this module."""
    out = tmp_path_factory.mktemp("card-demo") / "run"
    proc = subprocess.run([str(REPORTGEN), "demo", "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_demo_card_numbers_are_facts_and_it_names_the_fish_shortcut(demo_run):
    card = build_card(demo_run)
    meta, body = split_card(card)
    facts = load_facts(demo_run)
    run = json.loads((demo_run / "run.json").read_text("utf-8"))
    assert [e["name"] for e in meta["model-index"]] == run["models"]
    assert assert_model_index_matches_facts(meta, facts) >= 2 * 2 * 10
    names = [*run["models"], *run["methods"], run["dataset"]["name"],
             *run["dataset"]["class_names"], *run["dataset"]["part_names"]]
    assert numbers_not_from_facts(body, facts, names) == []
    bias = body[body.index("### Possible biases"):body.index("### Limitations")]
    assert "partnet\\_biased's gradcam heatmaps explain class fish" in bias
    assert "ROAD rankings favour blurry heatmaps" in body
    assert write_card(demo_run).read_text(encoding="utf-8") == card
    single, _ = split_card(build_card(demo_run, model="partnet_biased"))
    assert [e["name"] for e in single["model-index"]] == ["partnet_biased"]


def test_the_card_prefers_the_summary_written_for_the_model_card_audience():
    from reportgen.narrative.written import NarrativeSection
    from reportgen.report.card import card_summary

    user = NarrativeSection("summary", "Executive summary", "For users.", "template")
    card = NarrativeSection("summary", "Executive summary", "For the card.", "template",
                            audience="model card")
    other = NarrativeSection("bias", "Bias review", "Bias.", "template", audience="model card")
    assert card_summary([user, other, card]) is card
    assert card_summary([user, other]) is user
    assert card_summary([other]) is None
