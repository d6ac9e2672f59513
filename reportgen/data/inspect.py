"""``reportgen inspect``: what a dataset holds and what is wrong with it, before a long run.

One streaming pass (memory flat in the number of images): samples per class, samples in which
each part is present (overall and per class), each region's share of all pixels, and every
problem sample with its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.data.images import label_counts
from reportgen.data.sample import BACKGROUND, IGNORE_INDEX, Sample
from reportgen.data.spec import load_dataset
from reportgen.errors import ConfigError
from reportgen.exclusions import Exclusion

VOID = "void"


@dataclass
class DatasetInspection:
    """Counts of one pass over a dataset.

    ``pixels``: region -> pixel count summed over samples (``background``, each part, ``void``);
    part masks may overlap, so part shares can add up to more than 1. ``part_samples``: part ->
    samples where it has at least one pixel; ``class_part_samples``: the same per class.
    """

    name: str
    format: str
    root: str
    class_names: tuple[str, ...]
    part_names: tuple[str, ...]
    class_parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    items: int = 0
    class_counts: Counter = field(default_factory=Counter)
    part_samples: Counter = field(default_factory=Counter)
    class_part_samples: dict[str, Counter] = field(default_factory=dict)
    pixels: Counter = field(default_factory=Counter)
    total_pixels: int = 0
    overlapping: int = 0
    problems: list[Exclusion] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(self.class_counts.values())

    def pixel_share(self, region: str) -> float:
        """Share of all sample pixels in ``region`` (0 for an empty dataset)."""
        return self.pixels[region] / self.total_pixels if self.total_pixels else 0.0

    @property
    def notes(self) -> list[str]:
        """Dataset-level warnings: classes without samples, parts never present."""
        notes = [f"class {c!r} has no samples" for c in self.class_names
                 if not self.class_counts[c]]
        notes += [f"part {p!r} is never present" for p in self.part_names
                  if not self.part_samples[p]]
        for cls, parts in self.class_parts.items():
            if self.class_counts[cls]:
                absent = [p for p in parts if not self.class_part_samples[cls][p]]
                if absent:
                    notes.append(f"class {cls!r}: expected parts never present: {absent}")
        return notes

    def add(self, item: Sample | Exclusion) -> None:
        self.items += 1
        if isinstance(item, Exclusion):
            self.problems.append(item)
            return
        self.class_counts[item.class_name] += 1
        present, pixels = _region_pixels(item)
        for name, count in zip((BACKGROUND, *item.part_names, VOID), pixels, strict=True):
            self.pixels[name] += int(count)
        self.total_pixels += item.size[0] * item.size[1]
        per_class = self.class_part_samples.setdefault(item.class_name, Counter())
        for name in np.asarray(item.part_names, dtype=object)[present]:
            self.part_samples[name] += 1
            per_class[name] += 1
        if not item.has_label_map and (item.part_masks.sum(axis=0) > 1).any():
            self.overlapping += 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for ``reportgen inspect --json``)."""
        return {
            "name": self.name, "format": self.format, "root": self.root,
            "items": self.items, "samples": self.samples, "excluded": len(self.problems),
            "classes": {c: self.class_counts[c] for c in self.class_names},
            "parts": {p: {"samples": self.part_samples[p],
                          "pixel_share": round(self.pixel_share(p), 6)}
                      for p in self.part_names},
            "background_pixel_share": round(self.pixel_share(BACKGROUND), 6),
            "void_pixel_share": round(self.pixel_share(VOID), 6),
            "class_parts": {c: dict(self.class_part_samples.get(c, {}))
                            for c in self.class_names},
            "overlapping_samples": self.overlapping,
            "problems": [e.as_row() for e in self.problems],
            "notes": self.notes,
        }


def _region_pixels(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(K,) bool part present, and (1 + K + 1,) pixel counts: background, parts, void."""
    k = len(sample.part_names)
    if sample.labels is not None:
        counts = label_counts(sample.labels)
        regions = counts[: k + 1]
        void = counts[IGNORE_INDEX]
    else:
        regions = sample.region_masks().sum(axis=(1, 2))
        void = int((~sample.valid_pixels()).sum())
    return regions[1:] > 0, np.concatenate([regions, [void]])


def inspect_dataset(spec: Any, limit: int | None = None, *,
                    max_image_pixels: int | None = None, reduce_above_pixels: int | None = None,
                    allow_outside_root: bool | None = None) -> DatasetInspection:
    """Read every sample of the dataset ``spec`` names (see ``reportgen.data.spec``) once.

    ``limit``: the first N items (N >= 1; ConfigError otherwise). The keywords override the
    spec's read policy as in ``load_dataset``. An image above the pixel limit is a problem in
    the result, like any unreadable file.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ConfigError(f"limit must be a whole number of at least 1 (--limit N reads the "
                          f"first N items), got {limit!r}")
    dataset = load_dataset(spec, limit=limit, max_image_pixels=max_image_pixels,
                           reduce_above_pixels=reduce_above_pixels,
                           allow_outside_root=allow_outside_root)
    result = DatasetInspection(
        name=dataset.name, format=dataset.format, root=str(dataset.root),
        class_names=tuple(dataset.class_names), part_names=tuple(dataset.part_names),
        class_parts=dict(getattr(dataset, "class_parts", {}) or {}))
    for item in dataset:
        result.add(item)
    return result


def render_inspection(result: DatasetInspection, max_problems: int = 50) -> str:
    """Plain-text report of an inspection (fixed-width tables, no colour)."""
    lines = [f"Dataset {result.name} ({result.format}) at {Path(result.root)}",
             f"  {result.items} items: {result.samples} samples, {len(result.problems)} "
             "excluded" + (f", {result.overlapping} with overlapping part masks"
                           if result.overlapping else ""), ""]
    lines += _table(["class", "samples"], [[c, str(result.class_counts[c])]
                                           for c in result.class_names])
    rows = [[BACKGROUND, "", _percent(result.pixel_share(BACKGROUND))]]
    rows += [[p, str(result.part_samples[p]), _percent(result.pixel_share(p))]
             for p in result.part_names]
    rows += [[VOID, "", _percent(result.pixel_share(VOID))]]
    lines += ["", *_table(["region", "samples", "pixel share"], rows)]
    present = [c for c in result.class_names if result.class_counts[c]]
    if len(present) > 1:
        header = ["part \\ class", *present]
        rows = [[p, *(str(result.class_part_samples[c][p]) for c in present)]
                for p in result.part_names]
        lines += ["", "Samples with each part, per class", *_table(header, rows)]
    if result.problems:
        lines += ["", f"Problems ({len(result.problems)})"]
        lines += [f"  {e.image_id}: {e.reason}" for e in result.problems[:max_problems]]
        if len(result.problems) > max_problems:
            lines.append(f"  ... and {len(result.problems) - max_problems} more")
    else:
        lines += ["", "No problems found."]
    if result.notes:
        lines += ["", "Notes", *(f"  {n}" for n in result.notes)]
    return "\n".join(lines)


def _percent(share: float) -> str:
    if 0 < share < 0.0005:
        return "<0.1 %"
    return f"{100 * share:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(r) for r in rows)]
