"""Dataset specs: which format, where, with which options -> an open, lazy ``Dataset``.

A spec is one of

* a folder: the folder format when it holds ``dataset.json``/``.yaml``, PASCAL-Part when it
  holds ``Annotations_Part/``, .mat label maps when it holds ``label_list.mat``;
* a spec file (YAML or JSON) holding a spec mapping (``root`` relative to the file's folder),
  or a folder-format manifest;
* a mapping ``{"format": ..., "root": ..., **options}`` (options may also sit under
  ``options:``). Option paths are relative to ``root``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reportgen.data.base import Dataset
from reportgen.data.options import option_names, parse_options, read_mapping_file
from reportgen.errors import DatasetError

#: format -> (module, dataset class, options class)
FORMATS: dict[str, tuple[str, str, str]] = {
    "folder": ("reportgen.data.folder", "FolderDataset", "FolderOptions"),
    "partimagenet": ("reportgen.data.partimagenet", "PartImageNetDataset", "PartImageNetOptions"),
    "pascal_part": ("reportgen.data.pascal_part", "PascalPartDataset", "PascalPartOptions"),
    "mat_labelmap": ("reportgen.data.mat_labelmap", "MatLabelMapDataset", "MatLabelMapOptions"),
}
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec: ``format`` (a key of FORMATS), ``root`` and raw ``options``."""

    format: str
    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "dataset spec"


def load_dataset(spec: str | Path | Mapping[str, Any] | DatasetSpec,
                 limit: int | None = None) -> Dataset:
    """Open the dataset a spec describes (see the module docstring); only its index is read.

    ``limit`` keeps the first N items (samples or exclusions) of the iteration.
    """
    parsed = parse_spec(spec)
    module, cls_name, _ = FORMATS[parsed.format]
    options = _options(parsed)
    dataset_cls = getattr(importlib.import_module(module), cls_name)
    return dataset_cls(parsed.root, limit=limit, options=options)


def check_options(format: str, options: Mapping[str, Any], where: str = "dataset") -> None:
    """Raise a one-line DatasetError when ``options`` do not fit ``format`` (for config checks)."""
    _options(DatasetSpec(_check_format(format, where), Path("."), dict(options), where))


def format_options(format: str) -> list[str]:
    """The option names a format accepts."""
    module, _, options_name = FORMATS[_check_format(format, "dataset")]
    return option_names(getattr(importlib.import_module(module), options_name))


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


def detect_format(root: Path) -> str:
    """The format of a dataset folder from the files it holds (the folder format by default)."""
    from reportgen.data.folder import MANIFEST_NAMES

    if any((root / name).is_file() for name in MANIFEST_NAMES):
        return "folder"
    if (root / "Annotations_Part").is_dir():
        return "pascal_part"
    if (root / "label_list.mat").is_file():
        return "mat_labelmap"
    return "folder"  # its reader explains what is missing


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
    fmt = detect_format(root) if fmt is None else _check_format(fmt, where)
    return DatasetSpec(fmt, root, {**nested, **raw}, where)


def _check_format(fmt: Any, where: str) -> str:
    if fmt not in FORMATS:
        raise DatasetError(f"{where}: unknown dataset format {fmt!r}; choose from "
                           f"{', '.join(FORMATS)}")
    return fmt


def _options(spec: DatasetSpec) -> Any:
    module, _, options_name = FORMATS[spec.format]
    options_cls = getattr(importlib.import_module(module), options_name)
    return parse_options(options_cls, spec.options, f"{spec.source} ({spec.format})")
