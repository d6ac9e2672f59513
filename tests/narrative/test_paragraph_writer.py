"""The paragraph writer for small models: one call per paragraph, a grammar per call, the
template's words kept, a guarded note added, and the template's paragraph where a note fails.

The LLM side is the real ``openai`` client against the scripted server on 127.0.0.1 (the
answers are crafted, so every branch is reached); the grammar is compiled by the real
llama.cpp; tests/narrative/test_smollm2.py runs the real SmolLM2 through it.
"""

from __future__ import annotations

import json
import re

import pytest

from reportgen.config import NarrativeSettings
from reportgen.narrative.narrate import make_writer, write_narrative
from reportgen.narrative.paragraph_prompt import (
    MAX_NOTE_CHARS,
    RETRY_HINTS,
    build_paragraph_prompt,
    copies,
    letter_refs,
    note_grammar,
    note_schema,
    parse_note,
    sampling,
    tone_mismatch,
)
from reportgen.narrative.paragraph_writer import ParagraphWriter
from reportgen.narrative.placeholders import PLACEHOLDER
from reportgen.narrative.readability import readability, syllables
from reportgen.narrative.template_writer import TemplateWriter
from tests.narrative.scripted_server import ScriptedServer, content

GOOD = "This means the model looks at the scene around the animal, so check it before use."


def note(text: str) -> dict:
    return content(json.dumps({"note": text}))


def settings(srv: ScriptedServer, **overrides) -> NarrativeSettings:
    return NarrativeSettings(**{"writer": "openai", "model": "scripted-model",
                                "base_url": srv.base_url, "timeout_s": 2.0, "retries": 0,
                                "guard_retries": 0, "unit": "paragraph", **overrides})


def paragraphs(section: str, facts, findings) -> list[str]:
    return TemplateWriter().write_section(section, facts, findings).text.split("\n\n")


def test_letter_refs_are_distinct_and_hold_no_digit():
    refs = letter_refs(800)
    assert len(set(refs)) == 800
    assert all(re.fullmatch(r"[a-z]+", r) for r in refs)
    assert refs[:3] == ["fa", "fb", "fc"] and refs[26] == "faa"


def test_the_prompt_holds_no_digit_and_only_the_paragraphs_facts(facts, findings):
    text = paragraphs("summary", facts, findings)[0]
    prompt = build_paragraph_prompt("summary", text, "end user")
    user = prompt.messages[-1]["content"]
    assert not re.search(r"\d", user), user
    assert set(prompt.aliases.values()) == set(PLACEHOLDER.findall(text))
    assert set(PLACEHOLDER.findall(user)) == set(prompt.aliases)


def test_the_grammar_allows_letters_and_the_paragraphs_refs_only():
    grammar = note_grammar(["fa", "fb"])
    assert '"{{fact:" ("fa" | "fb") "}}"' in grammar
    assert not re.search(r"\[[^\]]*0-9", grammar) and "[0-9]" not in grammar
    assert "ref" not in note_grammar([])
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    llama_grammar.LlamaGrammar.from_string(grammar, verbose=False)  # parses, or raises


def test_the_schema_rejects_digits_foreign_numerals_and_other_refs():
    pattern = re.compile(note_schema(["fa", "fb"])["properties"]["note"]["pattern"])
    assert pattern.fullmatch("The model looks at the water, cited as {{fact:fa}}.")
    for bad in ("It is 94 percent.", "It is \u4e5d\u56db\uff05.", "See {{fact:fz}}.",
                "Use <b>this</b>.", "A share of \uff19\uff14."):
        assert not pattern.fullmatch(bad), bad


def test_a_retry_quotes_nothing_and_changes_seed_and_temperature(facts, findings):
    prompt = build_paragraph_prompt("bias", paragraphs("bias", facts, findings)[0], "end user")
    first, retry = prompt.attempt(0), prompt.attempt(1)
    assert first == prompt.messages and len(retry) == len(first)
    assert retry[-1]["content"].startswith(first[-1]["content"])
    params = {"seed": 3, "temperature": 0.2, "max_tokens": 160}
    seeds = {sampling(params, a)["seed"] for a in range(3)}
    temperatures = [sampling(params, a)["temperature"] for a in range(3)]
    assert len(seeds) == 3 and temperatures[0] == 0.2 and temperatures[1] > 0.2


def test_parse_note_reads_the_json_and_bounds_its_length():
    assert parse_note('{"note": "Plain  words here."}') == ("Plain words here.", None)
    assert parse_note("no json")[1] and parse_note('{"text": "x"}')[1]
    assert parse_note(json.dumps({"note": "a" * (MAX_NOTE_CHARS + 1)}))[1]
    assert copies("The heat falls on the background.", "a median 5 of the heat falls on the "
                  "background") and not copies(GOOD, "the heat falls on the background")


def test_every_paragraph_keeps_its_words_and_gets_its_note(server, facts, findings):
    srv = server(note(GOOD))
    writer = make_writer(settings(srv))
    assert isinstance(writer, ParagraphWriter)
    section = writer.write_section("summary", facts, findings)
    template = paragraphs("summary", facts, findings)
    assert section.writer == "openai" and section.guard == "passed"
    assert section.paragraph_writers == ["openai"] * len(template)
    assert section.text.split("\n\n") == [f"{p} {GOOD}" for p in template]
    assert len(srv.requests) == len(template) == section.usage["calls"]
    body = srv.requests[0]["body"]
    assert "response_format" not in body and body["grammar"].startswith("root ::=")
    assert "Written by the template writer, with notes by the openai writer" in \
        section.provenance


