"""The fine-tuned leave-one-out table: does a detector catch a kind of fake it was never shown?

    python benchmarks/leave_one_out_finetuned.py --split runs/loo/all/split.csv \\
        --run all=runs/loo/all --run dfdc=runs/loo/dfdc --run GAN=runs/loo/GAN ... \\
        --also blends-only=runs/loo/blends --also shipped=src/fakelens/weights \\
        --scores runs/loo/scores --out docs/figures/loo_finetuned.csv --plot docs/figures/loo_finetuned.png

Each ``--run ROW=DIR`` is a trained run folder (or a bundled detector) whose training left ROW out; ``all`` is the
reference that left nothing out. Rows are the fake sources of ``leave_one_out_probe.FAKE_ROWS`` (dfdc,
openforensics, GAN = rvf10k + headshots, diffusion = sdfd) and the pseudo-fake families (sbi, xray, region, blended
on LFW's test reals by the training code's own :class:`~fakelens.data.pseudofake.PseudoFakeMaker`). Only the test
side of the split is read; every detector scores the same faces, decoded once.

For every row: ROC-AUC of its test fakes against its own sources' test reals (diffusion, which has none, against
FFHQ's: rvf10k's real side) and against the pooled test reals of every source, for the run that left the row out
and for ``all``. The gap is what not having seen that kind costs at the same training budget. ``--also NAME=DIR``
adds a detector scored on every row as a column of its own (a blends-only specialist, which left every stored-fake
row out; the shipped detector). Scores are cached per detector in ``--scores`` (each is scored once, so runs can be
added as they finish). CPU seconds are printed per stage.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import grouped_bars
from leave_one_out_probe import FAKE_ROWS, FAMILIES, OWN_REALS, build_sets, make_faces, read_split, write_table

#: Reals each row's fakes are compared with first; diffusion (SDFD) has no reals of its own.
OWN = {**OWN_REALS, "diffusion": ["rvf10k"]}
ROWS = list(FAKE_ROWS) + list(FAMILIES)


def test_faces(split_file: str, n_test: int, image_size: int, seed: int):
    """{key: uint8 faces} for the test side only: 'real:<source>' and each row."""
    sets = build_sets(read_split(split_file), 0, n_test, seed)
    sets = {k: v for k, v in sets.items() if k[1] == "test"}
    faces, _ = make_faces(sets, align=False, image_size=image_size, seed=seed)
    return {k[0]: v for k, v in faces.items()}


def run_scores(run_dir: str, faces: dict[str, np.ndarray], cache: Path | None) -> dict[str, np.ndarray]:
    """P(FAKE) of a detector on every key, from ``cache`` if it was scored before on the same faces."""
    from fakelens.inference.detector import load

    key_sizes = {k: len(v) for k, v in faces.items()}
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            if {k: len(stored[k]) for k in stored.files} == key_sizes:
                return {k: stored[k] for k in stored.files}
    det = load(run_dir, backend="torch")
    if det.preprocess.image_size != next(iter(faces.values())).shape[1] or det.preprocess.align:
        raise SystemExit(f"{run_dir}: faces were made at another size or alignment than this detector takes")
    scores = {k: det.score_arrays(v) if len(v) else np.zeros(0) for k, v in faces.items()}
    if cache is not None:
        from fakelens.utils.atomic import atomic_path

        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache, ".npz") as tmp:
            np.savez(tmp, **scores)
    return scores


def cache_file(folder: str | None, key: str, run_dir: str) -> Path | None:
    """Where a detector's scores are cached: named by its folder and the version of its weights and calibration."""
    if folder is None:
        return None
    import hashlib

    run = Path(run_dir).resolve()
    stamp = [str(run)] + [f"{(run / f).stat().st_mtime_ns}" for f in ("model.safetensors", "detector.json") if (run / f).exists()]
    return Path(folder) / f"{key.replace(':', '-')}-{hashlib.sha1('|'.join(stamp).encode()).hexdigest()[:12]}.npz"


