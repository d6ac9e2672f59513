"""Chat completions from the OpenAI API or any OpenAI-compatible server, with the ``openai``
client.

The key is read from the environment when the backend is built and kept only inside the
client; error text is redacted before it is raised, so the key reaches no file, log or cache
key. Retries (429, 408, 409, 5xx, timeouts, connection errors) back off exponentially from
``backoff_s``, or wait what the server's ``Retry-After`` says (at most a minute).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence

import openai

from reportgen.config import NarrativeSettings
from reportgen.errors import ConfigError
from reportgen.narrative.chat import Completion, InvalidResponse, LLMUnavailable
from reportgen.narrative.prompts import answer_schema
from reportgen.narrative.writers import register_writer

log = logging.getLogger(__name__)
TRANSIENT_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 60.0
NO_KEY = "unused"  # local OpenAI-compatible servers accept any key


def _response_format(kind: str, bounded: bool) -> dict:
    """OpenAI's ``json_schema``, or ``json_object`` with a ``schema`` (llama.cpp's server)."""
    if kind == "json_schema":
        return {"type": "json_schema",
                "json_schema": {"name": "narrative_section", "strict": True,
                                "schema": answer_schema(bounded)}}
    return {"type": "json_object", "schema": answer_schema(bounded)}


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


@register_writer("openai", "the OpenAI API or any OpenAI-compatible server (base_url)")
class OpenAIChat:
    """Chat completions over HTTP; ``sleep`` is injectable only to record the waits.
    ``config``: the run's ``NarrativeSettings``; ``seed`` travels in each request's params."""

    name = "openai"

    def __init__(self, config: NarrativeSettings, seed: int = 0, sleep=time.sleep):
        if not config.model:
            raise ConfigError("the openai narrative writer needs a model name")
        key = os.environ.get(config.api_key_env, "")
        if not key and config.base_url is None:
            raise ConfigError(f"the openai narrative writer needs an API key in the "
                              f"environment variable {config.api_key_env} (or a base_url of "
                              "an OpenAI-compatible server)")
        self._secret = key
        self._client = openai.OpenAI(api_key=key or NO_KEY, base_url=config.base_url,
                                     timeout=config.timeout_s, max_retries=0)
        self.model = config.model
        self._retries = config.retries
        self._backoff_s = config.backoff_s
        # Structured-output dialects to try, best first; a server that refuses one (400/422
        # naming response_format) gets the next, and finally the prompt's plain request.
        self._formats = ["json_schema", "json_object"] if config.structured_output else []
        # OpenAI's strict mode takes no string lengths; compatible servers (llama.cpp, vLLM)
        # turn them into their grammar.
        self._bounded = config.base_url is not None
        self._sleep = sleep
        self.http_retries = 0

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if len(self._secret) >= 4 else text

    def _describe(self, exc: Exception) -> str:
        status = getattr(exc, "status_code", None)
        kind = type(exc).__name__ + (f" {status}" if status else "")
        message = " ".join(str(exc).split())[:200]
        return self._redact(f"{kind}: {message}")

    def _create(self, messages: Sequence[dict], params: dict):
        kwargs = {"model": self.model, "messages": list(messages),
                  "temperature": params["temperature"], "max_tokens": params["max_tokens"],
                  "seed": params["seed"], "frequency_penalty": params["frequency_penalty"]}
        if params.get("grammar"):  # a per-call GBNF grammar (llama.cpp's server) wins
            kwargs["extra_body"] = {"grammar": params["grammar"]}
        elif self._formats:
            kwargs["response_format"] = _response_format(self._formats[0], self._bounded)
        return self._client.chat.completions.create(**kwargs)

    def _create_with_retries(self, messages: Sequence[dict], params: dict):
        attempt = 0
        while True:
            try:
                return self._create(messages, params)
            except openai.APIStatusError as exc:
                # llama.cpp's server answers an unknown response_format with 500, others 400.
                if self._formats and "response_format" in f"{exc} {exc.body}":
                    log.info("server refused response_format %s", self._formats.pop(0))
                    continue
                status = exc.status_code
                if status not in TRANSIENT_STATUS and status < 500:
                    raise LLMUnavailable(self._describe(exc)) from None
                failure = exc
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                failure = exc
            if attempt == self._retries:
                raise LLMUnavailable(self._describe(failure)) from None
            wait = _retry_after(failure)
            wait = min(wait, MAX_RETRY_AFTER_S) if wait is not None else \
                self._backoff_s * 2 ** attempt
            log.warning("LLM call failed (%s); retry %d of %d in %.2f s",
                        self._describe(failure), attempt + 1, self._retries, wait)
            self.http_retries += 1
            attempt += 1
            self._sleep(wait)

    def complete(self, messages: Sequence[dict], params: dict) -> Completion:
        try:
            response = self._create_with_retries(messages, params)
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise InvalidResponse(f"unreadable response: {self._describe(exc)}") from None
        choices = getattr(response, "choices", None)
        if not choices or choices[0].message is None or choices[0].message.content is None:
            raise InvalidResponse("the response has no message content")
        usage = getattr(response, "usage", None)
        return Completion(choices[0].message.content, getattr(response, "model", None)
                          or self.model,
                          getattr(usage, "prompt_tokens", 0) or 0,
                          getattr(usage, "completion_tokens", 0) or 0,
                          structured=bool(self._formats or params.get("grammar")))
