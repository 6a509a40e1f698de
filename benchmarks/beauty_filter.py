"""Does a beauty filter make a real face FAKE? Validation faces as stored and through a phone's skin smoothing.

    python benchmarks/beauty_filter.py [--run RUN ...] [--per-source 100]

Each detector (the bundled one first, then every ``--run``) scores the validation faces of the bundled split (per
training source, up to ``--per-source`` of each class, the same faces for every detector) as stored and after
:func:`fakelens.imaging.perturb.skin_smoothing` at two strengths, before the one preprocessing path. Per detector,
setting and source: the share of real faces given the FAKE verdict, the mean rise of P(FAKE) on real faces, the share
of fakes given the FAKE verdict, and ROC-AUC. Many real selfies are posted through such a filter, and the synthetic
faces the detector learned from often have smooth skin: a detector that reads smoothness calls those selfies FAKE.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, validation_study  # noqa: E402

from fakelens.imaging.perturb import skin_smoothing  # noqa: E402

SETTINGS = {"none": None, "smooth 0.5": 0.5, "smooth 0.8": 0.8}


def rows_for(name: str, detector, images: list[np.ndarray], labels: np.ndarray, sources: list[str]) -> list[dict]:
    sources = np.asarray(sources)
    scores = {}
    for setting, strength in SETTINGS.items():
        faces = images if strength is None else [skin_smoothing(im, strength) for im in images]
        scores[setting] = detector.score_arrays([detector.decode(im) for im in faces])
    rows = []
    for setting, p in scores.items():
        fake_verdict = np.asarray([detector.verdict(x) for x in p]) == "FAKE"
        for source in ["all", *dict.fromkeys(sources)]:
            mine = np.ones(len(p), bool) if source == "all" else sources == source
            real, fake = mine & (labels == 0), mine & (labels == 1)
            rows.append(
                {
                    "detector": name,
                    "setting": setting,
                    "source": source,
                    "real_called_fake": round(float(fake_verdict[real].mean()), 4) if real.any() else None,
                    "mean_rise_real": round(float((p[real] - scores["none"][real]).mean()), 4) if real.any() else None,
                    "fakes_called_fake": round(float(fake_verdict[fake].mean()), 4) if fake.any() else None,
                    "roc_auc": round(float(roc_auc_score(labels[mine], p[mine])), 4) if real.any() and fake.any() else None,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    _, images, labels, sources, detectors = validation_study(__doc__, argv)
    rows = [row for name, det in detectors for row in rows_for(name, det, images, labels, sources)]
    print_table(rows, ["detector", "setting", "source", "real_called_fake", "mean_rise_real", "fakes_called_fake", "roc_auc"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
