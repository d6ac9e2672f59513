"""The report's HTML: built from synthetic scores with build_context + render_html."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.exclusions import EXCLUSION_COLUMNS, Exclusion
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.narrative.written import NarrativeSection
from reportgen.report.context import build_context
from reportgen.report.html import render_html
from reportgen.run_record import RunRecord
from reportgen.scoring import SCORE_COLUMNS

XSS = "<script>alert(1)</script>"
IMG = "<img src=http://example.invalid/x.png>"


def _report(parts=("head", "body", "tail"), classes=("cat", "fish"), absent=(),
            narrative=(), exclusions=(), seed=0, unscored_classes=()):
    """(html, facts): a whole report from synthetic scores.

    ``absent`` holds (class, part) pairs: that part is absent from every image of the class.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for cls in classes:
        for i in range(5):
            for region in ("background", *parts):
                if (cls, region) in absent:
                    continue
                for metric in ("pqah.ph", "pqah.precision", "pqah.recall"):
                    rows.append({
                        "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                        "target_class": cls, "predicted_class": cls, "correct": True,
                        "model": "partnet", "method": "gradcam", "region": region,
                        "metric": metric, "value": float(rng.random()),
                    })
    scores = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    stats = group_statistics(scores, seed=0)
    facts = facts_from_statistics(stats)
    total = 5 * len(classes) + len(exclusions)
    facts.add_value("run.samples.total", total, total, "count")
    facts.add_value("run.samples.scored", total - len(exclusions), total, "count")
    facts.add_value("run.samples.excluded", len(exclusions), total, "count")
    run = {
        "title": "Synthetic report",
        "versions": {"reportgen": "0.0.0", "torch": "2.0", "grad-cam": "1.5"},
        "dataset": {"name": "partworld", "root_name": "world",
                    "class_names": [*classes, *unscored_classes], "part_names": list(parts)},
        "models": ["partnet"], "methods": ["gradcam"], "device": "cpu",
        "created": "2024-01-01 00:00 UTC", "seed": 0, "config_hash": "cafe",
    }
    sections = [TemplateWriter().summary(facts), *narrative]
    excl = pd.DataFrame([Exclusion(*e).as_row() for e in exclusions],
                        columns=list(EXCLUSION_COLUMNS))
    context = build_context(facts=facts, stats=stats, narrative=sections, exclusions=excl,
                            run=RunRecord.from_dict(run))
    return render_html(context), facts


