"""Finds every number a reader sees in a report and checks it against the facts.

Visible text and alt texts are scanned; elements marked ``data-nonfact`` (definitions,
parameters, provenance, captions that state method constants, dates) are skipped. A number
is any digit run not glued to a word (``eval_0012``, ``resnet50`` and ``Q1`` are names), with
its decimal part and a following percent sign.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from reportgen.analysis.facts import FactTable

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s?%)?(?![\w])")
ARXIV = re.compile(r"arXiv \d{4}\.\d{4,5}")
VOID = {"br", "img", "meta", "link", "hr", "input", "col", "source", "wbr"}


def numbers(text: str) -> list[str]:
    return [" ".join(m.group().split()) for m in NUMBER.finditer(ARXIV.sub("", text))]


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.texts: list[str] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = "data-nonfact" in attrs or tag in ("style", "script", "title", "code")
        if tag == "img" and not self._skipping():
            self.texts.append(attrs.get("alt") or "")
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self._skipping():
            self.texts.append(data)


def shown_numbers(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return [n for text in parser.texts for n in numbers(text)]


def numbers_not_in_facts(html: str, facts: FactTable) -> list[str]:
    """Numbers shown in ``html`` that are no fact's display string (nor part of one), at the
    full or the end user's reading precision ("94 %" for a percent displayed "94.3 %")."""
    from reportgen.narrative.placeholders import reading_display

    allowed = {n for f in facts for shown in {f.display, reading_display(f)}
               for n in numbers(shown)}
    return sorted({n for n in shown_numbers(html) if n not in allowed})
