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

import os
from functools import cache

import numpy as np

BINS = 256


def _numba_kernels():
    """The compiled kernels, or None when numba is missing or disabled by the environment."""
    if os.environ.get("REPORTGEN_KERNELS", "").lower() == "numpy":
        return None
    return _compiled()


@cache
def _compiled():
    try:
        import numba
    except ImportError:
        return None
    return _compile(numba)


def backend() -> str:
    """``"numba"`` or ``"numpy"``: the backend the kernels below use in this process."""
    return "numba" if _numba_kernels() is not None else "numpy"


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
    kernels = _numba_kernels()
    if kernels is not None and n:
        kernels.label_sums(h, labels, sums, counts, peak, nonfinite)
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
    kernels = _numba_kernels()
    if kernels is not None and n:
        kernels.label_counts_at_least(h, labels, cut, counts)
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
    kernels = _numba_kernels()
    if kernels is not None and n and k:
        kernels.mask_sums(np.ascontiguousarray(h), np.ascontiguousarray(masks).view(np.uint8),
                          sums, counts)
        return sums, counts
    if n and k:
        # einsum buffers the bool -> float64 cast in small chunks: no (N, K, P) temporary.
        sums[:] = np.einsum("nkp,np->nk", masks, h.astype(np.float64, copy=False))
        counts[:] = np.count_nonzero(masks, axis=2)
    return sums, counts


def _check(h: np.ndarray, labels: np.ndarray) -> None:
    if h.dtype != np.float32 or labels.dtype != np.uint8 or h.ndim != 2 \
            or h.shape != labels.shape or not h.flags.c_contiguous \
            or not labels.flags.c_contiguous:
        raise ValueError(f"expected C-contiguous (N, P) float32 and uint8 arrays, got "
                         f"{h.dtype}{h.shape} and {labels.dtype}{labels.shape}")


def _compile(numba):
    """Define and return the numba kernels (compiled lazily, cached on disk)."""
    from types import SimpleNamespace

    prange = numba.prange
    jit = numba.njit(parallel=True, cache=True, boundscheck=False, nogil=True)
    zero = np.float32(0)

    @jit
    def label_sums(h, labels, sums, counts, peak, nonfinite):  # pragma: no cover (compiled)
        n, p = h.shape
        tail = p - p % 8
        for i in prange(n):
            hi = h[i]
            li = labels[i]
            # Eight accumulator sets (bins b, 256 + b, ...): neighbouring pixels of one label
            # update different memory cells, so the read-modify-writes do not wait on each
            # other (real label maps have long runs of one label). 24 KiB: stays in L1.
            acc = np.zeros(8 * 256, np.float64)
            cnt = np.zeros(8 * 256, np.int32)
            top = zero
            low = zero
            for j in range(0, tail, 8):
                v0, v1, v2, v3 = hi[j], hi[j + 1], hi[j + 2], hi[j + 3]
                v4, v5, v6, v7 = hi[j + 4], hi[j + 5], hi[j + 6], hi[j + 7]
                low = min(low, min(min(min(v0, v1), min(v2, v3)), min(min(v4, v5), min(v6, v7))))
                # "zero if v < 0" keeps NaN and +inf: they reach the sums, which reveal them.
                v0 = zero if v0 < 0 else v0
                v1 = zero if v1 < 0 else v1
                v2 = zero if v2 < 0 else v2
                v3 = zero if v3 < 0 else v3
                v4 = zero if v4 < 0 else v4
                v5 = zero if v5 < 0 else v5
                v6 = zero if v6 < 0 else v6
                v7 = zero if v7 < 0 else v7
                top = max(top, max(max(max(v0, v1), max(v2, v3)), max(max(v4, v5), max(v6, v7))))
                l0, l1, l2, l3 = li[j], li[j + 1], li[j + 2], li[j + 3]
                l4, l5, l6, l7 = li[j + 4], li[j + 5], li[j + 6], li[j + 7]
                if ((l0 == l1) & (l2 == l3) & (l4 == l5) & (l6 == l7)
                        & (l0 == l2) & (l4 == l6) & (l0 == l4)):
                    # One label on all 8 pixels (most blocks of a real label map): one
                    # update instead of 8; consecutive blocks rotate through the 8 sets.
                    b = l0 + ((j >> 3) & 7) * 256
                    acc[b] += ((np.float64(v0) + np.float64(v1))
                               + (np.float64(v2) + np.float64(v3))) \
                        + ((np.float64(v4) + np.float64(v5)) + (np.float64(v6) + np.float64(v7)))
                    cnt[b] += 8
                    continue
                b0, b1, b2, b3 = l0, l1 + 256, l2 + 512, l3 + 768
                b4, b5, b6, b7 = l4 + 1024, l5 + 1280, l6 + 1536, l7 + 1792
                acc[b0] += v0
                acc[b1] += v1
                acc[b2] += v2
                acc[b3] += v3
                acc[b4] += v4
                acc[b5] += v5
                acc[b6] += v6
                acc[b7] += v7
                cnt[b0] += 1
                cnt[b1] += 1
                cnt[b2] += 1
                cnt[b3] += 1
                cnt[b4] += 1
                cnt[b5] += 1
                cnt[b6] += 1
                cnt[b7] += 1
            for j in range(tail, p):
                v = hi[j]
                low = min(low, v)
                v = zero if v < 0 else v
                top = max(top, v)
                acc[li[j]] += v
                cnt[li[j]] += 1
            everything = 0.0
            for b in range(256):
                total = 0.0
                count = 0
                for u in range(8):
                    total += acc[b + 256 * u]
                    count += np.int64(cnt[b + 256 * u])
                sums[i, b] = total
                counts[i, b] = count
                everything += total
            peak[i] = top
            # NaN or +inf make the float64 total non-finite (finite float32 values cannot
            # overflow it); -inf is clipped to 0, so the minimum catches it.
            nonfinite[i] = ((everything - everything) != 0) | (low == -np.inf)

    @jit
    def label_counts_at_least(h, labels, cut, counts):  # pragma: no cover (compiled)
        n, p = h.shape
        for i in prange(n):
            hi = h[i]
            li = labels[i]
            c = cut[i]
            cnt = np.zeros(256, np.int64)
            for j in range(p):
                cnt[li[j]] += np.float64(hi[j]) >= c
            for b in range(256):
                counts[i, b] = cnt[b]

    # Reassociating float64 adds lets LLVM vectorise this reduction (still float64 sums).
    @numba.njit(parallel=True, cache=True, boundscheck=False, nogil=True,
                fastmath={"reassoc", "nsz"})
    def mask_sums(h, masks, sums, counts):  # pragma: no cover (compiled)
        n, k, p = masks.shape
        for i in prange(n):
            hi = h[i]
            for r in range(k):
                m = masks[i, r]
                s = 0.0
                c = 0
                for j in range(p):
                    s += np.float64(hi[j]) if m[j] else 0.0
                    c += m[j]
                sums[i, r] = s
                counts[i, r] = c

    return SimpleNamespace(label_sums=label_sums, label_counts_at_least=label_counts_at_least,
                           mask_sums=mask_sums)
