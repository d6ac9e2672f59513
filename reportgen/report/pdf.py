"""PDF from the report's HTML with weasyprint, fetching nothing but embedded ``data:`` URLs."""

from __future__ import annotations

from pathlib import Path

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from reportgen.io import atomic_write_bytes


class EmbeddedOnlyFetcher(URLFetcher):
    """Serves ``data:`` URLs; refuses (and records) every other URL: no network, no files."""

    def __init__(self):
        super().__init__(allowed_protocols=("data",))
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if not url.startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"reportgen renders embedded data only; refused {url[:80]}")
        return super().fetch(url, headers)


def html_to_pdf(html: str) -> tuple[bytes, list[str]]:
    """Render ``html`` to PDF bytes; also returns the URLs that were refused."""
    fetcher = EmbeddedOnlyFetcher()
    pdf = HTML(string=html, url_fetcher=fetcher, base_url="about:blank").write_pdf()
    return pdf, fetcher.refused


def write_pdf(html: str, path: str | Path) -> list[str]:
    pdf, refused = html_to_pdf(html)
    atomic_write_bytes(path, pdf)
    return refused
