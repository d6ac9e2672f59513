"""The narrative writers by name: one registry for the config, the CLI and the stage.

``template`` is the deterministic writer (no LLM, the fallback of every other); each LLM
writer is a chat backend class registered with ``@register_writer`` in its own module
(``openai_chat``, ``local_chat``) and built as ``backend(settings, seed)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WriterInfo:
    """``backend``: the chat backend class (None for the template writer); ``extra``: the
    optional dependency group it needs (``pip install 'reportgen[EXTRA]'``)."""

    name: str
    description: str
    backend: type | None = None
    extra: str | None = None


WRITERS: dict[str, WriterInfo] = {
    "template": WriterInfo("template", "deterministic sentences from the findings; no LLM"),
}


def register_writer(name: str, description: str, extra: str | None = None
                    ) -> Callable[[type], type]:
    """Register a chat backend class as the LLM writer ``name``."""

    def decorate(cls: type) -> type:
        if name in WRITERS:
            raise ValueError(f"narrative writer {name!r} registered twice")
        WRITERS[name] = WriterInfo(name, description, cls, extra)
        return cls

    return decorate


def _register_builtin() -> None:
    # Explicit registration: importing the backend modules runs their decorators. Neither
    # imports its heavy client (openai, llama_cpp) before a backend is built... openai is
    # light; llama_cpp is imported inside LlamaCppChat.
    from reportgen.narrative import local_chat, openai_chat  # noqa: F401


def writer_names() -> tuple[str, ...]:
    """Every registered writer, ``template`` first."""
    _register_builtin()
    return tuple(WRITERS)


def get_writer(name: str) -> WriterInfo:
    _register_builtin()
    if name not in WRITERS:
        raise ValueError(f"unknown narrative writer {name!r}; choose from "
                         f"{', '.join(WRITERS)}")
    return WRITERS[name]


def build_backend(name: str, settings: Any, seed: int) -> Any:
    """The chat backend of LLM writer ``name`` (ValueError for ``template``)."""
    info = get_writer(name)
    if info.backend is None:
        raise ValueError(f"writer {name!r} has no chat backend")
    return info.backend(settings, seed)
