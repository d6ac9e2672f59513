"""Read rules shared by every format: image size limits and where manifest paths may point.

They sit next to ``format`` and ``root`` in a spec (or under ``options:``), or are given to
``load_dataset`` as keywords; a run config exposes them as ``dataset.<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from reportgen.data.images import MAX_PIXELS
from reportgen.data.options import parse_options
from reportgen.errors import DatasetError

#: Files with more pixels are excluded, never decoded (see ``images.MAX_PIXELS``).
DEFAULT_MAX_IMAGE_PIXELS = MAX_PIXELS
#: Larger images are decoded at 1/2, 1/4, ... of their size (with their annotations sampled
#: to match) until they fit: a heatmap from a ~224 px model input has far less detail than
#: 2048 x 2048, and a batch then holds at most batch_size x this many pixels.
DEFAULT_REDUCE_ABOVE_PIXELS = 2048 * 2048


@dataclass(frozen=True)
class ReadPolicy:
    """``max_image_pixels``: images and label maps with more pixels are excluded (the reason
    gives their size). ``reduce_above_pixels``: larger images are decoded at a reduced size
    (``reportgen.data.images.decode_image``). ``allow_outside_root``: manifest paths may point
    outside the dataset root (otherwise such a sample is excluded)."""

    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    reduce_above_pixels: int = DEFAULT_REDUCE_ABOVE_PIXELS
    allow_outside_root: bool = False

    def __post_init__(self) -> None:
        for name in ("max_image_pixels", "reduce_above_pixels"):
            if getattr(self, name) < 1:
                raise DatasetError(f"option {name!r} must be at least 1, got "
                                   f"{getattr(self, name)}")


POLICY_KEYS = tuple(f.name for f in fields(ReadPolicy))


def split_policy(raw: Mapping[str, Any], where: str,
                 base: ReadPolicy | None = None) -> tuple[ReadPolicy, dict[str, Any]]:
    """(the policy the policy keys of ``raw`` give over ``base``, the other keys)."""
    mine = {k: v for k, v in raw.items() if k in POLICY_KEYS}
    rest = {k: v for k, v in raw.items() if k not in POLICY_KEYS}
    parsed = parse_options(ReadPolicy, mine, where)
    given = {k: getattr(parsed, k) for k in mine}
    return replace(base or ReadPolicy(), **given), rest


def with_overrides(policy: ReadPolicy, **overrides: Any) -> ReadPolicy:
    """``policy`` with the overrides that are not None (checked like spec values)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return split_policy(given, "load_dataset", policy)[0] if given else policy


def outside_root(path: Path, roots: Sequence[Path], policy: ReadPolicy) -> str | None:
    """The exclusion reason when ``path`` (symlinks resolved) is inside none of ``roots``.

    None when it is inside one, or when the policy allows outside paths. ``..`` segments and
    absolute paths in a manifest are judged by where they resolve, like symlinks.
    """
    if policy.allow_outside_root:
        return None
    resolved = path.resolve()
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return None
    return (f"the manifest path resolves to {resolved}, outside the dataset root "
            f"{roots[0]} (set allow_outside_root: true to read files outside it)")
