"""Training data: datasets on disk -> samples -> splits -> augmented batches (and dataset preparation: crops, videos).

Torch-free on import: the streaming datasets (``fakelens.data.dataset``) and the
training transforms (``fakelens.data.transforms``) need PyTorch and are imported
from their modules by training code.
"""

from ..labels import FAKE, LABEL_NAMES, REAL
from ..sources import Sample, load_samples
from .split import read_split_csv, sample_per_class, split_by_group, write_split_csv

__all__ = [
    "FAKE",
    "REAL",
    "LABEL_NAMES",
    "Sample",
    "load_samples",
    "read_split_csv",
    "sample_per_class",
    "split_by_group",
    "write_split_csv",
]
