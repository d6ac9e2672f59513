"""The PDF: rendered by weasyprint from the report HTML, fetching embedded data only."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.exclusions import EXCLUSION_COLUMNS
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.report.context import build_context
from reportgen.report.html import render_html
from reportgen.report.pdf import html_to_pdf, write_pdf
from reportgen.run_record import RunRecord
from reportgen.scoring import SCORE_COLUMNS

needs_poppler = pytest.mark.skipif(not (shutil.which("pdfinfo") and shutil.which("pdftotext")),
                                reason="poppler-utils (pdfinfo, pdftotext) not installed")

PASSWD = "file:///etc/passwd"
DISCARD = "http://127.0.0.1:9/x.png"


def _report_html() -> str:
    rng = np.random.default_rng(0)
    rows = []
    for cls in ("cat", "fish"):
        for i in range(5):
            for region in ("background", "head", "body"):
                for metric in ("pqah.ph", "pqah.precision", "pqah.recall"):
                    rows.append({
                        "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                        "target_class": cls, "predicted_class": cls, "correct": True,
                        "model": "partnet", "method": "gradcam", "region": region,
                        "metric": metric, "value": float(rng.random()),
                    })
    stats = group_statistics(pd.DataFrame(rows, columns=SCORE_COLUMNS), seed=0)
    facts = facts_from_statistics(stats)
    facts.add_value("run.samples.total", 10, 10, "count")
    facts.add_value("run.samples.scored", 10, 10, "count")
    facts.add_value("run.samples.excluded", 0, 10, "count")
    run = {
        "title": "Synthetic report",
        "versions": {"reportgen": "0.0.0", "torch": "2.0", "grad-cam": "1.5"},
        "dataset": {"name": "partworld", "root_name": "world", "class_names": ["cat", "fish"],
                    "part_names": ["head", "body"]},
        "models": ["partnet"], "methods": ["gradcam"], "device": "cpu",
        "created": "2024-01-01 00:00 UTC", "seed": 0, "config_hash": "cafe",
    }
    context = build_context(facts=facts, stats=stats,
                            narrative=[TemplateWriter().summary(facts)],
                            exclusions=pd.DataFrame(columns=list(EXCLUSION_COLUMNS)),
                            run=RunRecord.from_dict(run))
    return render_html(context)


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory):
    html = _report_html()
    pdf, refused = html_to_pdf(html)
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(pdf)
    return path, refused


def _pdftotext(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def test_pdf_bytes_start_with_the_pdf_header(report_pdf):
    path, _ = report_pdf
    assert path.read_bytes().startswith(b"%PDF-")


def test_report_pdf_fetches_nothing(report_pdf):
    _, refused = report_pdf
    assert refused == []


@needs_poppler
def test_pdfinfo_reports_at_least_one_page(report_pdf):
    path, _ = report_pdf
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    pages = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert pages, info
    assert int(pages.group(1)) >= 1


@needs_poppler
def test_pdf_text_contains_the_section_titles(report_pdf):
    path, _ = report_pdf
    text = _pdftotext(path)
    for title in ("Run summary", "Where the heat falls", "Methodology", "Executive summary"):
        assert title in text, title
    assert "partworld" in text


@needs_poppler
def test_write_pdf_writes_the_file(tmp_path):
    html = "<!DOCTYPE html><html><body><h1>Run summary</h1></body></html>"
    path = tmp_path / "out.pdf"
    assert write_pdf(html, path) == []
    assert path.read_bytes().startswith(b"%PDF-")
    assert "Run summary" in _pdftotext(path)


def _counting_handler(requests: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red; }")

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture()
def local_server():
    """A tiny HTTP server on a free local port; yields its base URL and the paths requested."""
    requests: list[str] = []
    server = HTTPServer(("127.0.0.1", 0), _counting_handler(requests))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_external_urls_are_refused_and_never_fetched(local_server):
    base, requests = local_server
    image, sheet = f"{base}/x.png", f"{base}/style.css"
    html = (f'<!DOCTYPE html><html><head><link rel=stylesheet href="{PASSWD}">'
            f'<link rel=stylesheet href="{sheet}"></head><body><h1>Run summary</h1>'
            f'<img src="{DISCARD}"><img src="{image}"></body></html>')
    pdf, refused = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert DISCARD in refused
    assert PASSWD in refused
    assert image in refused
    assert sheet in refused
    assert requests == []


@needs_poppler
def test_a_refused_file_url_leaves_no_trace_in_the_pdf(tmp_path):
    html = (f'<!DOCTYPE html><html><head><link rel=stylesheet href="{PASSWD}"></head>'
            f'<body><h1>Run summary</h1><img src="{PASSWD}" alt=""></body></html>')
    pdf, refused = html_to_pdf(html)
    assert refused and set(refused) == {PASSWD}
    path = tmp_path / "refused.pdf"
    path.write_bytes(pdf)
    text = _pdftotext(path)
    assert "Run summary" in text
    assert "root:" not in text


def test_the_counting_server_does_count_requests(local_server):
    # The zero-requests assertion above means something only if the server sees requests.
    import urllib.request

    base, requests = local_server
    with urllib.request.urlopen(f"{base}/probe", timeout=5) as response:
        assert response.status == 200
    assert requests == ["/probe"]


def test_embedded_data_urls_are_served():
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
           "nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")
    html = f'<!DOCTYPE html><html><body><img src="{png}"></body></html>'
    pdf, refused = html_to_pdf(html)
    assert refused == []
    assert pdf.startswith(b"%PDF-")
