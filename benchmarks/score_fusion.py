"""Would two detectors do better together? Their fused score on the images a benchmark scored, from its scores.csv.

    fakelens benchmark configs/bench/validation.yaml runs/a runs/b --out runs/bench-ab
    python benchmarks/score_fusion.py runs/bench-ab/scores.csv --weight 0.5 --weight 0.7

The fusion of two detectors A and B (the first two in the file, or ``--pair A B``) is the weighted mean of their
calibrated logits, ``w * logit(p_A) + (1 - w) * logit(p_B)``, per image. Each dataset of the benchmark gets its
ROC-AUC for A, for B and for every ``--weight`` w, on the images both scored. Choose a weight on validation rows only:
a test row read after choosing is a report, not a choice.

``--bands CAP`` reads what the weight does to the verdicts, as ``fakelens calibrate`` would fit them on these
faces: the REAL/UNCERTAIN/FAKE bands of each fused score (at most CAP of each source's real faces at FAKE), with
every face once (a face in two datasets counts once), and per source the share of fakes and of reals at FAKE.
``--halves SEED`` chooses the weight without reading the same faces twice: the groups are cut into two halves by a
seeded hash, each half chooses the weight that puts most of ``--caught`` 's fakes at FAKE at its own bands (ties to
the weight nearer 0.5), and the choice is read on the other half against w = 0.5 (session 40's plan,
docs/face-science.md):

    python benchmarks/score_fusion.py runs/bench-ab/scores.csv --weight 0.3 --weight 0.5 --weight 0.7 \
        --bands 0.02 --halves 40
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


def read_scores(path: Path) -> tuple[dict, list[str], dict]:
    """``{(dataset, detector): {path: (label, prob_fake)}}``, the detectors in the order they first appear, and
    ``{path: (source, group)}``."""
    scores: dict = defaultdict(dict)
    order: list[str] = []
    meta: dict = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            scores[row["dataset"], row["detector"]][row["path"]] = (int(row["label"]), float(row["prob_fake"]))
            meta[row["path"]] = (row.get("source", ""), row.get("group", ""))
            if row["detector"] not in order:
                order.append(row["detector"])
    return scores, order, meta


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


def unique_faces(scores: dict, meta: dict, a: str, b: str) -> dict[str, np.ndarray]:
    """Each face both detectors scored, once (matched copies left out): labels, both logits, source and group."""
    faces: dict = {}
    for (dataset, det), by_path in scores.items():
        if det != a or dataset.endswith("(matched)"):
            continue
        other = scores.get((dataset, b), {})
        for path, (label, prob) in by_path.items():
            if path in other and path not in faces:
                faces[path] = (label, prob, other[path][1], *meta[path])
    cols = list(zip(*faces.values())) or [()] * 5
    return {
        "label": np.asarray(cols[0], dtype=int),
        "a": logit(np.asarray(cols[1], dtype=float)),
        "b": logit(np.asarray(cols[2], dtype=float)),
        "source": np.asarray(cols[3], dtype=object),
        "group": np.asarray(cols[4], dtype=object),
    }


def verdict_row(faces: dict, w: float, cap: float, mask: np.ndarray | None = None) -> dict:
    """The bands fitted on the fused score ``w * a + (1 - w) * b`` of these faces, and each source's shares at FAKE."""
    from fakelens.stats.calibration import fit_bands
    from fakelens.utils.numeric import sigmoid

    mask = np.ones(len(faces["label"]), dtype=bool) if mask is None else mask
    y, src = faces["label"][mask], faces["source"][mask]
    prob = sigmoid(w * faces["a"][mask] + (1 - w) * faces["b"][mask])
    bands = fit_bands(y, prob, max_real_called_fake=cap, sources=src)
    row = {"w": w, "fake_from": round(bands.fake_from, 4)}
    for name in dict.fromkeys(src):
        at_fake = prob[src == name] >= bands.fake_from
        for label, what in ((1, "fakes"), (0, "reals")):
            sel = y[src == name] == label
            if sel.any():
                row[f"{name} {what}"] = round(float(at_fake[sel].mean()), 4)
    return row


def halves(groups: np.ndarray, seed: int) -> np.ndarray:
    """True for the faces of one half of the groups: a seeded hash of each group's name, so a group never splits."""
    import hashlib

    return np.asarray([hashlib.sha256(f"{seed}:{g}".encode()).digest()[0] % 2 == 0 for g in groups])


def choose_on_halves(faces: dict, weights: list[float], cap: float, seed: int, caught: str) -> list[dict]:
    """For each half: the weight it chooses (most ``caught`` fakes at FAKE) and, on the other half, that weight against 0.5."""
    first = halves(faces["group"], seed)
    key = f"{caught} fakes"
    rows = []
    for name, chooser, reader in (("A", first, ~first), ("B", ~first, first)):
        on_chooser = {w: verdict_row(faces, w, cap, chooser).get(key, 0.0) for w in weights}
        chosen = max(weights, key=lambda w: (on_chooser[w], -abs(w - 0.5)))
        read = verdict_row(faces, chosen, cap, reader).get(key)
        even = verdict_row(faces, 0.5, cap, reader).get(key)
        rows.append(
            {"chosen on": name, "w": chosen, f"{key} there": on_chooser[chosen], f"{key} on the other": read, "w=0.5 on the other": even}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", type=Path, help="a benchmark's scores.csv with at least two detectors")
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"), help="the two detectors (default: the first two in the file)")
    ap.add_argument("--weight", type=float, action="append", help="A's weight in the fusion, in [0, 1] (repeatable; default 0.5)")
    ap.add_argument("--csv", type=Path, help="also write the table here")
    ap.add_argument("--bands", type=float, metavar="CAP", help="also fit bands per weight (at most CAP of each source's reals at FAKE)")
    ap.add_argument(
        "--halves", type=int, metavar="SEED", help="with --bands: choose the weight on one half of the groups, read it on the other"
    )
    ap.add_argument("--caught", default="dfdc", help="with --halves: the source whose fakes at FAKE choose the weight (default dfdc)")
    args = ap.parse_args(argv)
    weights = args.weight or [0.5]
    if not all(0 <= w <= 1 for w in weights):
        ap.error("--weight must be in [0, 1]")
    scores, order, meta = read_scores(args.scores)
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
    if args.bands is not None:
        faces = unique_faces(scores, meta, a, b)
        bands = [verdict_row(faces, w, args.bands) for w in weights]
        print(f"\nbands of the fused score at most {args.bands:g} of each source's reals at FAKE, on {len(faces['label'])} faces once each")
        print_table(bands, list(dict.fromkeys(k for r in bands for k in r)))
        if args.halves is not None:
            chosen = choose_on_halves(faces, weights, args.bands, args.halves, args.caught)
            print(f"\nthe weight chosen on each half of the groups (seed {args.halves}), read on the other")
            print_table(chosen, list(chosen[0]))
    elif args.halves is not None:
        ap.error("--halves needs --bands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
