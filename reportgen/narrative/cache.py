"""Response cache: one JSON file per (messages, model, parameters), and replay from it.

The key is a sha256 over the canonical JSON of the messages, the requested model id and the
sampling parameters; the API key, the base URL and headers are never part of it or of a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from reportgen.io import atomic_write_json
from reportgen.narrative.chat import ChatBackend, Completion, ReplayMiss

CACHE_VERSION = 1


def cache_key(messages: Sequence[dict], model: str, params: dict) -> str:
    canonical = json.dumps({"v": CACHE_VERSION, "messages": list(messages), "model": model,
                            "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Completions stored as ``<folder>/<key>.json`` (written atomically)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return Completion(**data["completion"], cached=True)

    def put(self, key: str, completion: Completion, model: str, params: dict) -> None:
        atomic_write_json(self.path(key), {"version": CACHE_VERSION, "model": model,
                                           "params": params,
                                           "completion": completion.to_dict()})


class CachedChat:
    """A backend that answers from the cache first; with ``replay`` it never calls ``inner``
    (which may then be None) and a miss raises ReplayMiss."""

    def __init__(self, inner: ChatBackend | None, cache: ResponseCache, model: str,
                 replay: bool = False):
        if inner is None and not replay:
            raise ValueError("a cache without a backend can only replay")
        self.inner = inner
        self.cache = cache
        self.model = model
        self.replay = replay

    def complete(self, messages: Sequence[dict], params: dict) -> Completion:
        key = cache_key(messages, self.model, params)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if self.replay or self.inner is None:
            raise ReplayMiss(f"no cached answer for prompt {key[:12]}")
        completion = self.inner.complete(messages, params)
        self.cache.put(key, completion, self.model, params)
        return completion
