"""The numba kernels of ``_kernels`` (imported only when numba is installed and first needed).

Module-level definitions, so that numba's on-disk cache (``cache=True``) loads them quickly in
later processes. Semantics: see ``reportgen.metrics._kernels``.
"""

import numba
import numpy as np
from numba import prange

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


@jit
def object_counts(heat, obj, valid, has_void, cut, kth, top, counts, ties):  # pragma: no cover
    # has_void: 1 when valid is (N, P), 0 when it is one (1, P) row (never read then).
    n, p = heat.shape
    keep = ties.shape[1]
    for i in prange(n):
        hi = heat[i]
        oi = obj[i]
        vi = valid[i * has_void]
        c = cut[i]
        k = kth[i]
        t = top[i]
        hot = 0
        hot_in = 0
        above = 0
        above_in = 0
        tied = 0
        tied_in = 0
        peaks = 0
        for j in range(p):
            v = hi[j]
            o = oi[j] != 0
            h = np.float64(v) >= c
            hot += h
            hot_in += h & o
            r = v if (has_void == 0 or vi[j] != 0) else np.float32(-1)
            a = r > k
            e = r == k
            above += a
            above_in += a & o
            tied += e
            tied_in += e & o
            if v == t:
                if peaks < keep:
                    ties[i, peaks] = j
                peaks += 1
        counts[i, 0] = hot
        counts[i, 1] = hot_in
        counts[i, 2] = above
        counts[i, 3] = above_in
        counts[i, 4] = tied
        counts[i, 5] = tied_in
        counts[i, 6] = peaks