class _Collector(HTMLParser):
    """Collects data-fact elements with their text, every src/href value, and tables."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fact_cells: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.tables: list[dict] = []
        self._open: list[list] = []  # [tag, fact id, text parts]
        self._table = None
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href"):
            if name in attrs:
                self.links.append(attrs[name] or "")
        if "data-fact" in attrs:
            self._open.append([tag, attrs["data-fact"], []])
            if self._table is not None and self._table["rows"]:
                self._table["rows"][-1][-1]["facts"].append(attrs["data-fact"])
        if tag == "table":
            self._table = {"class": attrs.get("class", ""), "head": [], "rows": []}
        elif self._table is not None and tag == "tr":
            self._table["rows"].append([])
        elif self._table is not None and tag in ("td", "th"):
            self._table["rows"][-1].append({"tag": tag, "text": "", "facts": []})
            self._in_cell = True
            if "data-fact" in attrs:
                self._table["rows"][-1][-1]["facts"].append(attrs["data-fact"])

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, fid, text = self._open.pop()
            self.fact_cells.append((fid, "".join(text)))
        if tag in ("td", "th"):
            self._in_cell = False
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data):
        for entry in self._open:
            entry[2].append(data)
        if self._in_cell:
            self._table["rows"][-1][-1]["text"] += data


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def report():
    return _report()


def test_report_is_a_complete_html_document(report):
    html, _ = report
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>Synthetic report</title>" in html
    for section in ("run-summary", "summary", "pqah", "exclusions", "methodology",
                    "provenance"):
        assert f'<section id="{section}">' in html
    assert "No sample was excluded." in html
    assert "config hash cafe" in html


def test_every_data_fact_cell_shows_the_fact_display_string(report):
    html, facts = report
    cells = _parse(html).fact_cells
    # 3 counts + 3 metrics x 4 regions x 6 cells + 2 classes x 4 regions x 2 spans
    assert len(cells) == 3 + 3 * 4 * 6 + 2 * 4 * 2
    for fid, text in cells:
        assert fid in facts, fid
        assert text == facts.display(fid), fid


def test_run_summary_counts_come_from_the_facts():
    html, _ = _report(exclusions=[("cat-9", "data", "unreadable label map")])
    cells = dict(_parse(html).fact_cells)
    assert cells["run.samples.total"] == "11"
    assert cells["run.samples.scored"] == "10"
    assert cells["run.samples.excluded"] == "1"
    assert "unreadable label map" in html


def test_quartile_tables_list_parts_in_dataset_order_then_background(report):
    html, _ = report
    quartiles = [t for t in _parse(html).tables if t["class"] == "quartiles"]
    assert len(quartiles) == 3
    for table in quartiles:
        regions = [row[0]["text"] for row in table["rows"][1:]]
        assert regions == ["head", "body", "tail", "background"]


def test_per_class_cells_line_up_with_the_region_columns():
    # "head" is absent from every fish image: the fish row must still put each value under
    # its own region's column (an empty cell under "head"), not shift the values left.
    html, _ = _report(absent={("fish", "head")})
    per_class = next(t for t in _parse(html).tables if t["class"] == "per-class")
    header = [cell["text"] for cell in per_class["rows"][0]]
    assert header == ["Class", "head", "body", "tail", "background"]
    for row in per_class["rows"][1:]:
        cls = row[0]["text"]
        assert len(row) == len(header), f"row {cls} has {len(row)} cells for {len(header)}"
        for region, cell in zip(header[1:], row[1:], strict=True):
            for fid in cell["facts"]:
                if fid:
                    assert f"|class={cls}|" in fid
                    assert fid.endswith(f"|region={region}"), (cls, region, fid)


def test_missing_facts_show_a_dash_not_a_number():
    html, _ = _report(absent={("fish", "head")})
    for fid, text in _parse(html).fact_cells:
        if not fid:
            assert text == "–"


def test_report_contains_no_http_urls_in_src_or_href(report):
    html, _ = report
    links = _parse(html).links
    assert links, "the report has links and an embedded image"
    for link in links:
        assert not link.lower().startswith(("http:", "https:", "//")), link
    assert any(link.startswith("data:image/png;base64,") for link in links)


def test_part_and_class_names_are_escaped():
    html, facts = _report(parts=("head", XSS), classes=("cat", XSS))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    parsed = _parse(html)
    assert "script" not in parsed.tags
    # Escaped data-fact attributes still name the facts exactly.
    ids = {fid for fid, _ in parsed.fact_cells}
    assert f"pqah.ph.q2|model=partnet|method=gradcam|class=all|region={XSS}" in ids
    assert f"pqah.ph.q2|model=partnet|method=gradcam|class={XSS}|region=head" in ids
    for fid, text in parsed.fact_cells:
        assert text == facts.display(fid)


def test_narrative_text_is_escaped():
    section = NarrativeSection("recommendations", "Recommendations",
                               f"Look at this: {IMG} and {XSS}", "template")
    html, _ = _report(narrative=[section])
    assert "<img src=http://example.invalid" not in html
    assert "&lt;img src=http://example.invalid/x.png&gt;" in html
    assert "<script>alert" not in html
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert not any("example.invalid" in link for link in parsed.links)
    assert parsed.tags.count("img") == 2  # the boxplot and the per-class panels only


def test_exclusion_reasons_are_escaped():
    html, _ = _report(exclusions=[("cat-9", "data", f"bad file {XSS}")])
    assert "<script>alert" not in html
    assert "bad file &lt;script&gt;" in html


def test_render_is_deterministic():
    a, _ = _report(seed=3)
    b, _ = _report(seed=3)
    assert a == b


def test_empty_facts_render_a_report_without_comparisons():
    run = {
        "title": "Empty", "versions": {"reportgen": "0", "torch": "2", "grad-cam": "1"},
        "dataset": {"name": "d", "root_name": "d", "class_names": [], "part_names": []},
        "models": [], "methods": [], "device": "cpu", "created": "now", "seed": 0,
        "config_hash": "x",
    }
    facts = FactTable()
    for name in ("run.samples.total", "run.samples.scored", "run.samples.excluded"):
        facts.add_value(name, 0, 0, "count")
    context = build_context(facts=facts, stats=group_statistics(pd.DataFrame(
        columns=SCORE_COLUMNS)), narrative=[TemplateWriter().summary(facts)],
        exclusions=pd.DataFrame(columns=list(EXCLUSION_COLUMNS)), run=RunRecord.from_dict(run))
    html = render_html(context)
    assert context["comparisons"] == []
    assert "nothing to summarise" in html
    assert "<img" not in html


def test_many_parts_split_the_per_class_table_into_column_groups_that_fit_the_page():
    parts = tuple(f"part{i:02d}" for i in range(12))
    html, facts = _report(parts=parts, classes=("cat", "fish", "owl"))
    tables = [t for t in _parse(html).tables if t["class"] == "per-class"]
    # 13 regions (12 parts + background) in groups of at most 7 columns
    assert len(tables) == 2
    headers = [[cell["text"] for cell in t["rows"][0]][1:] for t in tables]
    assert [len(h) for h in headers] == [7, 6]
    assert [h for header in headers for h in header] == [*parts, "background"]
    assert all(len(t["rows"]) == 1 + 3 for t in tables)  # header + one row per class
    for fid, text in _parse(html).fact_cells:
        assert text == facts.display(fid)


def test_many_classes_get_several_class_figures_and_every_class_a_table_row():
    classes = tuple(f"class{i:02d}" for i in range(20))
    html, _ = _report(classes=classes)
    ids = re.findall(r'<figure id="(class-boxplots-[^"]+)"', html)
    assert len(ids) == 3  # 9 + 9 + 2 classes (3 x 3 panels per figure)
    (table,) = [t for t in _parse(html).tables if t["class"] == "per-class"]
    assert [r[0]["text"] for r in table["rows"][1:]] == list(classes)


def test_classes_without_a_scored_image_get_no_row():
    html, _ = _report(classes=("cat", "fish"), unscored_classes=("ghost",))
    (table,) = [t for t in _parse(html).tables if t["class"] == "per-class"]
    assert [r[0]["text"] for r in table["rows"][1:]] == ["cat", "fish"]
    assert "cat, fish, ghost" in html  # still listed among the dataset's classes


def test_the_report_shows_the_end_user_sections_when_several_audiences_were_written():
    for_users = NarrativeSection("recommendations", "Recommendations", "Plain words for users.",
                                 "template")
    for_card = NarrativeSection("recommendations", "Recommendations", "Words for the card.",
                                "template", audience="model card")
    html, _ = _report(narrative=[for_users, for_card])
    assert "Plain words for users." in html and "Words for the card." not in html
