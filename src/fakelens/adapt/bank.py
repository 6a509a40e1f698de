"""The memory bank shipped with a detector: what its base scored on its own validation faces, without the images.

``fakelens adapt`` has none of the base's training data, yet must keep the
base's behaviour on it. The bank holds, for a few thousand validation faces of
the base's training sources (the ``val`` side of its ``split.csv.gz``), their
pooled features (PCA-reduced, float16), base logits (under the shipped TTA
setting), labels and source names. The adapter's head is fitted against the
bank's faces as well as the user's, and the verdict bands are refitted so the
bank's real faces are not accused more than by the base.

A NumPy ``.npz`` read with ``allow_pickle=False``; ``tools/make_memory_bank.py`` writes it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunDirError
from ..utils.atomic import atomic_path

BANK_FILE = "memory_bank.npz"
BANK_VERSION = 1


@dataclass(frozen=True, eq=False)
class MemoryBank:
    coords: np.ndarray  # (n, k) float16: the features in the PCA basis
    components: np.ndarray  # (k, C) float16: the PCA basis (orthonormal rows)
    mean: np.ndarray  # (C,) float32: the features' mean
    base_logits: np.ndarray  # (n,) float32: the base's logits (TTA as shipped)
    labels: np.ndarray  # (n,) int8: 0 REAL, 1 FAKE
    source_index: np.ndarray  # (n,) uint8: index into source_names
    source_names: np.ndarray  # (m,) str
    weights_digest: str  # the base weights the bank was made with
    tta_views: tuple[str, ...]  # the views its logits and features were averaged over

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def sources(self) -> np.ndarray:
        return self.source_names[self.source_index]

    def features(self) -> np.ndarray:
        """The faces' pooled features, reconstructed from the PCA coordinates (float32)."""
        return self.coords.astype(np.float32) @ self.components.astype(np.float32) + self.mean

    def counts(self) -> dict[str, dict[str, int]]:
        """``{source: {"real": n, "fake": n}}``, for the model card."""
        out: dict[str, dict[str, int]] = {}
        for name in self.source_names:
            mask = self.sources == name
            out[str(name)] = {"real": int((self.labels[mask] == 0).sum()), "fake": int((self.labels[mask] == 1).sum())}
        return out

    @classmethod
    def build(cls, features: np.ndarray, base_logits: np.ndarray, labels: np.ndarray, sources, weights_digest: str,
              tta_views: tuple[str, ...], components: int = 256) -> "MemoryBank":
        """PCA (by SVD) of ``features`` to ``components`` dimensions; everything else kept as given."""
        features = np.asarray(features, dtype=np.float64)
        mean = features.mean(axis=0)
        _, _, vt = np.linalg.svd(features - mean, full_matrices=False)
        basis = vt[: min(components, vt.shape[0])]
        names, index = np.unique(np.asarray(sources, dtype=str), return_inverse=True)
        return cls(((features - mean) @ basis.T).astype(np.float16), basis.astype(np.float16), mean.astype(np.float32),
                   np.asarray(base_logits, np.float32), np.asarray(labels, np.int8), index.astype(np.uint8), names,
                   weights_digest, tuple(tta_views))

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, version=np.int32(BANK_VERSION), coords=self.coords, components=self.components, mean=self.mean,
                                    base_logits=self.base_logits, labels=self.labels, source_index=self.source_index,
                                    source_names=self.source_names.astype("U64"), weights_digest=np.str_(self.weights_digest),
                                    tta_views=np.asarray(self.tta_views, dtype="U64"))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MemoryBank":
        """Read and check a bank (no pickle: object arrays are refused)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError) as exc:
            raise RunDirError(f"{path}: not a readable memory bank ({exc})") from None
        try:
            bank = cls(data["coords"], data["components"], data["mean"], data["base_logits"], data["labels"], data["source_index"],
                       data["source_names"], str(data["weights_digest"]), tuple(str(v) for v in data["tta_views"]))
        except KeyError as exc:
            raise RunDirError(f"{path}: the memory bank lacks {exc}") from None
        n, k = bank.coords.shape
        if (bank.components.shape[0] != k or bank.mean.shape != (bank.components.shape[1],) or bank.base_logits.shape != (n,)
                or bank.labels.shape != (n,) or bank.source_index.shape != (n,)
                or int(bank.source_index.max(initial=0)) >= len(bank.source_names)):
            raise RunDirError(f"{path}: the memory bank's arrays do not fit together")
        return bank


def bank_for(folder: str | os.PathLike, weights_digest: str) -> MemoryBank | None:
    """The bank beside a detector's weights, if there is one and it was made from these weights."""
    path = Path(folder) / BANK_FILE
    if not path.is_file():
        return None
    bank = MemoryBank.load(path)
    return bank if bank.weights_digest == weights_digest else None
