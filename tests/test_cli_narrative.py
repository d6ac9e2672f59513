"""The narrative through the command line: --llm selects the writer, the real ``openai``
client talks to a scripted server on 127.0.0.1, run.json records calls and tokens, the key
is never written, and ``render --llm-replay`` rebuilds the narrative with no LLM call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli import app
from tests.narrative.scripted_server import ScriptedServer, answer
from tests.test_cli import run_config  # noqa: F401 (fixture)

SECRET = "sk-test-never-written-0123456789"
SECTIONS = ["summary", "per_class", "bias", "recommendations", "limitations"]


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture()
def scripted():
    server = ScriptedServer([answer("The measured value {{fact:v1}} comes from this run.")])
    yield server
    server.close()


@pytest.mark.slow
def test_llm_openai_run_records_the_writer_and_replay_calls_nothing(tmp_path, run_config,  # noqa: F811
                                                                     scripted, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q", "--llm", "openai",
            "--llm-model", "scripted-model", "--llm-base-url", scripted.base_url)
    calls = len(scripted.requests)
    assert calls >= len(SECTIONS)
    assert all(r["headers"]["authorization"] == f"Bearer {SECRET}" for r in scripted.requests)
    narrative = json.loads((out / "narrative.json").read_text())
    assert [s["section"] for s in narrative] == SECTIONS
    for s in narrative:
        assert s["model"] == "scripted-model" and s["attempts"] >= 1
    accepted = [s for s in narrative if s["writer"] == "openai"]
    assert accepted, [s["guard_reasons"] for s in narrative]
    for s in accepted:
        assert s["guard"] == "passed" and "{{fact:" in s["text"] and "{{fact:v1}}" not in s["text"]
    assert all(s["writer"] == "template" for s in narrative if s not in accepted)
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["narrative"]["writer"] == "openai"
    assert run_info["narrative"]["usage"]["calls"] == calls
    assert run_info["narrative"]["usage"]["prompt_tokens"] == 100 * calls
    html = (out / "report.html").read_text()
    assert "Written by the openai writer (scripted-model); guard: passed" in html
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path

    scripted.close()  # replay must not need the server
    before = narrative
    _invoke("render", str(out), "--llm-replay")
    assert len(scripted.requests) == calls
    after = json.loads((out / "narrative.json").read_text())
    assert [(s["text"], s["writer"]) for s in after] == [(s["text"], s["writer"])
                                                         for s in before]
    assert json.loads((out / "run.json").read_text())["narrative"]["replayed"] is True


def test_unknown_llm_writer_exits_2(tmp_path, run_config):  # noqa: F811
    result = CliRunner().invoke(app, ["run", str(run_config), "--out", str(tmp_path / "o"),
                                      "--llm", "gpt"])
    assert result.exit_code == 2
    assert "--llm must be one of template, openai, local" in result.output


@pytest.mark.slow
def test_verbose_prints_stage_times_and_no_resume_recomputes(tmp_path, run_config):  # noqa: F811
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q")
    first = json.loads((out / "run.json").read_text())["cache"]
    again = _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q", "-v")
    assert "stage heatmaps_and_scores:" in again.output
    assert json.loads((out / "run.json").read_text())["cache"]["computed"] == 0
    fresh = _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q", "-v",
                    "--no-resume")
    assert "--no-resume: removed" in fresh.output
    assert json.loads((out / "run.json").read_text())["cache"]["computed"] == first["computed"]
    assert first["computed"] > 0


@pytest.mark.slow
def test_llm_replay_of_a_template_run_keeps_the_text(tmp_path, run_config):  # noqa: F811
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q")
    before = (out / "narrative.json").read_text()
    _invoke("render", str(out), "--llm-replay")
    assert (out / "narrative.json").read_text() == before


def test_reserved_characters_in_a_part_name_are_a_clear_error(tmp_path, run_config):  # noqa: F811
    manifest = next(Path(tmp_path).rglob("dataset.json"))
    data = json.loads(manifest.read_text())
    data["parts"][0] = "head|left"
    manifest.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["run", str(run_config), "--out", str(tmp_path / "o"),
                                      "-q"])
    assert result.exit_code == 2
    assert "head|left" in result.output and "dataset.json" in result.output


def test_run_json_keeps_no_credential_from_the_llm_url(tmp_path, run_config):  # noqa: F811
    from reportgen.config_yaml import load_config
    from reportgen.stages.record import public_config

    config = load_config(run_config)
    raw = config.model_dump()
    raw["narrative"] = {**raw["narrative"], "writer": "openai", "model": "m",
                        "base_url": "https://user:s3cret@llm.example/v1?token=s3cret"}
    from reportgen.config_yaml import config_from_dict

    public = public_config(config_from_dict(raw))
    assert public["narrative"]["base_url"] == "https://llm.example/v1"
    assert "s3cret" not in json.dumps(public)


@pytest.mark.slow
def test_card_command_writes_and_inserts_the_model_card_idempotently(tmp_path, run_config):  # noqa: F811
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q")
    (out / "model_card.md").unlink()
    result = _invoke("card", str(out))
    assert result.stdout.strip() == f"Model card: {out / 'model_card.md'}"
    assert "## Model Examination" in (out / "model_card.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n# My model\n\nTrained on cats.\n")
    _invoke("card", str(out), "--into", str(readme))
    once = readme.read_text()
    _invoke("card", str(out), "--into", str(readme))
    assert readme.read_text() == once
    assert "license: mit" in once and "Trained on cats." in once
    assert once.count("<!-- reportgen:begin") == 1
    missing = CliRunner().invoke(app, ["card", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in missing.output


@pytest.mark.slow
def test_gallery_cap_names_the_galleries_left_out(tmp_path, run_config):  # noqa: F811
    run_config.write_text(run_config.read_text() + "report: {gallery_max_figures: 0}\n")
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "--limit", "4", "-q")
    html = (out / "report.html").read_text()
    assert "Not shown, to keep the report small" in html
    assert "random-partnet · gradcam" in html and 'id="gallery-' not in html
    assert (out / "gallery.npz").is_file()  # the data is kept; only the figure is capped


@pytest.mark.slow
def test_render_with_llm_rewrites_the_narrative_of_a_template_run(tmp_path, run_config,  # noqa: F811
                                                                   scripted):
    out = tmp_path / "run"
    _invoke("run", str(run_config), "--out", str(out), "-q", "--limit", "4")
    before = json.loads((out / "narrative.json").read_text())
    assert {s["writer"] for s in before} == {"template"}
    _invoke("render", str(out), "--llm", "openai", "--llm-model", "scripted-model",
            "--llm-base-url", scripted.base_url)
    calls = len(scripted.requests)
    assert calls >= len(SECTIONS)
    after = json.loads((out / "narrative.json").read_text())
    assert [s["section"] for s in after] == SECTIONS
    assert any(s["writer"] == "openai" for s in after), [s["guard_reasons"] for s in after]
    record = json.loads((out / "run.json").read_text())
    assert record["narrative"]["writer"] == "openai"
    assert record["narrative"]["usage"]["calls"] == calls
    assert "Written by the openai writer (scripted-model)" in (out / "report.html").read_text()
    # Back to the template, and a render without --llm keeps what is there.
    _invoke("render", str(out), "--llm", "template")
    assert json.loads((out / "narrative.json").read_text()) == before
    _invoke("render", str(out))
    assert json.loads((out / "narrative.json").read_text()) == before
    assert len(scripted.requests) == calls


def test_render_with_an_unknown_llm_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["render", str(tmp_path), "--llm", "gpt"])
    assert result.exit_code == 2
    assert "--llm must be one of template, " in result.output and "'gpt'" in result.output
