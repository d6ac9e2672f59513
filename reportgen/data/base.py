"""What every dataset adapter offers the pipeline, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from reportgen.data.sample import Sample
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

Item = Sample | Exclusion


@runtime_checkable
class Dataset(Protocol):
    """A lazily read dataset.

    Opening one parses only its index (manifest, annotation JSON, file listing); iterating
    reads one image at a time and yields ``Sample`` or, for a bad sample, ``Exclusion``.
    ``len()`` is the number of index entries: samples, or images for formats that yield one
    sample per object (PASCAL-Part), where it is a lower bound on the items.
    """

    format: str
    name: str
    root: Path
    manifest_path: Path
    class_names: tuple[str, ...]
    part_names: tuple[str, ...]
    #: class -> the parts it can have; classes not listed may have any part.
    class_parts: dict[str, tuple[str, ...]]

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Item]: ...


class TaskDataset:
    """Iteration split into independent, picklable read tasks (one index entry each), so that
    a DataLoader's worker processes can run them (``reportgen.data.loader``).

    ``tasks()`` is the ordered list of tasks; ``run_task(task)`` reads one entry into its
    items (a format with one sample per object yields several); ``item_filter()`` returns a
    stateful function that the consumer applies in task order in its own process, for checks
    that need what earlier tasks read (duplicate ids found only inside the files).
    """

    limit: int | None = None

    def tasks(self) -> list:
        raise NotImplementedError

    def run_task(self, task) -> list[Item]:
        raise NotImplementedError

    def item_filter(self) -> Callable[[object, list[Item]], list[Item]]:
        return _keep_all

    def __iter__(self) -> Iterator[Item]:
        keep = self.item_filter()
        return take((item for task in self.tasks() for item in keep(task, self.run_task(task))),
                    self.limit)


def _keep_all(task: object, items: list[Item]) -> list[Item]:
    return items


def take(items: Iterable[Item], limit: int | None) -> Iterator[Item]:
    """The first ``limit`` items (all when None), without reading further."""
    if limit is None:
        yield from items
        return
    if limit <= 0:
        return
    for count, item in enumerate(items, start=1):
        yield item
        if count >= limit:
            return


def repeated_indices(keys: list[Hashable]) -> set[int]:
    """Indices of the keys that already occurred earlier in ``keys`` (duplicates after the
    first), so iteration needs no growing set of seen ids."""
    seen: set[Hashable] = set()
    repeated = set()
    for index, key in enumerate(keys):
        if key in seen:
            repeated.add(index)
        seen.add(key)
    return repeated


def exclusion(image_id: str, path: Path | str, reason: str, source: Path | str = "",
              object_id: int | None = None) -> Exclusion:
    """A data-stage exclusion whose one-line reason starts with the file it concerns;
    ``object_id`` when only that object of the image is left out (PASCAL-Part)."""
    who = f"object {object_id}: " if object_id is not None else ""
    text = " ".join(f"{path}: {who}{reason}".split())
    return Exclusion(image_id, "data", text, str(source or path), object_id=object_id)


def check_root(root: Path) -> Path:
    """The dataset root, or a one-line DatasetError when it is not a folder."""
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder")
    return root
