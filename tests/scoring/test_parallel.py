"""Size groups scored side by side: the same rows, in the same order, as one after another; the
compiled kernels' thread count is restored after a small call."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import reportgen.scoring.parallel as parallel
from reportgen.errors import ReportgenError
from reportgen.metrics import _kernels
from reportgen.scoring import PartsRequest, frame, score_many
from tests.scoring.samples import heatmap_batch, random_sample


def _requests() -> list[PartsRequest]:
    """Two explainers over six samples of four sizes (one with a degenerate heatmap)."""
    sizes = [(24, 32), (16, 16), (24, 32), (40, 12), (9, 30), (16, 16)]
    samples = [random_sample(f"s{i}", size, i) for i, size in enumerate(sizes)]
    out = []
    for k, method in enumerate(("gradcam", "random")):
        heat = np.random.default_rng(10 + k).random((6, 8, 8)).astype(np.float32)
        heat[3] = 0  # excluded: degenerate
        out.append(PartsRequest(samples, heatmap_batch(heat), "m", method, ["cat"]))
    return out


def _scores(monkeypatch, threads: int):
    monkeypatch.setattr(parallel, "group_threads", lambda: threads)
    parts = score_many(_requests())
    return frame(parts), [[(e.image_id, e.reason) for e in p.exclusions] for p in parts]


def test_groups_on_threads_give_the_rows_of_one_thread(monkeypatch):
    serial_rows, serial_excluded = _scores(monkeypatch, 1)
    pooled_rows, pooled_excluded = _scores(monkeypatch, 3)
    assert len(serial_rows) > 0 and serial_excluded[0]
    pd.testing.assert_frame_equal(serial_rows, pooled_rows)
    assert serial_excluded == pooled_excluded


def test_map_groups_runs_on_worker_threads_and_keeps_the_order(monkeypatch):
    monkeypatch.setattr(parallel, "group_threads", lambda: 2)
    names = parallel.map_groups(lambda x: (x, threading.current_thread().name), range(6))
    assert [x for x, _ in names] == list(range(6))
    assert all(name.startswith("reportgen-score") for _, name in names)


def test_map_groups_raises_the_first_error_in_item_order(monkeypatch):
    monkeypatch.setattr(parallel, "group_threads", lambda: 2)

    def fail_on_odd(x: int) -> int:
        if x % 2:
            raise ValueError(f"item {x}")
        return x

    with pytest.raises(ValueError, match="item 1"):
        parallel.map_groups(fail_on_odd, range(5))


def test_one_thread_maps_in_the_callers_thread(monkeypatch):
    monkeypatch.setattr(parallel, "group_threads", lambda: 1)
    assert parallel.map_groups(lambda _: threading.current_thread().name, [0, 1]) == [
        threading.current_thread().name] * 2


def test_a_kernel_call_on_fewer_samples_than_threads_restores_the_thread_count():
    numba = pytest.importorskip("numba")
    if _kernels.backend() != "numba":
        pytest.skip("numpy backend")
    before = numba.get_num_threads()
    h, labels = np.ones((1, 64), np.float32), np.ones((1, 64), np.uint8)
    sums, counts, _, _ = _kernels.label_sums(h, labels)
    assert sums[0, 1] == 64 and counts[0, 1] == 64
    assert numba.get_num_threads() == before


def test_an_unusable_kernel_choice_is_the_callers_error_not_a_broken_pool(monkeypatch):
    # REPORTGEN_KERNELS=numba without numba: the one-line error of the kernels' first call,
    # raised in the caller, even from a worker thread that starts in this call.
    monkeypatch.setenv("REPORTGEN_KERNELS", "numba")
    monkeypatch.setattr(_kernels.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(parallel, "group_threads", lambda: 2)
    parallel._pool.cache_clear()
    try:
        with pytest.raises(ReportgenError, match=r"pip install 'reportgen\[fast\]'"):
            score_many(_requests())
    finally:
        for pool in [parallel._pool(2)]:
            pool.shutdown()
        parallel._pool.cache_clear()
