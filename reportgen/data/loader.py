"""Batches of dataset items, read by DataLoader worker processes while the model runs.

The adapters split reading into picklable tasks (``TaskDataset``); ``workers`` processes run
them ahead of the consumer (``prefetch`` tasks each) and the results come back in task order,
so a run with workers yields exactly the items, in the order, of a run without.
Memory stays bounded: at most ``workers * prefetch`` tasks are in flight. Workers end with
the process that started them, even when it is killed (``kill -9``) mid-read.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Iterable, Iterator

import torch.utils.data

from reportgen.data.base import Item, TaskDataset
from reportgen.run_dir import process_alive


class _Tasks(torch.utils.data.Dataset):
    """Map-style view for the DataLoader: index i -> (task i, the items it reads)."""

    def __init__(self, dataset: TaskDataset):
        self.dataset = dataset
        self.tasks = dataset.tasks()

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int):
        task = self.tasks[index]
        return task, self.dataset.run_task(task)


def _identity(x):
    return x


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int, worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: end this worker when ``parent_pid`` dies.

    torch's own check runs only between tasks, so a worker in a long read (a huge image)
    outlived a killed run by minutes. On Linux the kernel sends SIGKILL to the worker when its
    parent exits, however it exits; the worker holds nothing that needs cleaning up. If the
    parent already died before that was set up, the worker exits now. Elsewhere the torch
    check between tasks remains. (Linux signals the death of the *thread* that started the
    workers: iterate in a thread that lives as long as the iteration, as the pipeline does.)
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid and not process_alive(parent_pid):
        os._exit(1)


def iter_items(dataset: Iterable[Item], workers: int = 0, prefetch: int = 4
               ) -> Iterator[Item]:
    """The dataset's items in order; read by ``workers`` processes when the dataset has read
    tasks (every built-in format does) and ``workers > 0``, else in this process."""
    if workers <= 0 or not isinstance(dataset, TaskDataset):
        yield from dataset
        return
    tasks = _Tasks(dataset)
    if len(tasks) == 0:
        return
    loader = torch.utils.data.DataLoader(
        tasks, batch_size=None, shuffle=False, num_workers=min(workers, len(tasks)),
        collate_fn=_identity, prefetch_factor=prefetch, persistent_workers=False,
        worker_init_fn=functools.partial(die_with_parent, os.getpid()))
    keep = dataset.item_filter()
    limit = dataset.limit
    count = 0
    for task, items in loader:
        for item in keep(task, items):
            if limit is not None and count >= limit:
                return
            yield item
            count += 1


def iter_batches(dataset: Iterable[Item], batch_size: int, workers: int = 0
                 ) -> Iterator[list[Item]]:
    """Consecutive lists of ``batch_size`` items (the last may be shorter)."""
    batch: list[Item] = []
    for item in iter_items(dataset, workers):
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
