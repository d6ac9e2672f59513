"""Fixtures of the narrative tests: the hand-written run of ``run_data``, the scripted LLM
server, and a check that a text shows no number but the facts'."""

from __future__ import annotations

import re

import pytest

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.placeholders import PLACEHOLDER, fill_placeholders
from tests.narrative.run_data import fid, make_facts, make_findings
from tests.narrative.scripted_server import ScriptedServer


@pytest.fixture()
def server():
    """``server(*answers)`` starts a scripted OpenAI-compatible server on 127.0.0.1 that
    gives the answers in order; every server started is closed after the test."""
    servers = []

    def start(*script: dict) -> ScriptedServer:
        servers.append(ScriptedServer(list(script)))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture()
def facts() -> FactTable:
    return make_facts()


@pytest.fixture()
def findings() -> list[Finding]:
    return make_findings()


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,.]*\d|\d", text))


def assert_numbers_are_facts(text: str, facts: FactTable, names=("partnet", "gradcam")) -> None:
    """No numeral outside placeholders, and the filled text shows only the referenced facts'
    display strings (names may hold digits of their own)."""
    bare = PLACEHOLDER.sub("", text)
    for name in names:
        bare = bare.replace(name, "")
    assert not re.search(r"\d", bare), text
    filled = fill_placeholders(text, facts)
    for name in names:
        filled = filled.replace(name, "")
    displays = " ".join(facts.display(i) for i in PLACEHOLDER.findall(text))
    assert _numbers(filled) <= _numbers(displays), filled


@pytest.fixture()
def fact_ref():
    """``fact_ref(name, cls, region)``: a fact id of the hand-written run."""
    return fid


@pytest.fixture()
def no_invented_numbers():
    return assert_numbers_are_facts
