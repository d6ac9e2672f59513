"""The response cache (keyed by prompt, model and parameters, never by a secret), replay, and
the narrative configuration."""

from __future__ import annotations

import json

import pytest

from reportgen.config import NarrativeSettings, redact_url
from reportgen.narrative.cache import CachedChat, ResponseCache, cache_key
from reportgen.narrative.chat import Completion, ReplayMiss
from reportgen.narrative.narrate import make_writer

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
PARAMS = NarrativeSettings().sampling_params(seed=0)


class CountingChat:
    """A real backend stand-in that answers from a list and counts its calls."""

    model = "m"

    def __init__(self, *texts: str):
        self.texts = list(texts)
        self.calls = 0

    def complete(self, messages, params) -> Completion:
        self.calls += 1
        return Completion(self.texts[self.calls - 1], "m-2024", 10, 5, structured=True)


def test_the_key_depends_on_messages_model_and_parameters():
    base = cache_key(MESSAGES, "m", PARAMS)
    assert base == cache_key([dict(m) for m in MESSAGES], "m", dict(PARAMS))
    assert base != cache_key([*MESSAGES, {"role": "user", "content": "again"}], "m", PARAMS)
    assert base != cache_key(MESSAGES, "other", PARAMS)
    assert base != cache_key(MESSAGES, "m", {**PARAMS, "temperature": 0.9})
    assert base != cache_key(MESSAGES, "m", {**PARAMS, "seed": 1})
    assert len(base) == 64


def test_a_cached_answer_is_returned_without_calling_the_backend(tmp_path):
    inner = CountingChat("first", "second")
    chat = CachedChat(inner, ResponseCache(tmp_path), "m")
    a = chat.complete(MESSAGES, PARAMS)
    b = chat.complete(MESSAGES, PARAMS)
    assert inner.calls == 1
    assert (a.text, a.cached) == ("first", False)
    assert (b.text, b.cached, b.model, b.prompt_tokens, b.structured) == ("first", True,
                                                                          "m-2024", 10, True)
    stored = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
    assert stored["model"] == "m" and stored["params"] == PARAMS
    assert stored["completion"]["text"] == "first"


def test_replay_never_calls_and_misses_loudly(tmp_path):
    ResponseCache(tmp_path).put(cache_key(MESSAGES, "m", PARAMS),
                                Completion("kept", "m"), "m", PARAMS)
    chat = CachedChat(None, ResponseCache(tmp_path), "m", replay=True)
    assert chat.complete(MESSAGES, PARAMS).text == "kept"
    with pytest.raises(ReplayMiss):
        chat.complete([*MESSAGES, {"role": "user", "content": "new"}], PARAMS)


def test_a_damaged_cache_file_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    key = cache_key(MESSAGES, "m", PARAMS)
    cache.path(key).write_text("{not json", encoding="utf-8")
    assert cache.get(key) is None


def test_a_cache_without_a_backend_must_replay(tmp_path):
    with pytest.raises(ValueError, match="only replay"):
        CachedChat(None, ResponseCache(tmp_path), "m")


def test_config_defaults_to_the_template_writer_for_the_end_user():
    config = NarrativeSettings()
    assert config.writer == "template" and config.audiences == ("end user",)
    assert config.sampling_params(seed=0)["frequency_penalty"] == 0.0
    assert NarrativeSettings(writer="local").sampling_params(seed=0)["frequency_penalty"] == 0.5
    assert NarrativeSettings().sampling_params(seed=7)["seed"] == 7


@pytest.mark.parametrize("bad, match", [
    ({"writer": "gpt"}, "unknown narrative writer"),
    ({"audiences": ("children",)}, "audiences"),
    ({"audiences": ()}, "audiences"),
    ({"retries": -1}, "retries"),
    ({"timeout_s": 0}, "timeout_s"),
])
def test_config_rejects_bad_settings(bad, match):
    with pytest.raises(ValueError, match=match):
        NarrativeSettings(**bad)


def test_replay_needs_a_cache_dir():
    with pytest.raises(ValueError, match="replay needs a cache_dir"):
        make_writer(NarrativeSettings(writer="openai", model="m"), replay=True)


def test_config_public_dict_holds_no_credential():
    config = NarrativeSettings(writer="openai", model="m",
                               base_url="https://user:s3cret@example.org:8443/v1?key=abc")
    data = config.public_dict()
    assert data["base_url"] == "https://example.org:8443/v1"
    assert data["api_key_env"] == "OPENAI_API_KEY"
    assert "s3cret" not in json.dumps(data) and "abc" not in json.dumps(data)
    assert redact_url(None) is None


def test_config_round_trips_through_run_json(tmp_path):
    config = NarrativeSettings(writer="local", model_path=tmp_path / "m.gguf",
                               audiences=("model card",), base_url="http://127.0.0.1:1/v1")
    saved = json.loads(json.dumps(config.public_dict()))
    assert NarrativeSettings.model_validate(saved) == config