def test_a_failed_note_leaves_the_template_paragraph_alone_and_is_marked(server, facts,
                                                                        findings):
    # Paragraph 1's note states a number in words; the others are fine.
    srv = server(note("Nearly ninety percent of the heat is on the water."), note(GOOD))
    section = make_writer(settings(srv)).write_section("summary", facts, findings)
    template = paragraphs("summary", facts, findings)
    assert section.paragraph_writers == ["template", *["openai"] * (len(template) - 1)]
    assert section.text.split("\n\n")[0] == template[0]
    assert section.guard.endswith("template text for paragraph 1")
    assert any(r.startswith("paragraph 1, attempt 1:") for r in section.guard_reasons)


def test_a_note_that_denies_the_high_finding_is_rejected(server, facts, findings):
    srv = server(note("The model does not use the background as a shortcut, so trust it."))
    section = make_writer(settings(srv)).write_section("summary", facts, findings)
    assert section.writer == "template" and section.guard.endswith("template fallback")
    assert section.text == TemplateWriter().write_section("summary", facts, findings).text
    assert any("denies" in r for r in section.guard_reasons), section.guard_reasons


def test_retries_send_new_seeds_and_never_quote_the_rejected_note(server, facts, findings):
    bad = "Ninety of the images are wrong."
    copy = "The medians of small groups are uncertain, so read them with their intervals."
    srv = server(note(bad), note(copy), note(GOOD))
    writer = make_writer(settings(srv, guard_retries=2))
    section = writer.write_section("limitations", facts, findings)
    assert section.paragraph_writers == ["openai"] and section.attempts == 3
    assert "paragraph 1, attempt 2: the note repeats the paragraph" in section.guard_reasons
    bodies = [r["body"] for r in srv.requests]
    assert len({b["seed"] for b in bodies}) == 3
    assert bodies[0]["temperature"] < bodies[1]["temperature"] <= bodies[2]["temperature"]
    asked = bodies[0]["messages"]
    for body in bodies[1:]:
        # The same two messages, the user's with a fixed hint appended: no draft, no reason.
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["messages"][0] == asked[0]
        hint = body["messages"][1]["content"].removeprefix(asked[1]["content"]).strip()
        assert hint in RETRY_HINTS


def test_a_dead_server_gives_the_template_and_stops_calling(facts, findings):
    srv = ScriptedServer([note(GOOD)])
    url = srv.base_url
    srv.close()
    writer = make_writer(NarrativeSettings(writer="openai", model="m", base_url=url,
                                           timeout_s=0.5, retries=0, unit="paragraph"))
    first = writer.write_section("summary", facts, findings)
    second = writer.write_section("bias", facts, findings)
    assert first.writer == second.writer == "template"
    assert second.usage["calls"] == 0 and "template fallback" in second.guard


def test_replay_gives_the_same_paragraphs_without_the_server(server, facts, findings,
                                                             tmp_path):
    srv = server(note(GOOD))
    first = write_narrative(facts, findings, settings(srv), cache_dir=tmp_path)
    srv.close()
    again = write_narrative(facts, findings, settings(srv), cache_dir=tmp_path, replay=True)
    assert [s.text for s in again.sections] == [s.text for s in first.sections]
    assert again.usage["cache_hits"] == first.usage["calls"] > 0


def test_auto_unit_writes_paragraphs_for_local_and_sections_for_openai():
    from reportgen.narrative.narrate import writes_paragraphs

    assert writes_paragraphs(NarrativeSettings(writer="local"))
    assert not writes_paragraphs(NarrativeSettings(writer="openai", model="m"))
    assert writes_paragraphs(NarrativeSettings(writer="openai", model="m", unit="paragraph"))


def test_flesch_reading_ease_prefers_short_plain_sentences():
    assert syllables("table") == 2 and syllables("the") == 1 and syllables("94") == 1
    plain = readability("The cat sat on the mat. It was glad.")
    hard = readability("Considerable methodological heterogeneity characterises "
                       "contemporary explainability evaluations of classification models.")
    assert plain.reading_ease > 90 > 0 > hard.reading_ease
    assert plain.sentences == 2 and plain.sentence_words == 4.5
    assert readability("0.25 of it, or 94 %.").sentences == 1
    assert readability("").words == 0


def test_a_note_may_not_raise_an_alarm_its_paragraph_does_not_raise():
    clean = "The centre baseline puts most heat in the middle of the image."
    assert "alarm" in tone_mismatch("This is a critical issue for the model.", clean)
    assert tone_mismatch("So the middle of a photo draws the eye of a simple guess.", clean) \
        is None
    alarm = "The model relies on the background for fish: a shortcut."
    assert tone_mismatch("The model cheats on fish, so retrain it.", alarm) is None
    assert "reassures" in tone_mismatch("Nothing to worry about, it is reliable.", alarm)


def test_an_alarming_note_on_a_clean_paragraph_falls_back_to_the_template(server, facts,
                                                                           findings):
    template = paragraphs("limitations", facts, findings)
    assert tone_mismatch("x", template[0]) is None  # the limitations raise no alarm
    srv = server(note("This shows a critical problem in the model, so do not trust it."))
    section = make_writer(settings(srv)).write_section("limitations", facts, findings)
    assert section.writer == "template" and section.text == "\n\n".join(template)
    assert any("raises an alarm" in r for r in section.guard_reasons), section.guard_reasons
