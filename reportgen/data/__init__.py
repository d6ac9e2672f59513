"""Datasets: the ``Sample`` contract and the adapters that produce it.

``load_dataset(spec)`` opens any supported format (``reportgen.data.spec``); each adapter is
lazy and yields ``Sample`` or ``Exclusion`` items.
"""

from reportgen.data.base import Dataset
from reportgen.data.folder import FolderDataset
from reportgen.data.sample import Sample
from reportgen.data.spec import FORMATS, load_dataset

__all__ = ["FORMATS", "Dataset", "FolderDataset", "Sample", "load_dataset"]