def auc(reals: list[np.ndarray], fakes: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    reals = [r for r in reals if len(r)]
    if not reals or not len(fakes):
        return None
    r = np.concatenate(reals)
    return float(roc_auc_score(np.r_[np.zeros(len(r)), np.ones(len(fakes))], np.r_[r, fakes]))


def row_figures(scores: dict[str, np.ndarray], row: str) -> tuple[float | None, float | None]:
    """(AUC against the row's own reals, against the pooled test reals)."""
    own = auc([scores.get("real:" + s, np.zeros(0)) for s in OWN[row]], scores[row])
    pooled = auc([v for k, v in scores.items() if k.startswith("real:")], scores[row])
    return own, pooled


def plot(table: list[dict], path: str, also: list[str]) -> None:
    series = [("shown (the all run)", "auc_all", "#999999"), ("left out of training", "auc_left_out", "#c0392b")]
    series += [(name, f"auc_{name}", colour) for name, colour in zip(also, ("#2c7fb8", "#7fbc41", "#8856a7"))]
    grouped_bars(
        [t["held_out"] for t in table],
        [(label, [t[key] for t in table], colour) for label, key, colour in series],
        path,
        "test ROC-AUC vs its own reals",
        "Each kind of fake, shown in training or left out",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="the split.csv all runs share (a run folder's; the bundled split.csv.gz has no labels)")
    ap.add_argument("--run", action="append", required=True, metavar="ROW=DIR", help="a run that left ROW out; all=DIR: the reference")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR", help="a detector scored on every row as a column of its own")
    ap.add_argument("--n-test", type=int, default=300, help="test images per source/row and class")
    ap.add_argument("--image-size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scores", help="folder for each run's cached scores")
    ap.add_argument("--out", help="write the table as CSV here")
    ap.add_argument("--plot", help="write the bar chart here")
    args = ap.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    also = dict(r.split("=", 1) for r in args.also)
    unknown = set(runs) - set(ROWS) - {"all"}
    if unknown or "all" not in runs:
        raise SystemExit(f"--run takes ROW=DIR with ROW in all, {', '.join(ROWS)}; 'all' is required (unknown: {sorted(unknown)})")

    t0 = time.process_time()
    faces = test_faces(args.split, args.n_test, args.image_size, args.seed)
    t1 = time.process_time()
    detectors = {**{row: d for row, d in runs.items()}, **{"also:" + name: d for name, d in also.items()}}
    scores = {key: run_scores(d, faces, cache_file(args.scores, key, d)) for key, d in detectors.items()}
    t2 = time.process_time()

    table = []
    for row in ROWS:
        own_all, pooled_all = row_figures(scores["all"], row)
        own_out, pooled_out = row_figures(scores[row], row) if row in scores else (None, None)
        table.append(
            {
                "held_out": row,
                "n_fakes": len(faces[row]),
                "auc_all": own_all,
                "auc_left_out": own_out,
                "gap": None if own_out is None else own_all - own_out,
                "auc_all_pooled": pooled_all,
                "auc_left_out_pooled": pooled_out,
                **{f"auc_{name}": row_figures(scores["also:" + name], row)[0] for name in also},
            }
        )
    print(f"CPU s: faces {t1 - t0:.0f}, scoring {t2 - t1:.0f} ({len(detectors)} detectors, {sum(map(len, faces.values()))} faces)")
    fmt = lambda v: "not run" if v is None else f"{v:.3f}"  # noqa: E731
    extra = "".join(f" {name} |" for name in also)
    print(f"| held out | fakes | AUC shown (all) | AUC left out | cost | pooled reals: shown / left out |{extra}")
    print("|---" * (6 + len(also)) + "|")
    for t in table:
        cells = "".join(f" {fmt(t[f'auc_{name}'])} |" for name in also)
        print(
            f"| {t['held_out']} | {t['n_fakes']} | {fmt(t['auc_all'])} | {fmt(t['auc_left_out'])} | {fmt(t['gap'])} | "
            f"{fmt(t['auc_all_pooled'])} / {fmt(t['auc_left_out_pooled'])} |{cells}"
        )
    left = [t["auc_left_out"] for t in table if t["auc_left_out"] is not None]
    if left:
        print(f"left out: min {min(left):.3f}, mean {np.mean(left):.3f} over {len(left)} rows")
    if args.out:
        write_table(args.out, table)
    if args.plot:
        plot(table, args.plot, list(also))


if __name__ == "__main__":
    main()
