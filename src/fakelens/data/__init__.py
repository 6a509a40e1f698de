"""Data: datasets on disk -> samples -> splits -> streaming tensors."""
from .dataset import FaceCropDataset, make_loader
from .imageio import ImageInput, load_image, open_image
from .sources import FAKE, LABEL_NAMES, REAL, Sample, load_samples
from .split import read_split_csv, sample_per_class, split_by_group, write_split_csv
from .transforms import PreprocessConfig, eval_transform, images_to_batch, train_transform

__all__ = [
    "FAKE", "REAL", "LABEL_NAMES", "Sample", "load_samples", "FaceCropDataset", "make_loader",
    "ImageInput", "load_image", "open_image", "read_split_csv", "sample_per_class", "split_by_group",
    "write_split_csv", "PreprocessConfig", "eval_transform", "images_to_batch", "train_transform",
]
