"""Format options without pydantic: frozen dataclasses checked against their type hints.

Each adapter declares ``Options`` as a frozen dataclass; ``parse_options`` builds it from a
mapping (a dataset spec) and raises one-line ``DatasetError`` for unknown keys or wrong types.
Supported hints: str, int, bool, float, None, Literal, unions, ``tuple[str, ...]`` (a list in
YAML) and ``dict[str, tuple[str, ...]]`` (a mapping of names to lists of names).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from reportgen.errors import DatasetError

T = TypeVar("T")


def parse_options(cls: type[T], raw: Mapping[str, Any], where: str,
                  also_known: tuple[str, ...] = ()) -> T:
    """``cls(**raw)`` after checking every key and value; ``where`` names the spec in errors,
    ``also_known`` are keys accepted elsewhere, listed with the known ones in that error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise DatasetError(f"{where}: unknown option(s) {unknown}; known: "
                           f"{sorted(fields) + sorted(also_known)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name not in raw:
            if field.default is dataclasses.MISSING and \
                    field.default_factory is dataclasses.MISSING:
                raise DatasetError(f"{where}: option {name!r} is required")
            continue
        try:
            values[name] = _coerce(raw[name], hints[name])
        except TypeError as exc:
            raise DatasetError(f"{where}: option {name!r} {exc}") from None
    try:
        return cls(**values)
    except DatasetError as exc:  # a cross-option check in the options' __post_init__
        raise DatasetError(f"{where}: {exc}") from None


def _coerce(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _coerce(value, arg)
            except TypeError:
                pass
        raise TypeError(f"must be {_describe(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise TypeError(f"must be one of {list(args)}, got {value!r}")
    if hint is type(None):
        if value is None:
            return None
        raise TypeError("must be empty")
    if origin is tuple:
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(v, args[0]) for v in value)
        raise TypeError(f"must be a list, got {value!r}")
    if origin is dict:
        if isinstance(value, Mapping):
            return {_coerce(k, args[0]): _coerce(v, args[1]) for k, v in value.items()}
        raise TypeError(f"must be a mapping, got {value!r}")
    if hint is str and isinstance(value, (str, Path)):
        return str(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise TypeError(f"must be {_describe(hint)}, got {value!r}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if origin is tuple:
        return "a list"
    if origin is dict:
        return "a mapping"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             type(None): "empty"}
    return names.get(hint, f"a {getattr(hint, '__name__', hint)}")


def option_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def resolve(root: Path, path: str) -> Path:
    """An option's path: absolute as given, else relative to the dataset root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def read_mapping_file(path: Path) -> Any:
    """Parse a JSON or YAML file (by suffix; YAML for anything but .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable ({' '.join(str(exc).split())})") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno} "
                           f"({exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DatasetError(f"{path}: invalid YAML{where} ({' '.join(problem.split())})"
                           ) from None


def read_class_map(path: Path) -> dict[str, str]:
    """A mapping file of keys (ids, file names, WordNet ids) to class names."""
    data = read_mapping_file(path)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"{path}: a class map must map ids or file names to class names")
    return {str(k): v for k, v in data.items()}


def check_names(names: list[str] | tuple[str, ...], what: str, where: str) -> tuple[str, ...]:
    """Non-empty, unique names, or a DatasetError naming ``what``."""
    if not names:
        raise DatasetError(f"{where}: {what} is empty")
    if not all(isinstance(n, str) and n for n in names):
        raise DatasetError(f"{where}: {what} must be non-empty names")
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DatasetError(f"{where}: {what} has duplicate names {duplicates}")
    return tuple(names)
