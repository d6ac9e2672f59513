"""Streaming: iterating 2,000 images keeps peak memory flat (nothing accumulates)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.data.inspect import inspect_dataset
from reportgen.data.spec import load_dataset

N, SIZE = 2000, 32


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stream")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[4:12, 4:12] = 1
    labels[16:28, 8:30] = 2
    Image.fromarray(labels).save(root / "labels" / "shared.png")
    for i in range(N):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(
            root / "images" / f"{i:05d}.png", compress_level=0)
    (root / "dataset.json").write_text(json.dumps({
        "classes": ["a", "b"], "parts": ["head", "body"],
        "samples": [{"id": f"{i:05d}", "image": f"images/{i:05d}.png",
                     "labels": "labels/shared.png", "class": "ab"[i % 2]} for i in range(N)]}))
    return root


def _peaks(items, checkpoints: set[int]) -> dict[int, int]:
    """Peak traced memory after each checkpoint number of items."""
    peaks = {}
    tracemalloc.start()
    try:
        for count, _ in enumerate(items, start=1):
            if count in checkpoints:
                peaks[count] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peaks


@pytest.mark.slow
def test_iterating_2000_images_keeps_peak_memory_flat(big_folder):
    dataset = load_dataset(big_folder)
    peaks = _peaks(iter(dataset), {100, N})
    assert len(peaks) == 2, peaks
    sample_bytes = SIZE * SIZE * 4
    # 19x more images may cost a few samples' worth of noise, never a per-image share
    assert peaks[N] - peaks[100] < 20 * sample_bytes, peaks


@pytest.mark.slow
def test_inspecting_2000_images_keeps_peak_memory_flat(big_folder):
    tracemalloc.start()
    try:
        inspect_dataset(big_folder, limit=100)
        small = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        result = inspect_dataset(big_folder)
        large = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.samples == N
    assert large - small < 400_000, (small, large)  # the 2,000-entry manifest, not images
