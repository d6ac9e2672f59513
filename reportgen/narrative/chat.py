"""The chat-completion interface the LLM writer talks to, and what can go wrong with it.

A backend turns messages into one ``Completion``; the OpenAI-compatible client
(``openai_chat``), llama-cpp in-process (``local_chat``) and the response cache (``cache``)
implement it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class LLMUnavailable(Exception):
    """The LLM cannot answer (retries spent, refused credentials, bad request): stop asking."""


class InvalidResponse(Exception):
    """One answer could not be read (not JSON, no content): worth another attempt."""


class ReplayMiss(Exception):
    """Replay mode found no cached answer for a prompt."""


@dataclass(frozen=True)
class Completion:
    """One answer: ``text`` as the model wrote it, ``model`` the id it reported, token counts
    (0 when the server does not say), ``structured`` whether JSON output was enforced."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    structured: bool = False
    cached: bool = False

    def to_dict(self) -> dict:
        return {"text": self.text, "model": self.model, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "structured": self.structured}


class ChatBackend(Protocol):
    """``model`` is the id requested; ``complete`` raises LLMUnavailable or InvalidResponse."""

    model: str

    def complete(self, messages: Sequence[dict], params: dict) -> Completion: ...


def parse_answer(completion: Completion) -> tuple[str, str | None]:
    """The answer's text (paragraphs joined by blank lines) and, when it cannot be used, why.

    A structured answer must be ``{"paragraphs": [str, ...]}``; an unstructured one may be that
    object or plain text. Extra keys (a "title", say) are ignored: the section's structure is
    ours, not the model's. A paragraph repeated word for word is kept once.
    """
    raw = completion.text.strip()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        if completion.structured:
            return "", "the answer is not the JSON object asked for: {\"paragraphs\": [...]}"
        return raw, None
    paragraphs = data.get("paragraphs") if isinstance(data, dict) else None
    if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
        return "", "the answer's JSON has no \"paragraphs\" list of strings"
    unique = dict.fromkeys(" ".join(p.split()) for p in paragraphs)
    return "\n\n".join(p for p in unique if p), None
