"""COCO segmentations -> boolean masks: run-length encodings (RLE) and polygons.

COCO RLE runs alternate 0s and 1s (starting with 0s) over the pixels in column-major
(Fortran) order. ``counts`` is a list of ints (uncompressed RLE, used for crowds) or a string
in COCO's compressed form: each count as 5-bit groups, least significant first, offset by
48 into printable characters, 0x20 = "more groups follow", 0x10 in the last group = sign;
from the fourth count on, the count minus the count two places back is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def decode_rle(counts: Sequence[int] | str | bytes, height: int, width: int) -> np.ndarray:
    """(height, width) bool mask from COCO RLE ``counts`` (list or compressed string).

    Raises ValueError when the runs do not add up to height * width or a count is negative.
    """
    runs = decode_counts(counts) if isinstance(counts, (str, bytes)) else np.asarray(
        counts, dtype=np.int64)
    if runs.ndim != 1 or (runs < 0).any():
        raise ValueError("RLE counts must be non-negative integers")
    if int(runs.sum()) != height * width:
        raise ValueError(f"RLE counts cover {int(runs.sum())} pixels but the size "
                         f"{width}x{height} has {height * width}")
    values = np.arange(runs.size) % 2 == 1
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T


def encode_rle(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of an (H, W) mask (column-major, starting with 0s)."""
    flat = np.asarray(mask, bool).T.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def decode_counts(text: str | bytes) -> np.ndarray:
    """COCO's compressed RLE string -> run lengths (int64)."""
    data = text.encode("ascii") if isinstance(text, str) else bytes(text)
    counts: list[int] = []
    pos = 0
    while pos < len(data):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(data):
                raise ValueError("truncated compressed RLE string")
            c = data[pos] - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid character {chr(data[pos])!r} in compressed RLE")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return np.asarray(counts, dtype=np.int64)


def encode_counts(runs: Sequence[int]) -> str:
    """Run lengths -> COCO's compressed RLE string (inverse of ``decode_counts``)."""
    out = bytearray()
    for i, count in enumerate(runs):
        x = int(count) - (int(runs[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(c + 48)
    return out.decode("ascii")


def rasterize_polygons(polygons: Sequence[Sequence[float]], height: int, width: int,
                       rows: np.ndarray | None = None) -> np.ndarray:
    """(height, width) bool union of COCO polygons ``[[x1, y1, x2, y2, ...], ...]``.

    Coordinates are pixels with (0, 0) the top-left corner of the top-left pixel; a pixel is
    inside when its centre is (even-odd rule, scanlines through the pixel centres, vectorised
    over edges x rows). ``rows`` (R,) row indices: only those rows, (R, width). Raises
    ValueError for a polygon with fewer than 3 points, an odd number of coordinates or a
    non-finite one.
    """
    rows = np.arange(height) if rows is None else np.asarray(rows)
    mask = np.zeros((rows.size, width), bool)
    for k, poly in enumerate(polygons):
        coords = np.asarray(poly, dtype=np.float64).ravel()
        if coords.size % 2 or coords.size < 6:
            raise ValueError(f"polygon {k} needs at least 3 (x, y) points, got "
                             f"{coords.size} numbers")
        if not np.isfinite(coords).all():
            raise ValueError(f"polygon {k} has non-finite coordinates")
        mask |= _fill_polygon(coords.reshape(-1, 2), rows, width)
    return mask


def _fill_polygon(points: np.ndarray, row_index: np.ndarray, width: int) -> np.ndarray:
    """Even-odd fill of one closed polygon (P, 2) of (x, y) at the pixel centres of the rows
    ``row_index`` (R,): (R, width) bool."""
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    height = row_index.size
    rows = row_index + 0.5                              # scanline y of each pixel row
    yc = rows[None, :]
    # half-open rule: an edge crosses a scanline when it starts at or below and ends above it
    lo, hi = np.minimum(y0, y1)[:, None], np.maximum(y0, y1)[:, None]
    crosses = (lo <= yc) & (yc < hi)
    edge, row = np.nonzero(crosses)
    t = (rows[row] - y0[edge]) / (y1[edge] - y0[edge])
    xs = x0[edge] + t * (x1[edge] - x0[edge])
    order = np.lexsort((xs, row))                       # by row, then x; even count per row
    row, xs = row[order], xs[order]
    # pixel c is inside a span [xa, xb) when its centre c + 0.5 lies in it
    cols = np.clip(np.ceil(xs - 0.5), 0, width).astype(np.intp)
    diff = np.zeros((height, width + 1), np.int32)
    np.add.at(diff, (row[0::2], cols[0::2]), 1)
    np.add.at(diff, (row[1::2], cols[1::2]), -1)
    return np.cumsum(diff, axis=1)[:, :width] > 0


def segmentation_mask(segmentation: object, height: int, width: int,
                      points: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A COCO ``segmentation`` (polygon list or RLE dict) as an (height, width) bool mask.

    ``points``: (rows, cols) of the full (height, width) grid to keep (``DecodedImage.
    sample_points``): the (len(rows), len(cols)) mask equal to the full one indexed there,
    without making the full mask for polygons.
    """
    mask = _segmentation_mask(segmentation, height, width,
                              None if points is None else points[0])
    return mask if points is None else mask[:, points[1]]


def _segmentation_mask(segmentation: object, height: int, width: int,
                       rows: np.ndarray | None) -> np.ndarray:
    """The mask at full width, of every row or of ``rows`` only."""
    if isinstance(segmentation, dict):
        if "counts" not in segmentation or "size" not in segmentation:
            raise ValueError("RLE segmentation needs 'counts' and 'size'")
        size = segmentation["size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise ValueError(f"RLE 'size' must be [height, width], got {size!r}")
        if (int(size[0]), int(size[1])) != (height, width):
            raise ValueError(f"RLE size {size[1]}x{size[0]} differs from the image's "
                             f"{width}x{height}")
        mask = decode_rle(segmentation["counts"], height, width)
        return mask if rows is None else mask[rows]
    if isinstance(segmentation, list):
        if segmentation and not isinstance(segmentation[0], (list, tuple)):
            segmentation = [segmentation]  # a single flat polygon
        return rasterize_polygons(segmentation, height, width, rows)
    raise ValueError(f"segmentation must be polygons or an RLE dict, got "
                     f"{type(segmentation).__name__}")
