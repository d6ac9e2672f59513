"""Reading MATLAB v5 .mat files (scipy.io.loadmat) with one-line, user-facing errors."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError


class MatFileError(ValueError):
    """A .mat file cannot be read or does not hold what the adapter expects."""


def read_mat(path: Path, variables: list[str] | None = None) -> dict[str, Any]:
    """The variables of a .mat file (structs as ``mat_struct`` objects, squeezed arrays).

    Raises MatFileError with a one-line reason for missing, corrupt, truncated or v7.3 files.
    """
    try:
        data = scipy.io.loadmat(path, variable_names=variables, squeeze_me=True,
                                struct_as_record=False, verify_compressed_data_integrity=True)
    except FileNotFoundError:
        raise MatFileError("file not found") from None
    except NotImplementedError:
        raise MatFileError("MATLAB v7.3 (HDF5) files are not supported; save with -v7") from None
    except (MatReadError, OSError, ValueError, TypeError, KeyError, IndexError, EOFError,
            zlib.error, AttributeError, OverflowError, MemoryError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise MatFileError(f"not a readable .mat file (corrupt or truncated: {text[:160]})"
                           ) from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def mat_string(value: Any) -> str:
    """A MATLAB char array or 1-element cell as str ('' for an empty entry)."""
    while isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.dtype.kind in "US":
            return "".join(str(v) for v in value.ravel())
        value = value.ravel()[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def as_list(value: Any) -> list[Any]:
    """A MATLAB struct array or cell (squeezed: scalar, 1-D array or empty) as a list."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":  # a char array is one value, not a list
            return [value]
        return list(value.ravel())
    return [value]
