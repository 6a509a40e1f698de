"""The leave-one-out table by linear probes: which training recipe catches a kind of fake it was never shown?

    python benchmarks/leave_one_out_probe.py --split runs/mixed-a160/split.csv --out docs/figures/loo_probe.csv

For every fake source (dfdc, openforensics, GAN = rvf10k + headshots, diffusion = sdfd) and every pseudo-fake
family (sbi, xray, region, made on LFW's reals), a logistic-regression head is fitted on frozen features without
that row's fakes and scored on the row's test fakes against test reals of every source (ROC-AUC, the rule's
figure) and against the test reals of the row's own sources where it has some (``same-source``: dfdc,
openforensics, GAN, and the families, whose reals are LFW's; diffusion has no reals of its own). Pooled reals mix
sources, so a probe that learned which source a face comes from can rank a held-out source's fakes below other
sources' reals (an AUC under 0.5); the same-source figure asks only whether fakes are told from their own reals.
Two recipes:

* ``mixed``: the reals of every source and the fakes of every other row;
* ``blends-only``: the reals of every source and the families' pseudo-fakes only (the stored-fake rows are left
  out by construction; a family row leaves that family out too).

Features: ``--features imagenet`` (default) takes efficientnet_lite0's ImageNet weights, never trained on a
deepfake, so no row is contaminated; ``--features RUN`` takes a trained run's pooled features (rows of sources it
trained on are then contaminated, which the output says). Faces are aligned (``--no-align`` to compare) at 160 px.
The train and test images are those sides of the split file (a run's ``split.csv``): no image is on both.
CPU seconds are printed per stage.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

FAKE_ROWS = {"dfdc": ["dfdc"], "openforensics": ["openforensics"], "GAN": ["rvf10k", "headshots"], "diffusion": ["sdfd"]}
FAMILIES = ("sbi", "xray", "region")
#: The sources whose test reals a row's fakes are compared with in the same-source figure.
OWN_REALS = {"dfdc": ["dfdc"], "openforensics": ["openforensics"], "GAN": ["rvf10k", "headshots"], "sbi": ["lfw"], "xray": ["lfw"], "region": ["lfw"]}


def read_split(path: str):
    """(source, side, label) -> [(path, group)]"""
    out = defaultdict(list)
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out[(row["source"], row["split"], int(row["label"]))].append((row["path"], row["group"]))
    return out


def pick(items, n, rng):
    if len(items) <= n:
        return list(items)
    return [items[i] for i in rng.choice(len(items), n, replace=False)]


def build_sets(split, n_train: int, n_test: int, seed: int):
    """{(row_or_'real:'+source, side): [(path, group, kind)]}: stored images and the LFW reals the families blend."""
    rng = np.random.default_rng(seed)
    sets = {}
    sources = sorted({k[0] for k in split})
    for side, n in (("train", n_train), ("test", n_test)):
        for source in sources:
            reals = split.get((source, side, 0), [])
            if reals:
                sets[("real:" + source, side)] = [(p, g, "") for p, g in pick(reals, n, rng)]
        for row, members in FAKE_ROWS.items():
            share = max(1, n // len(members))
            sets[(row, side)] = [(p, g, "") for m in members for p, g in pick(split.get((m, side, 1), []), share, rng)]
        lfw = split.get(("lfw", side, 0), [])
        for family in FAMILIES:
            sets[(family, side)] = [(p, g, "pf:" + family) for p, g in pick(lfw, n, rng)]
    return sets


def make_faces(sets, align: bool, image_size: int, seed: int):
    """Decode (and blend) every image once: {key: uint8 N x S x S x 3}."""
    from fakelens.data.pseudofake import PseudoFakeMaker
    from fakelens.imaging.imageio import load_image
    from fakelens.imaging.preprocess import PreprocessConfig
    from fakelens.sources import Sample

    cfg = PreprocessConfig(image_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), align)
    sides = {side for _, side in sets}
    donors = {side: [Sample(p, 0, g, "lfw") for p, g, _ in sets.get(("real:lfw", side), [])] for side in sides}
    makers = {side: PseudoFakeMaker({"lfw": donors[side]}) for side in donors}
    faces = {}
    from tqdm import tqdm

    for key, items in tqdm(sorted(sets.items()), desc="faces"):
        rng = np.random.default_rng([seed, len(faces)])
        out = []
        for path, group, kind in items:
            rgb = load_image(path)
            if kind:
                rgb = makers[key[1]](Sample(path, 0, group, "lfw", kind), rgb, rng)
            out.append(cfg.load_face(rgb))
        faces[key] = np.stack(out) if out else np.zeros((0, image_size, image_size, 3), np.uint8)
    return faces, cfg


def feature_model(features: str, cfg):
    from fakelens.inference.detector import Detector, load

    if features == "imagenet":
        from fakelens.models import create_model

        return Detector(create_model("efficientnet_lite0", pretrained=True), "efficientnet_lite0", cfg)
    det = load(features, backend="torch")
    det.preprocess = dataclasses.replace(det.preprocess, align=cfg.align)
    return det


def probe_auc(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))
    clf.fit(train_x, train_y)
    return float(roc_auc_score(test_y, clf.predict_proba(test_x)[:, 1])), clf


def write_table(path: str, table: list[dict]) -> None:
    """The table's rows as CSV (floats to 4 decimals), its folder made if needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="a run's split.csv (sources as in configs/data)")
    ap.add_argument("--features", default="imagenet", help="imagenet, or a trained run folder")
    ap.add_argument("--n-train", type=int, default=300, help="images per source/row and class on the training side")
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--no-align", action="store_true")
    ap.add_argument("--image-size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the table as CSV here")
    args = ap.parse_args()

    t0 = time.process_time()
    sets = build_sets(read_split(args.split), args.n_train, args.n_test, args.seed)
    faces, cfg = make_faces(sets, not args.no_align, args.image_size, args.seed)
    t1 = time.process_time()
    model = feature_model(args.features, cfg)
    feats = {k: model.embed_arrays(v)[1] if len(v) else np.zeros((0, 1)) for k, v in faces.items()}
    t2 = time.process_time()

    real_keys = sorted(k[0] for k in feats if k[0].startswith("real:") and k[1] == "train")
    rows = list(FAKE_ROWS) + list(FAMILIES)
    test_reals = np.concatenate([feats[(k, "test")] for k in real_keys if (k, "test") in feats])
    table = []
    for recipe in ("mixed", "blends-only"):
        for held in rows:
            trained_fakes = [r for r in rows if r != held and (recipe == "mixed" or r in FAMILIES)]
            x_real = np.concatenate([feats[(k, "train")] for k in real_keys])
            x_fake = np.concatenate([feats[(r, "train")] for r in trained_fakes])
            x = np.concatenate([x_real, x_fake])
            y = np.r_[np.zeros(len(x_real)), np.ones(len(x_fake))]
            held_fakes = feats[(held, "test")]
            tx = np.concatenate([test_reals, held_fakes])
            ty = np.r_[np.zeros(len(test_reals)), np.ones(len(held_fakes))]
            auc, clf = probe_auc(x, y, tx, ty)
            own = [feats[("real:" + s, "test")] for s in OWN_REALS.get(held, []) if ("real:" + s, "test") in feats]
            same = None
            if own:
                from sklearn.metrics import roc_auc_score

                ox = np.concatenate(own + [held_fakes])
                oy = np.r_[np.zeros(sum(len(o) for o in own)), np.ones(len(held_fakes))]
                same = round(float(roc_auc_score(oy, clf.predict_proba(ox)[:, 1])), 4)
            table.append(
                {"recipe": recipe, "held_out": held, "auc": round(auc, 4), "auc_same_source": same, "trained_on": "+".join(trained_fakes)}
            )
    t3 = time.process_time()

    print(f"features: {args.features}; aligned: {not args.no_align}; CPU s: faces {t1 - t0:.0f}, features {t2 - t1:.0f}, probes {t3 - t2:.0f}")
    print("| held out | " + " | ".join(rows) + " | min | mean |")
    print("|---" * (len(rows) + 3) + "|")
    for key, what in (("auc", "pooled reals"), ("auc_same_source", "own reals")):
        for recipe in ("mixed", "blends-only"):
            aucs = [next(r[key] for r in table if r["recipe"] == recipe and r["held_out"] == h) for h in rows]
            known = [a for a in aucs if a is not None]
            cells = " | ".join("n/a" if a is None else f"{a:.3f}" for a in aucs)
            print(f"| {recipe}, {what} | {cells} | {min(known):.3f} | {np.mean(known):.3f} |")
    if args.out:
        write_table(args.out, table)


if __name__ == "__main__":
    main()
