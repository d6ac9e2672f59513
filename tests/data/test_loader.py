"""DataLoader workers: every format yields the same items, in the same order, with workers
as without, broken files and duplicates included; ``limit`` still holds."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.data.base import TaskDataset
from reportgen.data.loader import iter_batches, iter_items
from reportgen.data.sample import Sample
from reportgen.data.spec import load_dataset


def _describe(item) -> tuple:
    if isinstance(item, Sample):
        return ("sample", item.image_id, item.object_id, item.image.tobytes(),
                None if item.labels is None else item.labels.tobytes())
    return ("excluded", item.image_id, item.reason)


def _broken(builder) -> None:
    """b duplicated, c missing its image: the run must still see a, b (first), exclusions."""
    builder.duplicate("b")
    builder.image_path("c").unlink()


def test_every_format_reads_tasks_that_workers_can_run(builder):
    assert isinstance(load_dataset(builder.spec()), TaskDataset)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_yield_the_same_items_in_the_same_order(builder, workers):
    _broken(builder)
    plain = [_describe(i) for i in load_dataset(builder.spec())]
    loaded = [_describe(i) for i in iter_items(load_dataset(builder.spec()), workers)]
    assert loaded == plain
    assert {d[0] for d in plain} == {"sample", "excluded"}


def test_limit_counts_items_with_workers(builder):
    _broken(builder)
    for limit in (1, 2, 3):
        plain = [_describe(i) for i in load_dataset(builder.spec(), limit=limit)]
        loaded = [_describe(i) for i in iter_items(load_dataset(builder.spec(), limit=limit),
                                                   workers=2)]
        assert loaded == plain and len(loaded) == limit


def test_batches_have_the_batch_size_and_keep_every_item(folder_dataset):
    dataset = load_dataset(folder_dataset)
    batches = list(iter_batches(dataset, 3, workers=2))
    assert [len(b) for b in batches] == [3, 3, 2]
    ids = [i.image_id for b in batches for i in b]
    assert ids == [i.image_id for i in load_dataset(folder_dataset)]


def test_plain_iterables_are_batched_without_workers():
    items = list(range(7))
    assert list(iter_batches(items, 4, workers=2)) == [[0, 1, 2, 3], [4, 5, 6]]


def test_an_empty_dataset_gives_no_batch(folder_dataset):
    dataset = load_dataset(folder_dataset, limit=1)
    dataset._entries = []
    assert list(iter_batches(dataset, 4, workers=2)) == []


def test_worker_results_equal_pixel_for_pixel(folder_dataset):
    a = [s.image for s in iter_items(load_dataset(folder_dataset), workers=2)]
    b = [s.image for s in load_dataset(folder_dataset)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
