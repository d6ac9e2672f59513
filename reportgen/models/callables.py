"""User code named as ``package.module:attribute`` (model builders, reshape transforms)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from reportgen.errors import ModelError


def import_callable(target: str, what: str = "arch") -> Callable[..., Any]:
    """``package.module:attribute`` -> the attribute (ModelError naming what failed)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelError(f"{what} {target!r}: expected 'package.module:callable'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"{what} {target!r}: cannot import {module_name!r} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"{what} {target!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"{what} {target!r} is not callable")
    return obj
