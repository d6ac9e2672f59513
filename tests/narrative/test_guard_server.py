"""The fault-injecting server of issue 17: crafted drafts for the summary, through the real
``openai`` client on 127.0.0.1. Every draft that once reached report.html and model_card.md
now ends in the template, with the guard's reason recorded; a correct draft still passes."""

from __future__ import annotations

import re

import pytest

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.narrative.narrate import make_writer
from reportgen.narrative.template_writer import TemplateWriter
from tests.narrative.scripted_server import answer, content, echo
from tests.narrative.test_guard_holes import BASE, REFS, extend
from tests.narrative.test_openai_scripted import config_for

# Each text the issue lists as accepted (appended to a correct summary) and the reason now.
ACCEPTED_BEFORE = {
    "XCIV": ("The fish put XCIV of their heat on the background.", "number word 'XCIV'"),
    "ninetyfour": ("The fish put ninetyfour parts of their heat on the background.",
                   "number word 'ninetyfour'"),
    "fourty": ("Fourty images of fish were looked at.", "number word 'Fourty'"),
    "noventa y cuatro por ciento": ("The fish put noventa y cuatro por ciento of their heat "
                                    "on the background.", "number word 'noventa'"),
    "a majority": ("A majority of the bird's heat falls on the background ({{fact:bird}}).",
                   "'majority' claims a proportion"),
    "nearly all": ("Nearly all of the fish's heat falls on the background ({{fact:fish}}).",
                   "'nearly all' claims a proportion"),
    "most": ("Most heat of the birds falls on the background.", "'most' claims a proportion"),
    "a handful": ("A handful of images were left aside.", "number word 'handful'"),
    "per mille": ("The fish put several per mille of their heat elsewhere.",
                  "number word 'per mille'"),
    "full-width percent": ("The fish get {{fact:fish}}％ of the heat.", "percentage"),
    "a PH value as a heat share": ("For the fish, {{fact:fish_ph}} of the heat falls on the "
                                   "background.", "not a heat share"),
    "a pair count as images scored": ("Only {{fact:pair_n}} images were scored.",
                                      "not a number of scored images"),
    "a centre-baseline fact as the model's": ("partnet puts {{fact:centre}} of its heat on "
                                              "the background.", "gives it to model partnet"),
    "facts after 'than'": ("The birds put more heat on the background than the fish "
                           "({{fact:bird}} against {{fact:fish}}).", "contradicts the facts"),
    "isn't higher": ("The fish's share ({{fact:fish}}) isn't higher than the bird's "
                     "({{fact:bird}}).", "contradicts the facts"),
    "doesn't exceed": ("The fish's share ({{fact:fish}}) doesn't exceed the bird's "
                       "({{fact:bird}}).", "contradicts the facts"),
    "not in any way higher": ("The fish's share ({{fact:fish}}) is not in any way higher than "
                              "the bird's ({{fact:bird}}).", "contradicts the facts"),
    "dwarfs": ("The bird's share ({{fact:bird}}) dwarfs the fish's ({{fact:fish}}).",
               "contradicts the facts"),
    "-{{fact:a}}": ("The change is -{{fact:fish}}.", "placeholder glued"),
    "{{fact:a}}{{fact:b}}": ("{{fact:scored}}{{fact:excluded}} images were looked at.",
                             "placeholder glued"),
    "{{fact:a}}.{{fact:b}}": ("The PH is {{fact:body}}.{{fact:head}} overall.",
                              "placeholder glued"),
    "{{fact:a}}k": ("{{fact:scored}}k images were looked at.", "placeholder glued"),
    "no bias, can be trusted": ("The model shows no bias and can be trusted.",
                                "denies the high-severity finding 'class_shortcut|fish'"),
    "the shortcut negated": ("The model does not use the background as a shortcut "
                             "({{fact:fish}}, {{fact:bird}}).",
                             "denies the high-severity finding 'class_shortcut|fish'"),
}


def full_ids(text: str) -> str:
    """The draft with full fact ids, as a model may write them instead of the references."""
    return re.sub(r"\{\{fact:(\w+)\}\}", lambda m: "{{fact:" + REFS[m.group(1)] + "}}", text)


@pytest.fixture()
def run(facts, findings) -> tuple[FactTable, list[Finding]]:
    table, required, _ = extend(facts)
    return table, [*findings, required[1]]  # the fish shortcut and the paired difference


def summary(srv, facts, findings):
    return make_writer(**config_for(srv)).write_section("summary", facts, findings)


def assert_template_fallback(section, facts, findings, reason: str, drafts: int = 2):
    assert section.writer == "template"
    assert section.guard == f"rejected {drafts} drafts; template fallback"
    assert any(reason in r for r in section.guard_reasons), section.guard_reasons
    assert section.text == TemplateWriter().write_section("summary", facts, findings).text


def test_a_correct_summary_passes_through_the_server(server, run):
    facts, findings = run
    srv = server(answer(full_ids(BASE)))
    section = summary(srv, facts, findings)
    assert section.writer == "openai" and section.guard == "passed", section.guard_reasons
    assert section.fact_ids == [REFS["fish"], REFS["diff"]]


@pytest.mark.parametrize("case", ACCEPTED_BEFORE)
def test_a_draft_that_reached_the_report_now_falls_back(case, server, run):
    facts, findings = run
    sentence, reason = ACCEPTED_BEFORE[case]
    srv = server(answer(full_ids(f"{BASE} {sentence}")))
    section = summary(srv, facts, findings)
    assert len(srv.requests) == 2  # the draft and its retry, both rejected
    assert_template_fallback(section, facts, findings, reason)


def test_the_shortcut_mentioned_only_through_its_n_falls_back(server, run):
    facts, findings = run
    draft = BASE.replace("puts {{fact:fish}} of its heat on the background",
                         "has {{fact:fish_n}} images")
    srv = server(answer(full_ids(draft)))
    assert_template_fallback(summary(srv, facts, findings), facts, findings,
                             "omits the high-severity finding 'class_shortcut|fish'")


def test_a_megabyte_paragraph_falls_back(server, run):
    facts, findings = run
    srv = server(answer(full_ids(" ".join([BASE] * 5500))))
    assert len(srv.script[0]["json"]["choices"][0]["message"]["content"]) > 1_000_000
    assert_template_fallback(summary(srv, facts, findings), facts, findings,
                             "write 1000 characters at most per paragraph")


def test_twenty_six_paragraphs_fall_back(server, run):
    facts, findings = run
    paragraphs = [full_ids(BASE)] + [f"The fish look at the background{' again' * i}."
                                     for i in range(1, 26)]
    srv = server(answer(*paragraphs))
    assert_template_fallback(summary(srv, facts, findings), facts, findings,
                             "26 paragraphs: write 4 paragraphs at most")


def test_a_retry_that_quotes_the_guard_falls_back(server, run):
    facts, findings = run
    srv = server(answer(full_ids(BASE) + " The fish put XCIV of their heat there."), echo())
    section = summary(srv, facts, findings)
    assert "checker rejected" in srv.requests[1]["body"]["messages"][-1]["content"]
    assert_template_fallback(section, facts, findings, "quotes the guard's messages")


def test_invalid_json_and_markup_still_fall_back(server, run):
    facts, findings = run
    srv = server(content('{"paragraphs": ["unclosed'),
                 answer(full_ids(BASE) + " <img src=x onerror=alert(this)>"))
    section = summary(srv, facts, findings)
    assert any("not the JSON object" in r for r in section.guard_reasons)
    assert_template_fallback(section, facts, findings, "markup is not allowed")
