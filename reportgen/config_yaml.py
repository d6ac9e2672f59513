"""Reading a run configuration: a YAML file (paths relative to it) or a dict, CLI flags
overriding top-level keys, into a validated ``reportgen.config.RunConfig``; every problem is
one ``ConfigError`` line naming the key, its YAML line and, for a typo, the closest key."""

from __future__ import annotations

import contextlib
import difflib
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from reportgen.config import NOTHING_TO_EXPLAIN, RunConfig
from reportgen.errors import ConfigError


def _resolve_paths(raw: dict, base: Path) -> dict:
    """Make dataset and model paths relative to the config file's folder."""
    raw = dict(raw)
    if isinstance(raw.get("dataset"), dict) and "root" in raw["dataset"]:
        raw["dataset"] = {**raw["dataset"], "root": base / raw["dataset"]["root"]}
    models = []
    for m in raw.get("models") or []:
        if isinstance(m, dict):
            m = {**m, **{k: base / m[k] for k in ("spec", "weights") if m.get(k)}}
        models.append(m)
    if models:
        raw["models"] = models
    heatmaps = []
    for h in raw.get("heatmaps") or []:
        if isinstance(h, dict) and h.get("path"):
            h = {**h, "path": base / h["path"]}
        heatmaps.append(h)
    if heatmaps:
        raw["heatmaps"] = heatmaps
    narrative = raw.get("narrative")
    if isinstance(narrative, dict) and narrative.get("model_path"):
        raw["narrative"] = {**narrative, "model_path": base / narrative["model_path"]}
    return raw


def load_config(path: str | Path, overrides: dict | None = None) -> RunConfig:
    """Read and validate a YAML config; ``overrides`` (CLI flags) replace top-level keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: unreadable config{where} ({' '.join(problem.split())})"
                          ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return config_from_dict(_resolve_paths(raw, path.parent), overrides, source=str(path),
                            lines=_key_lines(text))


def _known_keys(loc: tuple) -> list[str]:
    """The keys allowed at the mapping that holds ``loc``'s last key."""
    model: type[BaseModel] | None = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
    return sorted(model.model_fields) if model else []


def _describe_error(error: dict, lines: dict[tuple, int] | None) -> str:
    loc = tuple(error["loc"])
    where = ".".join(map(str, loc)) or "(top)"
    line = (lines or {}).get(loc)
    at = f" (line {line})" if line else ""
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{where}{at}: unknown key{hint}"
    return f"{where}{at}: {error['msg']}"


def _key_lines(text: str) -> dict[tuple, int]:
    """(key path) -> 1-based line of that key in a YAML document (best effort)."""
    out: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, k.value)
                out[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                out[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    with contextlib.suppress(yaml.YAMLError):
        walk(yaml.compose(text), ())
    return out


def config_from_dict(raw: dict, overrides: dict | None = None, source: str = "config",
                     lines: dict[tuple, int] | None = None) -> RunConfig:
    raw = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_error(e, lines) for e in exc.errors()]
        if not raw.get("models") and not raw.get("heatmaps") and not any(
                "models" in p for p in problems):
            problems.append(f"models: {NOTHING_TO_EXPLAIN}")
        raise ConfigError(f"{source}: {'; '.join(problems)}") from None
