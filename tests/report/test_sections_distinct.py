"""The narrative's sections do not repeat each other: no sentence is said in two sections,
and no two sections share more than ``MAX_SHARED`` of their content words.

Content words: words of three letters or more, lower-cased, without stop words, without the
data's names (models, methods, classes, parts: every section must name them) and without the
facts (placeholders). The share of two sections is the shared words over the smaller
section's words, so a short section cannot hide in a long one; a section of fewer than
``MIN_WORDS`` content words counts as ``MIN_WORDS`` (one shared word is no repetition).

Runs: the hand-written run of tests/narrative, a demo-shaped run (two models, two methods,
four classes, a background shortcut for one class) and a generated many-class run, all built
in code; plus the demo's own facts.json when a demo run lies in out/demo.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import FactTable, fact_id
from reportgen.analysis.findings import Finding
from reportgen.narrative.placeholders import PLACEHOLDER, placeholder
from reportgen.narrative.sections import SECTION_IDS
from reportgen.narrative.template_writer import SUMMARY_WORDS, TemplateWriter
from tests.narrative.run_data import make_facts, make_findings

MAX_SHARED = 0.30
MIN_WORDS = 10
DEMO = Path(__file__).resolve().parents[2] / "out" / "demo" / "facts.json"
STOP = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "also", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "here", "how", "if", "in", "into", "is",
    "it", "its", "itself", "just", "more", "most", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "out", "over", "own", "same", "should", "so", "some",
    "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "why", "will", "with", "would", "you", "your",
    "may", "per",
})
# The subject every section talks about: shared by nature, not repetition.
DOMAIN = {"heat", "median", "background", "share", "class", "classes", "model", "models",
          "method", "methods", "image", "images", "falls"}


def _sentences(text: str) -> list[str]:
    """Sentences of at least four words, placeholders kept (the same fact reads the same)."""
    parts = re.split(r"(?<=[.!?])\s+|\n\n", text)
    return [" ".join(p.split()).lower() for p in parts if len(p.split()) >= 4]


def _content_words(text: str, names: set[str]) -> set[str]:
    words = re.findall(r"[a-z][a-z'+_-]*", PLACEHOLDER.sub(" ", text).lower())
    words = [w.removesuffix("'s").strip("'") for w in words]
    return {w for w in words if len(w) >= 3} - STOP - DOMAIN - names


def _names(facts: FactTable) -> set[str]:
    return {w for f in facts for v in f.dims.values() for w in re.findall(r"[a-z][\w+-]*",
                                                                           v.lower())}


def assert_distinct(facts: FactTable, findings: list[Finding]) -> dict[str, float]:
    """Write every section; fail on a repeated sentence or a share above MAX_SHARED. Returns
    the share of each pair of sections."""
    texts = {s: TemplateWriter().write_section(s, facts, findings).text for s in SECTION_IDS}
    seen: dict[str, str] = {}
    for section, text in texts.items():
        for sentence in dict.fromkeys(_sentences(text)):
            assert sentence not in seen, (f"said in {seen[sentence]} and {section}: "
                                          f"{sentence}")
            seen[sentence] = section
    names = _names(facts)
    words = {s: _content_words(t, names) for s, t in texts.items()}
    shares = {}
    for a, b in itertools.combinations(SECTION_IDS, 2):
        small = max(MIN_WORDS, min(len(words[a]), len(words[b])))
        shares[a, b] = len(words[a] & words[b]) / small
        assert shares[a, b] <= MAX_SHARED, (a, b, sorted(words[a] & words[b]), shares[a, b])
    return shares


def _generated(classes: list[str], models=("alpha", "beta"), methods=("gradcam",),
               shortcut: str = "", seed: int = 0) -> tuple[FactTable, list[Finding]]:
    """A run with PH and heat-share medians per model, method, class and region, run counts,
    accuracies, and findings of most kinds: a background shortcut for ``shortcut`` (high, one
    per method), a model difference per class, neglected parts and chance-level parts."""
    import numpy as np

    rng = np.random.default_rng(seed)
    facts = FactTable()
    regions = ("background", "head", "body", "tail")
    for model, method in itertools.product(models, methods):
        facts.add_value("model.accuracy", float(rng.uniform(60, 99)), 100, "percent",
                        "higher", model=model, method=method)
        for cls in ["all", *classes]:
            n = 200 if cls == "all" else 20
            for region in regions:
                dims = {"model": model, "method": method, "class": cls, "region": region}
                base = 0.8 if (region == "background" and cls == shortcut
                               and model == models[0]) else rng.uniform(0.05, 0.6)
                for stat, d in (("q1", -0.05), ("q2", 0.0), ("q3", 0.05)):
                    facts.add_value(f"pqah.ph.{stat}", float(base + d), n, "fraction",
                                    "higher", **dims)
                    facts.add_value(f"pqah.precision.{stat}", float(base + d), n, "share",
                                    "neither", **dims)
                facts.add_value("pqah.ph.n", n, n, "count", **dims)
    facts.add_value("run.samples.total", 20 * len(classes), 20 * len(classes), "count")
    facts.add_value("run.samples.scored", 20 * len(classes), 20 * len(classes), "count")
    facts.add_value("run.samples.excluded", 0, 20 * len(classes), "count")
    findings = []
    a, b = models[0], models[-1]
    for method in methods:
        if shortcut:
            own = fact_id("pqah.precision.q2", model=a, method=method, region="background",
                          **{"class": shortcut})
            n = fact_id("pqah.ph.n", model=a, method=method, region="background",
                        **{"class": shortcut})
            findings.append(Finding(
                f"class_shortcut|{method}", "class_shortcut", "high",
                {"model": a, "method": method, "class": shortcut},
                f"When {a}'s {method} heatmaps explain class {shortcut}, a median "
                f"{placeholder(own)} of the heat falls on the background (n = "
                f"{placeholder(n)}): the model may use the background as a shortcut for "
                f"{shortcut}.", [own, n], 0.9))
        for k, cls in enumerate(classes[:3]):
            diff = facts.add_value("paired.precision.median_difference", 0.1 + k / 100, 20,
                                   "share", "neither", model=f"{a} vs {b}", method=method,
                                   region="background", **{"class": cls})
            findings.append(Finding(
                f"model_difference|{method}|{cls}", "model_difference", "high",
                {"model": f"{a} vs {b}", "method": method, "class": cls,
                 "region": "background"},
                f"For class {cls}, on the same images, {a} ({method}) puts more of its heat "
                f"on the background than {b} (median difference in heat share "
                f"{placeholder(diff.id)}).", [diff.id], 0.5 - k / 100))
        for cls in classes[:4]:
            share = fact_id("pqah.precision.q2", model=b, method=method, region="tail",
                            **{"class": cls})
            findings.append(Finding(
                f"neglected_part|{method}|{cls}", "neglected_part", "low",
                {"model": b, "method": method, "class": cls, "region": "tail"},
                f"For class {cls}, the tail receives only {placeholder(share)} of {b}'s "
                f"{method} heat.", [share], 0.3))
        ph = fact_id("pqah.ph.q2", model=b, method=method, region="head", **{"class": "all"})
        findings.append(Finding(
            f"chance_level|{method}", "chance_level", "low",
            {"model": b, "method": method, "region": "head"},
            f"{b}'s {method} heat on the head (median PH {placeholder(ph)}) does not beat the "
            "baselines; do not read it as attention to the head.", [ph], 0.2))
    return facts, findings


def test_the_hand_written_run_has_distinct_sections():
    assert_distinct(make_facts(), make_findings())


def test_a_demo_shaped_run_has_distinct_sections():
    facts, findings = _generated(["bird", "fish", "turtle", "beetle"],
                                 ("partnet_biased", "partnet_debiased"),
                                 ("gradcam", "gradcam++"), shortcut="fish")
    assert_distinct(facts, findings)


def test_a_many_class_run_has_distinct_sections():
    facts, findings = _generated([f"class{i:02d}" for i in range(24)], shortcut="class07",
                                 seed=1)
    assert_distinct(facts, findings)


def test_the_summary_stays_short_and_free_of_test_statistics():
    facts, findings = _generated([f"class{i:02d}" for i in range(24)],
                                 methods=("gradcam", "gradcam++"), shortcut="class07")
    text = TemplateWriter().write_section("summary", facts, findings).text
    assert len(PLACEHOLDER.sub("0", text).split()) <= SUMMARY_WORDS
    assert not re.search(r"cliff|holm|p-value|confidence interval", text, re.IGNORECASE)


@pytest.mark.skipif(not DEMO.exists(), reason="no demo run in out/demo")
def test_the_demo_run_has_distinct_sections():
    data = json.loads(DEMO.read_text())
    facts = FactTable.from_dict(data)
    assert_distinct(facts, [Finding(**f) for f in data["findings"]])
