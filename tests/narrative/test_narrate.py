"""``write_narrative``: the entry point the pipeline calls."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from reportgen.config import NarrativeSettings
from reportgen.errors import ConfigError
from reportgen.narrative import (
    SECTION_IDS,
    NarrativeSection,
    TemplateWriter,
    make_writer,
    write_narrative,
)
from reportgen.narrative.llm_writer import LLMWriter


def test_the_default_is_the_template_writer_for_every_section(facts, findings,
                                                              no_invented_numbers):
    result = write_narrative(facts, findings)
    assert [s.section for s in result.sections] == list(SECTION_IDS)
    assert all(s.writer == "template" and s.guard == "not needed" for s in result.sections)
    assert result.usage == {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0,
                            "cache_hits": 0}
    assert result.prompt_hashes == {}
    for s in result.sections:
        no_invented_numbers(s.text, facts)


def test_every_audience_gets_every_section(facts, findings):
    config = NarrativeSettings(audiences=("end user", "model card", "bias reviewer"))
    result = write_narrative(facts, findings, config)
    assert [(s.audience, s.section) for s in result.sections] == [
        (a, s) for a in config.audiences for s in SECTION_IDS]


def test_sections_round_trip_through_narrative_json(facts, findings):
    result = write_narrative(facts, findings)
    saved = json.loads(json.dumps([asdict(s) for s in result.sections]))
    assert [NarrativeSection(**s) for s in saved] == result.sections
    # narrative.json files written before the provenance fields still load.
    old = {k: saved[0][k] for k in ("section", "title", "text", "writer", "guard", "fact_ids",
                                    "audience")}
    assert NarrativeSection(**old).attempts == 0


def test_run_info_is_json_and_records_the_config_and_usage(facts, findings):
    info = write_narrative(facts, findings).run_info()
    assert info["writer"] == "template"
    assert info["config"]["writer"] == "template"
    assert len(info["sections"]) == 5
    assert info["wall_s"] >= 0
    json.dumps(info)


def test_provenance_line_names_writer_model_guard_and_attempts():
    plain = NarrativeSection("summary", "S", "t", "template")
    assert plain.provenance == "Written by the template writer."
    llm = NarrativeSection("summary", "S", "t", "openai", "passed", model="gpt-x", attempts=1)
    assert llm.provenance == "Written by the openai writer (gpt-x); guard: passed; 1 LLM attempt."
    fallback = NarrativeSection("summary", "S", "t", "template",
                                "rejected 3 drafts; template fallback", model="smollm2",
                                attempts=3)
    assert fallback.provenance == ("Written by the template writer; guard: rejected 3 drafts; "
                                   "template fallback; 3 LLM attempts.")


def test_make_writer_builds_the_configured_writer(tmp_path, monkeypatch):
    assert isinstance(make_writer(NarrativeSettings()), TemplateWriter)
    writer = make_writer(NarrativeSettings(writer="openai", model="m",
                                           base_url="http://127.0.0.1:9/v1"))
    assert isinstance(writer, LLMWriter) and writer.name == "openai"
    # Replay builds no client: no key, no server, no model file needed.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    replay = make_writer(NarrativeSettings(writer="openai", model="m"), cache_dir=tmp_path,
                         replay=True)
    assert replay.chat.inner is None and replay.chat.replay


def test_a_missing_local_model_file_fails_fast(tmp_path):
    pytest.importorskip("llama_cpp")
    with pytest.raises(ConfigError, match="not found"):
        make_writer(NarrativeSettings(writer="local", model_path=tmp_path / "missing.gguf"))
