"""Would two detectors do better together? Their fused score on the images a benchmark scored, from its scores.csv.

    fakelens benchmark configs/bench/validation.yaml runs/a runs/b --out runs/bench-ab
    python benchmarks/score_fusion.py runs/bench-ab/scores.csv --weight 0.5 --weight 0.7

The fusion of two detectors A and B (the first two in the file, or ``--pair A B``) is the weighted mean of their
calibrated logits, ``w * logit(p_A) + (1 - w) * logit(p_B)``, per image. Each dataset of the benchmark gets its
ROC-AUC for A, for B and for every ``--weight`` w, on the images both scored. Choose a weight on validation rows only:
a test row read after choosing is a report, not a choice.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

EPS = 1e-6


def read_scores(path: Path) -> tuple[dict, list[str]]:
    """``{(dataset, detector): {path: (label, prob_fake)}}`` and the detectors in the order they first appear."""
    scores: dict = defaultdict(dict)
    order: list[str] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            scores[row["dataset"], row["detector"]][row["path"]] = (int(row["label"]), float(row["prob_fake"]))
            if row["detector"] not in order:
                order.append(row["detector"])
    return scores, order


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    return round(float(roc_auc_score(labels, scores)), 4) if 0 < labels.sum() < labels.size else None


def fusion_rows(scores: dict, a: str, b: str, weights: list[float]) -> list[dict]:
    rows = []
    for dataset in dict.fromkeys(d for d, _ in scores):
        sa, sb = scores.get((dataset, a), {}), scores.get((dataset, b), {})
        both = sorted(set(sa) & set(sb))
        if not both:
            continue
        labels = np.asarray([sa[p][0] for p in both])
        la, lb = logit(np.asarray([sa[p][1] for p in both])), logit(np.asarray([sb[p][1] for p in both]))
        row = {"dataset": dataset, "n": len(both), a: auc(labels, la), b: auc(labels, lb)}
        row.update({f"w={w:g}": auc(labels, w * la + (1 - w) * lb) for w in weights})
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", type=Path, help="a benchmark's scores.csv with at least two detectors")
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"), help="the two detectors (default: the first two in the file)")
    ap.add_argument("--weight", type=float, action="append", help="A's weight in the fusion, in [0, 1] (repeatable; default 0.5)")
    ap.add_argument("--csv", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    weights = args.weight or [0.5]
    if not all(0 <= w <= 1 for w in weights):
        ap.error("--weight must be in [0, 1]")
    scores, order = read_scores(args.scores)
    a, b = args.pair or order[:2] + [""] * (2 - len(order[:2]))
    if a not in order or b not in order or a == b:
        ap.error(f"two different detectors of {args.scores} are needed; it has {order}")
    rows = fusion_rows(scores, a, b, weights)
    columns = ["dataset", "n", a, b, *(f"w={w:g}" for w in weights)]
    print(f"ROC-AUC of {a}, of {b}, and of w * logit({a}) + (1 - w) * logit({b})")
    print_table(rows, columns)
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
