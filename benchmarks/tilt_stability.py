"""Does a turned face move the verdict? Validation faces turned by +-10/20/30 degrees, black or mirrored corners.

    python benchmarks/tilt_stability.py [--run RUN ...] [--per-source 100]

Each detector (the bundled one first, then every ``--run``) scores the validation faces of the bundled split (per
training source, up to ``--per-source`` of each class, the same faces for every detector) as stored, then each face
turned about its centre at its stored resolution, before the one preprocessing path, as a rotated crop arrives. Per
detector and turn: the share of real faces called FAKE, the mean change of P(FAKE) on real faces, and ROC-AUC. The
tilt tests (``tests/faces/test_alignment_verdicts.py``) check one photo; this measures many faces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, validation_study  # noqa: E402

from fakelens.data.transforms import turn  # noqa: E402 (the roll augmentation's turn, at a fixed angle)

TURNS = (-30, -20, -10, 10, 20, 30)


def rows_for(name: str, detector, images: list[np.ndarray], labels: np.ndarray) -> list[dict]:
    def scores(imgs):
        return detector.score_arrays([detector.decode(im) for im in imgs])

    real = labels == 0
    base = scores(images)

    def row(turn_name: str, p: np.ndarray) -> dict:
        called_fake = np.asarray([detector.verdict(x) for x in p[real]]) == "FAKE"
        return {
            "detector": name,
            "turn": turn_name,
            "real_called_fake": round(float(called_fake.mean()), 4),
            "mean_abs_change_real": round(float(np.abs(p[real] - base[real]).mean()), 4),
            "roc_auc": round(float(roc_auc_score(labels, p)), 4),
        }

    rows = [row("none", base)]
    for mirrored in (False, True):
        for degrees in TURNS:
            rows.append(row(f"{degrees:+d} {'mirrored' if mirrored else 'black'}", scores([turn(im, degrees, mirrored) for im in images])))
    return rows


def main(argv: list[str] | None = None) -> int:
    _, images, labels, _, detectors = validation_study(__doc__, argv)
    rows = [row for name, det in detectors for row in rows_for(name, det, images, labels)]
    print_table(rows, ["detector", "turn", "real_called_fake", "mean_abs_change_real", "roc_auc"])
    for name in dict.fromkeys(r["detector"] for r in rows):
        mine = [r for r in rows if r["detector"] == name and r["turn"] != "none"]
        print(
            f"{name}: worst turn: real faces called FAKE {max(r['real_called_fake'] for r in mine):.3f}, "
            f"mean P(FAKE) change on real faces {max(r['mean_abs_change_real'] for r in mine):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
