"""Locate the resource folders (``templates/``, ``prompts/``, ``sample_data/``).

In a wheel, ``templates/`` and ``prompts/`` are shipped inside the package
(``reportgen/templates``); in a checkout (editable install) they sit at the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"reportgen resource folder {name!r} not found next to {_PACKAGE_DIR}; "
        "the installation is incomplete (reinstall reportgen)"
    )


def templates_dir() -> Path:
    """Folder of the Jinja2 report templates."""
    return _find("templates")


def prompts_dir() -> Path:
    """Folder of the Jinja2 prompt templates."""
    return _find("prompts")


def sample_data_dir() -> Path:
    """Folder of the built-in demo data (``$REPORTGEN_SAMPLE_DATA`` overrides).

    A wheel ships it as ``reportgen/sample_data/data``; a checkout has it at the root.
    """
    override = os.environ.get("REPORTGEN_SAMPLE_DATA")
    if override:
        return Path(override)
    for candidate in (_PACKAGE_DIR / "sample_data" / "data", _PACKAGE_DIR.parent / "sample_data"):
        if (candidate / "parts_world" / "dataset.json").is_file():
            return candidate
    raise FileNotFoundError(
        "the built-in sample data is missing; rebuild it with "
        "'python -m reportgen.sample_data.build --out sample_data'"
    )
