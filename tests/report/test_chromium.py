"""A real run's report opened in headless Chromium, as a reader's browser shows it.

Chromium is driven over its DevTools protocol (tests/report/chromium.py, stdlib only): every
``<img>`` must have decoded (natural width > 0), the console must stay free of errors, and the
page may request nothing but itself and its embedded data, with every proxied connection going
to a dead port. Each check is also shown to fail on a copy of the report with one defect
injected. The screenshot check lives in tests/test_e2e_demo.py.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen.config import FaithfulnessSettings
from reportgen.demo import demo_config
from reportgen.pipeline import run_pipeline
from tests.report.chromium import PageLoad, load_page

pytestmark = [
    pytest.mark.slow,  # runs the pipeline once (about 10 s)
    pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (make test installs it)"),
]

GARBAGE_PNG = "data:image/png;base64,iVBORw0KGgpnYXJiYWdlIGJ5dGVzLCBub3QgYSBQTkc="


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """report.html of a small real run: the demo's data and two models, both CAM methods."""
    config = demo_config(cache=False).model_copy(update={
        "limit": 16, "faithfulness": FaithfulnessSettings(max_samples=4)})
    result = run_pipeline(config, tmp_path_factory.mktemp("chromium") / "run")
    return result.report_html


@pytest.fixture(scope="module")
def dead_proxy():
    """Chromium flags that send every connection, loopback included, to a port that refuses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        yield (f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>")


@pytest.fixture(scope="module")
def loaded(report, dead_proxy) -> PageLoad:
    return load_page(report, dead_proxy)


def with_injected(report: Path, tmp_path: Path, markup: str) -> Path:
    """A copy of the report with ``markup`` inserted at the end of its body."""
    html = report.read_text(encoding="utf-8")
    assert html.count("</body>") == 1
    copy = tmp_path / "report.html"
    copy.write_text(html.replace("</body>", markup + "</body>"), encoding="utf-8")
    return copy


def requests_elsewhere(load: PageLoad, page: Path) -> list[str]:
    """Requested URLs other than the page itself and data: URLs."""
    return [u for u in load.requests
            if not u.startswith("data:") and u != page.resolve().as_uri()]


class _Sources(HTMLParser):
    """Every tag name and every URL-valued attribute of a document."""

    URL_ATTRS = frozenset({"src", "href", "srcset", "poster", "data", "action", "formaction",
                           "xlink:href", "background"})

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in self.URL_ATTRS:
                self.urls.append((tag, name, value or ""))
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")


def image_count(page: Path) -> int:
    parser = _Sources()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tags.count("img")


def test_every_image_of_the_report_loads_in_chromium(report, loaded):
    # at least one boxplot per (model, method): 2 models x 2 methods + 2 baselines
    assert len(loaded.images) == image_count(report) >= 6
    assert loaded.broken_images == []
    assert all(i["naturalWidth"] > 0 and i["naturalHeight"] > 0 for i in loaded.images)


def test_the_report_logs_no_console_error_in_chromium(loaded):
    assert loaded.console_errors == []
    assert loaded.failed == []


def test_chromium_shows_the_report_text(report, loaded):
    title = re.search(r"<h1>(.*?)</h1>", report.read_text(encoding="utf-8")).group(1)
    assert "does PartNet take the background shortcut?" in title
    assert title in loaded.text
    assert "Executive summary" in loaded.text and "Where the heat falls" in loaded.text


def test_the_report_requests_nothing_but_itself_and_embedded_data(report, loaded):
    assert loaded.requests[0] == report.resolve().as_uri()
    assert requests_elsewhere(loaded, report) == []


def test_the_report_has_no_script_and_refers_only_to_embedded_data(report):
    html = report.read_text(encoding="utf-8")
    parser = _Sources()
    parser.feed(html)
    assert "script" not in parser.tags and parser.handlers == []
    for tag, attr, url in parser.urls:
        assert url.startswith("data:") or (attr == "href" and url.startswith("#")), (tag, url)
    css_urls = re.findall(r"url\(\s*['\"]?([^'\")\s]*)", html) + re.findall(
        r"@import\s+['\"]([^'\"]*)", html)
    assert all(u.startswith(("data:", "#")) for u in css_urls), css_urls


def test_an_image_with_garbage_bytes_is_reported_as_not_loaded(report, tmp_path):
    page = with_injected(report, tmp_path, f'<img alt="broken" src="{GARBAGE_PNG}">')
    load = load_page(page)
    assert [i["src"] for i in load.broken_images] == [GARBAGE_PNG[:60]]
    assert len(load.images) == image_count(report) + 1


@pytest.mark.parametrize(("markup", "expected"), [
    ("<script>console.error('injected failure')</script>", "injected failure"),
    ("<script>throw new Error('uncaught failure')</script>", "Error: uncaught failure"),
    ('<img alt="gone" src="no-such-figure.png">', "net::ERR_FILE_NOT_FOUND"),
])
def test_a_console_error_is_detected(report, tmp_path, markup, expected):
    load = load_page(with_injected(report, tmp_path, markup))
    assert len(load.console_errors) == 1
    assert expected in load.console_errors[0]


def test_a_network_request_is_detected_and_goes_nowhere(report, tmp_path, dead_proxy):
    url = "http://127.0.0.1:8/figure.png"
    page = with_injected(report, tmp_path, f'<img alt="remote" src="{url}">')
    load = load_page(page, dead_proxy)
    assert requests_elsewhere(load, page) == [url]
    assert load.failed == [(url, "net::ERR_PROXY_CONNECTION_FAILED")]
    assert [i["src"] for i in load.broken_images] == [url]
