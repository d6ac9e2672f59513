"""Per-label heat sums over uint8 label maps: a fused compiled kernel, with a numpy fallback.

Both backends compute, for each sample i of ``h`` (N, P) float32 and ``labels`` (N, P) uint8:

* ``sums[i, b]``   = sum over pixels with label b of ``max(h, 0)``, accumulated in float64;
* ``counts[i, b]`` = number of pixels with label b (b = 0..255, all 256 bins);
* ``peak[i]``      = max of ``max(h, 0)`` over all pixels (void pixels included);
* ``nonfinite[i]`` = True when a value of ``h[i]`` is NaN or +-inf (then sums and peak of that
  row mean nothing; callers treat the sample as degenerate).

The compiled backend (numba, when importable) does all four in one pass over the data, one
sample per thread, 8 pixels at a time: a block of 8 pixels with one label (most blocks of a real
label map) costs one accumulator update, a mixed block one per pixel; 8 interleaved accumulator
sets keep neighbouring updates of one label from waiting on each other. The numpy backend needs
two reductions (max, min) and one ``bincount`` pair per sample. ``REPORTGEN_KERNELS=numpy``
forces the numpy backend.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from functools import cache

import numpy as np

from reportgen.errors import ReportgenError

BINS = 256


def _numba_kernel(name: str):
    """The compiled kernel ``name``, or None when numba is missing, fails, or is disabled by
    ``REPORTGEN_KERNELS=numpy``; ``REPORTGEN_KERNELS=numba`` without numba is an error."""
    choice = os.environ.get("REPORTGEN_KERNELS", "").lower()
    if choice == "numpy":
        return None
    if choice == "numba" and importlib.util.find_spec("numba") is None:
        raise ReportgenError("REPORTGEN_KERNELS=numba needs numba: pip install 'reportgen[fast]'")
    return _compiled_kernel(name)


@cache
def _compiled_kernel(name: str):
    """Compile one kernel (or load it from numba's on-disk cache) on first use, and run it once
    on a tiny input so that a numba failure is caught here, not in the middle of a run."""
    try:
        from reportgen.metrics import _numba_kernels
    except ImportError:
        return None
    try:
        kernel = getattr(_numba_kernels, name)
        _WARM_UP[name](kernel)
    except Exception as error:  # any numba failure: fall back to numpy, and say why
        warnings.warn(f"numba kernel {name} unavailable, using the numpy fallback: {error}",
                      RuntimeWarning, stacklevel=2)
        return None
    return kernel


_TINY_H, _TINY_LABELS = np.zeros((1, 9), np.float32), np.zeros((1, 9), np.uint8)
_WARM_UP = {
    "label_sums": lambda k: k(_TINY_H, _TINY_LABELS, np.zeros((1, 256)),
                              np.zeros((1, 256), np.int64), np.zeros(1, np.float32),
                              np.zeros(1, np.bool_)),
    "label_counts_at_least": lambda k: k(_TINY_H, _TINY_LABELS, np.zeros(1),
                                         np.zeros((1, 256), np.int64)),
    "mask_sums": lambda k: k(_TINY_H, np.zeros((1, 1, 9), np.uint8), np.zeros((1, 1)),
                             np.zeros((1, 1), np.int64)),
    "object_counts": lambda k: k(_TINY_H, _TINY_LABELS, _TINY_LABELS, 1, np.zeros(1),
                                 np.zeros(1, np.float32), np.zeros(1, np.float32),
                                 np.zeros((1, 7), np.int64), np.zeros((1, 2), np.int64)),
}


def _launch(kernel, n: int, *args) -> None:
    """Run ``kernel`` (a parallel loop over ``n`` samples) on at most ``n`` threads: a thread
    with no sample would only be woken and waited for (tens of ms each on a loaded machine)."""
    import numba

    threads = numba.get_num_threads()
    if n >= threads:
        kernel(*args)
        return
    numba.set_num_threads(max(1, n))  # per calling thread
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(threads)


def use_one_thread() -> None:
    """Run this thread's kernels in one thread: for worker threads that already run side by
    side (``reportgen.scoring.parallel``). No-op with the numpy backend, and when the backend
    cannot be chosen: the kernels' first call raises that error, where its caller sees it (an
    error here would only break the thread pool)."""
    try:
        kernel = _numba_kernel("label_sums")
    except ReportgenError:
        return
    if kernel is not None:
        import numba

        numba.set_num_threads(1)


def backend() -> str:
    """``"numba"`` or ``"numpy"``: the backend of ``label_sums`` in this process."""
    return "numba" if _numba_kernel("label_sums") is not None else "numpy"


def label_sums(h: np.ndarray, labels: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(sums (N, 256) float64, counts (N, 256) int64, peak (N,) float64, nonfinite (N,) bool)``.

    ``h`` (N, P) float32 and ``labels`` (N, P) uint8, both C-contiguous (see module docstring).
    """
    _check(h, labels)
    n = h.shape[0]
    sums = np.zeros((n, BINS), np.float64)
    counts = np.zeros((n, BINS), np.int64)
    peak = np.zeros(n, np.float32)
    nonfinite = np.zeros(n, np.bool_)
    kernel = _numba_kernel("label_sums")
    if kernel is not None and n:
        _launch(kernel, n, h, labels, sums, counts, peak, nonfinite)
        return sums, counts, peak.astype(np.float64), nonfinite
    if n == 0 or h.shape[1] == 0:
        return sums, counts, peak.astype(np.float64), nonfinite
    high, low = h.max(axis=1), h.min(axis=1)  # both propagate NaN
    nonfinite = ~(np.isfinite(high) & np.isfinite(low))
    if (low < 0).any() or nonfinite.any():
        h = np.where(h > 0, h, np.float32(0))  # NaN -> 0 as well
    for i in range(n):  # per sample: bincount casts its input to intp, in cache when small
        sums[i] = np.bincount(labels[i], weights=h[i], minlength=BINS)
        counts[i] = np.bincount(labels[i], minlength=BINS)
    return sums, counts, np.maximum(high, 0).astype(np.float64), nonfinite


