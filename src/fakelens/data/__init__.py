"""Data: datasets on disk -> samples -> splits -> the one preprocessing path.

Torch-free on import: the streaming datasets (``fakelens.data.dataset``) and the
training transforms (``fakelens.data.transforms``) need PyTorch and are imported
from their modules by training code.
"""
from .imageio import ImageInput, load_image, open_image
from .preprocess import PreprocessConfig, batched
from .sources import FAKE, LABEL_NAMES, REAL, Sample, load_samples
from .split import read_split_csv, sample_per_class, split_by_group, write_split_csv

__all__ = [
    "FAKE", "REAL", "LABEL_NAMES", "Sample", "load_samples", "ImageInput", "load_image", "open_image", "read_split_csv",
    "sample_per_class", "split_by_group", "write_split_csv", "PreprocessConfig", "batched",
]
