"""Datasets: the ``Sample`` contract and the adapters that produce it.

``load_dataset(spec)`` opens any registered format (``reportgen.data.spec``); each adapter is
lazy and yields ``Sample`` or ``Exclusion`` items. Importing this package imports every format
module below, in detection order, so the format registry (``dataset_formats()``) is complete
whichever ``reportgen.data`` module a caller imports first.
"""

# Format modules: each registers itself with @register_format. The order is detection order.
from reportgen.data import folder as _folder  # noqa: I001 (order matters: see above)
from reportgen.data import partimagenet as _partimagenet
from reportgen.data import pascal_part as _pascal_part
from reportgen.data import mat_labelmap as _mat_labelmap
from reportgen.data.base import Dataset
from reportgen.data.folder import FolderDataset
from reportgen.data.policy import ReadPolicy
from reportgen.data.registry import dataset_formats
from reportgen.data.sample import Sample
from reportgen.data.spec import check_options, format_options, load_dataset

__all__ = ["Dataset", "FolderDataset", "ReadPolicy", "Sample", "check_options",
           "dataset_formats", "format_options", "load_dataset"]
del _folder, _partimagenet, _pascal_part, _mat_labelmap
