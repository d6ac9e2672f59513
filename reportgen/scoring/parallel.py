"""A batch's size groups scored on a few threads.

Photos come in many sizes (Clothing Co-Parsing: 13 sizes in a batch of 16), so a batch splits
into many small groups, each too small for the compiled kernels' own parallel loop over images:
scored one after another they keep one core busy. Their heavy steps (the numba kernels,
compiled ``nogil``; numpy's reductions and ``partition``; torch's resize) release the GIL, so
the groups run side by side on threads, each kernel in one thread there (two levels of
parallel loops would only fight for the cores). The results come back in the groups' order and
each group's values do not depend on the thread that made them: the scores are identical.

Threads: ``torch.get_num_threads()`` (what ``OMP_NUM_THREADS`` or ``torch.set_num_threads``
allow the run), at most ``MAX_THREADS``; with one, everything runs in the caller's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import torch

from reportgen.metrics import _kernels

T = TypeVar("T")
R = TypeVar("R")
MAX_THREADS = 8


def group_threads() -> int:
    """Threads for scoring groups: the run's torch thread budget, 1 to ``MAX_THREADS``."""
    return max(1, min(torch.get_num_threads(), MAX_THREADS))


def map_groups(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]``, on ``group_threads()`` threads when there are several items;
    an exception in ``fn`` propagates (the first in item order)."""
    threads = min(group_threads(), len(items))
    if threads <= 1:
        return [fn(x) for x in items]
    return list(_pool(threads).map(fn, items))


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    # One pool per size, kept for the process: a batch is scored in tens of ms, and starting
    # threads per batch would cost a noticeable share of that.
    return ThreadPoolExecutor(threads, thread_name_prefix="reportgen-score",
                              initializer=_kernels.use_one_thread)
