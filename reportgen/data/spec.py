"""Dataset specs: which format, where, with which options -> an open, lazy ``Dataset``.

A spec is one of

* a folder: its format detected from the files it holds (``registry.detect_format``: the
  folder format when it holds ``dataset.json``/``.yaml``, PASCAL-Part when it holds
  ``Annotations_Part/``, .mat label maps when it holds ``label_list.mat``; else the folder
  format, whose reader explains what is missing);
* a spec file (YAML or JSON) holding a spec mapping (``root`` relative to the file's folder),
  or a folder-format manifest;
* a mapping ``{"format": ..., "root": ..., **options}`` (options may also sit under
  ``options:``). Option paths are relative to ``root``. The read policy's keys
  (``reportgen.data.policy``: ``max_image_pixels``, ``reduce_above_pixels``,
  ``allow_outside_root``) may sit among the options of any format.

The formats are those registered in ``reportgen.data.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reportgen.data.base import Dataset
from reportgen.data.options import option_names, parse_options, read_mapping_file
from reportgen.data.policy import POLICY_KEYS, ReadPolicy, split_policy, with_overrides
from reportgen.data.registry import detect_format as _detect
from reportgen.data.registry import get_format
from reportgen.errors import DatasetError

DEFAULT_FORMAT = "folder"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec: ``format`` (a registered name), ``root``, raw format ``options`` and
    the read ``policy``."""

    format: str
    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "dataset spec"
    policy: ReadPolicy = field(default_factory=ReadPolicy)


def load_dataset(spec: str | Path | Mapping[str, Any] | DatasetSpec,
                 limit: int | None = None, *, max_image_pixels: int | None = None,
                 reduce_above_pixels: int | None = None,
                 allow_outside_root: bool | None = None) -> Dataset:
    """Open the dataset a spec describes (see the module docstring); only its index is read.

    ``limit`` keeps the first N items (samples or exclusions) of the iteration. The keywords
    override the spec's read policy when not None (``reportgen.data.policy.ReadPolicy``).
    """
    parsed = parse_spec(spec)
    policy = with_overrides(parsed.policy, max_image_pixels=max_image_pixels,
                            reduce_above_pixels=reduce_above_pixels,
                            allow_outside_root=allow_outside_root)
    fmt = get_format(parsed.format, parsed.source)
    return fmt.dataset_cls(parsed.root, limit=limit, options=_options(parsed), policy=policy)


def check_options(format: str, options: Mapping[str, Any], where: str = "dataset") -> None:
    """Raise a one-line DatasetError when ``options`` (format options and read policy keys)
    do not fit ``format`` (for config checks; no file is touched)."""
    get_format(format, where)
    policy, rest = split_policy(options, f"{where} ({format})")
    _options(DatasetSpec(format, Path("."), rest, where, policy))


def format_options(format: str) -> list[str]:
    """The option names a format accepts (the read policy's keys are accepted by all)."""
    return option_names(get_format(format).options_cls)


def detect_format(root: Path) -> str:
    """The format of a dataset folder from the files it holds (the folder format by default)."""
    return _detect(root, DEFAULT_FORMAT)


def spec_from_cli(dataset: str | Path, format: str | None = None,
                  options: list[str] | None = None) -> str | Path | dict[str, Any]:
    """A spec from command-line parts: a folder or spec file, ``--format`` and repeated
    ``--option KEY=VALUE`` (VALUE read as YAML, so ``classes=[dog, cat]`` is a list)."""
    if format is None and not options:
        return dataset
    spec: dict[str, Any] = {"root": str(dataset)}
    if format is not None:
        spec["format"] = format
    for text in options or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise DatasetError(f"--option {text!r}: expected KEY=VALUE")
        try:
            spec[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise DatasetError(f"--option {text!r}: VALUE is not valid YAML") from None
    return spec


def parse_spec(spec: str | Path | Mapping[str, Any] | DatasetSpec) -> DatasetSpec:
    if isinstance(spec, DatasetSpec):
        return spec
    if hasattr(spec, "model_dump"):  # a pydantic config section
        spec = spec.model_dump()
    if isinstance(spec, Mapping):
        return _from_mapping(spec, Path("."), "dataset spec")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() in SPEC_SUFFIXES:
        return _from_file(path)
    if path.is_dir():
        return DatasetSpec(detect_format(path), path, {}, str(path))
    if not path.exists():
        raise DatasetError(f"dataset root {path} does not exist or is not a folder")
    raise DatasetError(f"{path}: not a dataset folder nor a spec file "
                       f"({', '.join(SPEC_SUFFIXES)})")


def _from_file(path: Path) -> DatasetSpec:
    raw = read_mapping_file(path)
    if not isinstance(raw, Mapping):
        raise DatasetError(f"{path}: a dataset spec must be a mapping with 'format' and 'root'")
    if "samples" in raw and "format" not in raw:  # a folder-format manifest given directly
        return DatasetSpec("folder", path.parent, {"manifest": path.name}, str(path))
    return _from_mapping(raw, path.parent, str(path))


def _from_mapping(raw: Mapping[str, Any], base: Path, where: str) -> DatasetSpec:
    raw = dict(raw)
    if "root" not in raw:
        raise DatasetError(f"{where}: 'root' (the dataset folder) is required")
    root = Path(str(raw.pop("root"))).expanduser()
    root = root if root.is_absolute() else base / root
    nested = raw.pop("options", None) or {}
    if not isinstance(nested, Mapping):
        raise DatasetError(f"{where}: 'options' must be a mapping")
    clash = sorted(set(nested) & set(raw))
    if clash:
        raise DatasetError(f"{where}: {clash} given both at the top level and under 'options'")
    fmt = raw.pop("format", None)
    fmt = detect_format(root) if fmt is None else get_format(fmt, where).name
    policy, options = split_policy({**nested, **raw}, f"{where} ({fmt})")
    return DatasetSpec(fmt, root, options, where, policy)


def _options(spec: DatasetSpec) -> Any:
    options_cls = get_format(spec.format, spec.source).options_cls
    return parse_options(options_cls, spec.options, f"{spec.source} ({spec.format})",
                         also_known=POLICY_KEYS)
