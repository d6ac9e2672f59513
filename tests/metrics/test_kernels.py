import numpy as np
import pytest

from reportgen.metrics import _kernels


def _inputs(n=6, p=1001, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, p), dtype=np.float32)
    labels = rng.integers(0, 5, size=(n, p), dtype=np.uint8)
    labels[:, :13] = 255
    labels[1, 500:] = 3  # long runs of one label, as in real masks
    return h, labels


def test_label_sums_match_a_direct_computation(kernel_backend):
    h, labels = _inputs()
    sums, counts, peak, nonfinite = _kernels.label_sums(h, labels)
    clipped = np.maximum(h, 0).astype(np.float64)
    for i in range(len(h)):
        for b in (0, 3, 4, 255, 7):
            np.testing.assert_allclose(sums[i, b], clipped[i][labels[i] == b].sum(), rtol=1e-12)
            assert counts[i, b] == (labels[i] == b).sum()
    np.testing.assert_array_equal(peak, clipped.max(axis=1))
    assert not nonfinite.any() and sums.dtype == np.float64 and counts.dtype == np.int64


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 2, 1000])  # in the unrolled body and in the tail
def test_label_sums_flag_every_non_finite_value(kernel_backend, bad, where):
    h, labels = _inputs(n=3)
    h[1, where] = bad
    assert _kernels.label_sums(h, labels)[3].tolist() == [False, True, False]


def test_all_negative_rows_have_zero_peak_and_sums(kernel_backend):
    h, labels = _inputs(n=2)
    h[0] = -np.abs(h[0]) - 1
    sums, _, peak, nonfinite = _kernels.label_sums(h, labels)
    assert peak[0] == 0 and (sums[0] == 0).all() and not nonfinite.any()


def test_counts_at_least_compare_in_float64(kernel_backend):
    h, labels = _inputs()
    cut = np.array([0.5, 1.0, np.inf, 0.0, -1.0, 1e-3])
    counts = _kernels.label_counts_at_least(h, labels, cut)
    for i in range(len(h)):
        np.testing.assert_array_equal(
            counts[i], np.bincount(labels[i][h[i].astype(np.float64) >= cut[i]], minlength=256))


def test_mask_sums_handle_overlapping_masks(kernel_backend):
    rng = np.random.default_rng(3)
    h = rng.random((4, 300), dtype=np.float32)
    masks = rng.random((4, 3, 300)) < 0.4
    masks[:, 2] = masks[:, 0] | masks[:, 1]  # overlaps the other two
    sums, counts = _kernels.mask_sums(h, masks)
    np.testing.assert_allclose(sums, np.einsum("nkp,np->nk", masks, h.astype(np.float64)),
                               rtol=1e-12)
    np.testing.assert_array_equal(counts, masks.sum(axis=2))


def test_both_backends_agree():
    pytest.importorskip("numba")
    h, labels = _inputs(n=9, p=4099, seed=5)
    results = {}
    for name in ("numba", "numpy"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REPORTGEN_KERNELS", name)
            assert _kernels.backend() == name
            results[name] = _kernels.label_sums(h, labels)
    (s1, c1, p1, f1), (s2, c2, p2, f2) = results["numba"], results["numpy"]
    np.testing.assert_allclose(s1, s2, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(f1, f2)


def test_kernel_inputs_are_checked():
    h, labels = _inputs()
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.label_sums(h.astype(np.float64), labels)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.label_sums(h[:, ::2], labels[:, ::2])


def test_a_failing_compiled_kernel_falls_back_to_numpy_with_a_warning(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("REPORTGEN_KERNELS", raising=False)

    def broken(kernel):
        raise RuntimeError("no LLVM today")

    monkeypatch.setitem(_kernels._WARM_UP, "label_sums", broken)
    _kernels._compiled_kernel.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no LLVM today"):
            assert _kernels.backend() == "numpy"
        h, labels = _inputs(n=2)
        assert _kernels.label_sums(h, labels)[1].sum() == h.size
    finally:
        monkeypatch.undo()
        _kernels._compiled_kernel.cache_clear()
    assert _kernels.backend() == "numba"


@pytest.mark.parametrize("with_void", [False, True])
def test_object_counts_match_a_direct_computation(kernel_backend, with_void):
    rng = np.random.default_rng(4)
    n, p = 5, 997
    heat = np.round(rng.random((n, p), dtype=np.float32) * 8) / 8  # many ties
    obj = rng.random((n, p)) < 0.3
    valid = rng.random((n, p)) < 0.9 if with_void else None
    if valid is not None:
        heat, obj = heat * valid, obj & valid
    cut = np.array([0.5, 0.25, np.inf, 0.0, 1.0])
    kth = np.array([0.5, 0.0, 1.0, 0.375, -1.0], np.float32)
    top = heat.max(axis=1)
    counts, ties = _kernels.object_counts(heat, obj, valid, cut, kth, top, keep=40)
    rank = heat if valid is None else np.where(valid, heat, np.float32(-1))
    for i in range(n):
        hot, above, tied = heat[i] >= cut[i], rank[i] > kth[i], rank[i] == kth[i]
        want = [hot.sum(), (hot & obj[i]).sum(), above.sum(), (above & obj[i]).sum(),
                tied.sum(), (tied & obj[i]).sum(), (heat[i] == top[i]).sum()]
        assert counts[i].tolist() == want
        peaks = np.flatnonzero(heat[i] == top[i])[:40]
        assert ties[i, :peaks.size].tolist() == peaks.tolist()
        assert (ties[i, peaks.size:] == -1).all()

