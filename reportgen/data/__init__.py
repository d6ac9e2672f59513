"""Datasets: the ``Sample`` contract and the adapters that produce it."""

from reportgen.data.folder import FolderDataset, load_dataset
from reportgen.data.sample import Sample

__all__ = ["FolderDataset", "Sample", "load_dataset"]
