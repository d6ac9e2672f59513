"""The dataset formats, registered by a decorator on each format's dataset class.

``reportgen.data`` imports every format module, so the registry is complete once any module of
the package has been imported. Registration order is detection order (``detect_format``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reportgen.errors import DatasetError

C = TypeVar("C", bound=type)


@dataclass(frozen=True)
class DatasetFormat:
    """One format: its name, dataset class, options dataclass and folder detector.

    ``dataset_cls(root, limit=, options=, policy=)`` opens a dataset; ``detect(root)`` says
    whether a folder holds this format (None: never detected, name it explicitly).
    """

    name: str
    dataset_cls: type
    options_cls: type
    detect: Callable[[Path], bool] | None = None


# Filled only by ``register_format`` while the format modules are imported.
_FORMATS: dict[str, DatasetFormat] = {}


def register_format(name: str, *, options: type,
                    detect: Callable[[Path], bool] | None = None) -> Callable[[C], C]:
    """Class decorator: register a dataset class as the format ``name`` (sets ``cls.format``).

    ``options``: the frozen dataclass of its options (``reportgen.data.options``).
    """

    def decorate(cls: C) -> C:
        known = _FORMATS.get(name)
        if known is not None and known.dataset_cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"dataset format {name!r} registered twice")
        cls.format = name
        _FORMATS[name] = DatasetFormat(name, cls, options, detect)
        return cls

    return decorate


def dataset_formats() -> tuple[str, ...]:
    """The registered format names, in registration (detection) order."""
    return tuple(_FORMATS)


def get_format(name: object, where: str = "dataset") -> DatasetFormat:
    """The format ``name``; a one-line DatasetError listing the known ones otherwise."""
    if not isinstance(name, str) or name not in _FORMATS:
        raise DatasetError(f"{where}: unknown dataset format {name!r}; choose from "
                           f"{', '.join(_FORMATS)}")
    return _FORMATS[name]


def detect_format(root: Path, default: str) -> str:
    """The first registered format whose detector recognises ``root``, else ``default``."""
    for fmt in _FORMATS.values():
        if fmt.detect is not None and fmt.detect(root):
            return fmt.name
    return default