def label_counts_at_least(h: np.ndarray, labels: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """(N, 256) int64: per label, the pixels with ``h >= cut[i]`` (compared in float64).

    ``cut`` (N,) float64; NaN or inf in ``cut`` or ``h`` counts nothing.
    """
    _check(h, labels)
    n = h.shape[0]
    counts = np.zeros((n, BINS), np.int64)
    cut = np.ascontiguousarray(cut, dtype=np.float64)
    kernel = _numba_kernel("label_counts_at_least")
    if kernel is not None and n:
        _launch(kernel, n, h, labels, cut, counts)
        return counts
    for i in range(n):
        selected = h[i].astype(np.float64) >= cut[i]
        counts[i] = np.bincount(labels[i][selected], minlength=BINS)
    return counts


def mask_sums(h: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sums (N, K) float64, counts (N, K) int64)`` of ``h`` (N, P) float32 >= 0 over the
    boolean ``masks`` (N, K, P); masks may overlap."""
    n, k = masks.shape[:2]
    if h.shape[0] != n or h.shape[1] != masks.shape[2]:
        raise ValueError(f"h {h.shape} and masks {masks.shape} disagree")
    sums = np.zeros((n, k), np.float64)
    counts = np.zeros((n, k), np.int64)
    kernel = _numba_kernel("mask_sums")
    if kernel is not None and n and k:
        _launch(kernel, n, np.ascontiguousarray(h), np.ascontiguousarray(masks).view(np.uint8),
                sums, counts)
        return sums, counts
    if n and k:
        # einsum buffers the bool -> float64 cast in small chunks: no (N, K, P) temporary.
        sums[:] = np.einsum("nkp,np->nk", masks, h.astype(np.float64, copy=False))
        counts[:] = np.count_nonzero(masks, axis=2)
    return sums, counts


OBJECT_COUNTS = ("hot", "hot_in", "above", "above_in", "tied", "tied_in", "peaks")


def object_counts(heat: np.ndarray, obj: np.ndarray, valid: np.ndarray | None, cut: np.ndarray,
                  kth: np.ndarray, top: np.ndarray, keep: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The localisation metrics' pixel counts of N heatmaps in one pass.

    ``heat`` (N, P) float32 (void pixels 0), ``obj`` (N, P) bool, ``valid`` (N, P) bool or
    None (no void), ``cut`` (N,) float64, ``kth`` and ``top`` (N,) float32. Returns ``counts``
    (N, 7) int64, columns ``OBJECT_COUNTS``: pixels with ``heat >= cut`` (compared in float64)
    and those of them in ``obj``; with the rank heat ``r`` (``heat``, -1 on void pixels):
    pixels with ``r > kth``, ``r == kth``, each also within ``obj``; pixels with ``heat ==
    top``. And ``ties`` (N, keep) int64: the first ``keep`` flat indices with ``heat == top``
    (-1 beyond the count).
    """
    n, p = heat.shape
    counts = np.zeros((n, len(OBJECT_COUNTS)), np.int64)
    ties = np.full((n, keep), -1, np.int64)
    kernel = _numba_kernel("object_counts")
    cut = np.ascontiguousarray(cut, np.float64)
    kth, top = (np.ascontiguousarray(x, np.float32) for x in (kth, top))
    if kernel is not None and n and p:
        mask = np.zeros((1, p), np.uint8) if valid is None else np.ascontiguousarray(valid)
        _launch(kernel, n, np.ascontiguousarray(heat, np.float32),
                np.ascontiguousarray(obj).view(np.uint8),
               mask.view(np.uint8), int(valid is not None), cut, kth, top, counts, ties)
        return counts, ties
    hot = heat >= cut[:, None]
    rank = heat if valid is None else np.where(valid, heat, np.float32(-1))
    above, tied = rank > kth[:, None], rank == kth[:, None]
    for c, mask in enumerate((hot, above, tied)):
        counts[:, 2 * c] = np.count_nonzero(mask, axis=1)
        counts[:, 2 * c + 1] = np.count_nonzero(mask & obj, axis=1)
    for i in range(n):
        where = np.flatnonzero(heat[i] == top[i])
        counts[i, 6] = where.size
        ties[i, :min(keep, where.size)] = where[:keep]
    return counts, ties


def _check(h: np.ndarray, labels: np.ndarray) -> None:
    if h.dtype != np.float32 or labels.dtype != np.uint8 or h.ndim != 2 \
            or h.shape != labels.shape or not h.flags.c_contiguous \
            or not labels.flags.c_contiguous:
        raise ValueError(f"expected C-contiguous (N, P) float32 and uint8 arrays, got "
                         f"{h.dtype}{h.shape} and {labels.dtype}{labels.shape}")
