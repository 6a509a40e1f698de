"""Does a difference of one grey level move the logit? Validation faces with invisible changes, per detector and member.

    python benchmarks/level_sensitivity.py [--run RUN ...] [--per-source 100]

Each detector (the bundled one first, then every ``--run``) scores the validation faces of the bundled split (per
training source, up to ``--per-source`` of each class, the same faces for every detector) at its own input size, then
the same faces with one change no one would see:

* ``one-level noise``: each value moved by -1, 0 or +1 grey level (equally likely, seeded), after the resize;
* ``pil shrink`` (a fusion's smaller members only): the member's input made by PIL's 8-bit resize instead of the
  fusion's own shrink, or the float product instead of PIL's (``fakelens fuse --shrink``): what the fusion gives a
  member against what its training gave it.

For the detector and, for a fusion, each member: the change of its raw logit (mean, sd, 95th percentile and largest
absolute change) and ROC-AUC before and after. A model that reads one-level differences reads resampling, rounding and
sensor noise, which differ between any two sources of pictures (docs/face-science.md, session 40). Eager PyTorch, so
a fusion's members can be read one by one: about a minute per 100 faces for the shipped fusion on 2 cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, validation_study  # noqa: E402

BATCH = 32


def one_level_noise(faces: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 faces with every value moved by -1, 0 or +1 level (clipped to 0-255)."""
    step = np.random.default_rng(seed).integers(-1, 2, faces.shape)
    return np.clip(faces.astype(np.int16) + step, 0, 255).astype(np.uint8)


def raw_logits(model, x: np.ndarray, members: bool) -> np.ndarray:
    """``(N, 1 + members)``: the model's raw logit and, for a fusion, each member's, in batches."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            batch = torch.from_numpy(x[i : i + BATCH])
            cols = [model(batch).reshape(-1, 1)]
            if members:
                cols.append(model.member_logits(batch))
            out.append(torch.cat(cols, dim=1).numpy())
    return np.concatenate(out)


def other_shrink(model):
    """The registered fusion of the same members with the other shrink (float <-> pil), holding the same weights; None
    for a single model, a fusion with nothing to shrink, or one without a registered twin."""
    from fakelens.errors import ConfigError
    from fakelens.models import create_model
    from fakelens.models.fusion import LogitFusion
    from fakelens.training.fuse import fusion_for

    if not isinstance(model, LogitFusion) or len(set(model.sizes)) == 1:
        return None
    try:
        twin = create_model(fusion_for(tuple(zip(model.member_names, model.sizes)), "float" if model.shrink == "pil" else "pil"))
    except ConfigError:
        return None
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def change_row(detector: str, part: str, change: str, base: np.ndarray, moved: np.ndarray, labels: np.ndarray) -> dict:
    delta = moved - base
    return {
        "detector": detector,
        "part": part,
        "change": change,
        "mean": round(float(delta.mean()), 3),
        "sd": round(float(delta.std()), 3),
        "p95_abs": round(float(np.quantile(np.abs(delta), 0.95)), 3),
        "max_abs": round(float(np.abs(delta).max()), 3),
        "roc_auc": f"{roc_auc_score(labels, base):.4f} -> {roc_auc_score(labels, moved):.4f}",
    }


def rows_for(name: str, detector, images: list[np.ndarray], labels: np.ndarray) -> list[dict]:
    model = detector.model.float().eval()
    faces = np.stack([detector.preprocess.load_face(im) for im in images])
    is_fusion = hasattr(model, "member_logits")
    parts = ["detector"] + (
        [f"member {i} ({m} at {s} px)" for i, (m, s) in enumerate(zip(model.member_names, model.sizes))] if is_fusion else []
    )
    base = raw_logits(model, detector.preprocess.normalize(faces), is_fusion)
    noisy = raw_logits(model, detector.preprocess.normalize(one_level_noise(faces)), is_fusion)
    rows = [change_row(name, part, "one-level noise", base[:, k], noisy[:, k], labels) for k, part in enumerate(parts)]
    twin = other_shrink(model)
    if twin is not None:
        shrunk = raw_logits(twin, detector.preprocess.normalize(faces), True)
        change = f"{model.shrink} -> {twin.shrink} shrink"
        rows += [
            change_row(name, parts[k + 1], change, base[:, k + 1], shrunk[:, k + 1], labels)
            for k, size in enumerate(model.sizes)
            if size != model.input_size
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    _, images, labels, _, detectors = validation_study(__doc__, argv, backend="torch")
    rows = [row for name, det in detectors for row in rows_for(name, det, images, labels)]
    print_table(rows, ["detector", "part", "change", "mean", "sd", "p95_abs", "max_abs", "roc_auc"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
