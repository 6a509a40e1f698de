"""Issue 27's capacity and resolution comparison: the same recipe at several backbones and input sizes.

    python benchmarks/capacity_table.py --split runs/cap/lite0/blends/split.csv \\
        --run lite0=runs/cap/lite0/blends --run lite1=runs/cap/lite1/blends --run lite2=runs/cap/lite2/blends \\
        --scores runs/cap/scores --out docs/figures/capacity.csv --plot docs/figures/capacity.png

Per run (listed smallest first; the first is the baseline the rule compares against):

* what chooses (docs/face-science.md, session 18): the pooled validation ROC-AUC and the lowest per-source validation
  ROC-AUC from the run's calibration (``detector.json``); a larger model wins only if it gains >= 0.01 on both;
* the gate: the ONNX export's size (<= 25 MB) and end-to-end images/s on face crops (>= 100; the same measurement as
  ``predict_folder.py``, ``--n`` crops, ONNX Runtime);
* reported beside them: test ROC-AUC of every row of the leave-one-out table (``leave_one_out_finetuned.py``'s rows
  and faces, made at each run's own input size).

Measure speed on an idle machine: ``--no-speed`` skips it (and the ONNX export) while other work runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import grouped_bars, sample_images  # noqa: E402
from leave_one_out_finetuned import ROWS, cache_file, row_figures, run_scores, test_faces  # noqa: E402
from leave_one_out_probe import write_table  # noqa: E402
from predict_folder import end_to_end  # noqa: E402

MIN_GAIN = 0.01
MAX_MB, MIN_IMAGES_PER_S = 25.0, 100.0


def validation_figures(info: dict) -> dict:
    """Pooled and per-source validation ROC-AUC as the run's calibration measured them (``detector.json``'s info)."""
    by_source = {s: m["roc_auc"] for s, m in info["calibration"]["val_by_source"].items() if m.get("roc_auc") is not None}
    return {"val_auc": info["val"]["roc_auc"], "val_auc_min": min(by_source.values()), **{f"val_auc_{s}": v for s, v in by_source.items()}}


def gate_figures(run_dir: str, n: int) -> dict:
    """ONNX size and end-to-end speed of the run's detector: as calibrated (the face and its test-time views, one
    model pass each) and with the face alone (one model pass: test-time views off, as ``calibrate --max-views 0``
    ships)."""
    import fakelens

    det = fakelens.load(run_dir, backend="onnx")  # exports once into the user cache when the run has no model.onnx
    paths = sample_images(n)
    passes = 1 + len(det.views)
    speed = end_to_end(det, paths)
    det.tta = False
    one_view = end_to_end(det, paths)
    return {
        "onnx_mb": Path(det.runner.path).stat().st_size / 2**20,
        "model_passes": passes,
        "images_per_s": speed["images_per_s"],
        "images_per_s_one_view": one_view["images_per_s"],
        "p50_ms_one_view": one_view["p50_ms"],
    }


def choose(table: list[dict]) -> str:
    """The rule written before the results: the first (smallest) run unless a larger one that passes the gate gains
    >= MIN_GAIN on both validation figures; among those, the largest pooled gain."""
    base = table[0]
    passes = lambda t: "onnx_mb" not in t or (t["onnx_mb"] <= MAX_MB and t["images_per_s"] >= MIN_IMAGES_PER_S)  # noqa: E731
    better = [
        t for t in table[1:]
        if passes(t) and t["val_auc"] - base["val_auc"] >= MIN_GAIN and t["val_auc_min"] - base["val_auc_min"] >= MIN_GAIN
    ]
    return max(better, key=lambda t: t["val_auc"])["name"] if better else base["name"]


def plot(table: list[dict], path: str) -> None:
    keys = ["val_auc", "val_auc_min"] + [f"test_{row}" for row in ROWS]
    speed = lambda t: f", {t['images_per_s']:.0f} img/s, {t['onnx_mb']:.1f} MB" if "images_per_s" in t else ""  # noqa: E731
    grouped_bars(
        ["val pooled", "val lowest source"] + ROWS,
        [(f"{t['name']} ({t['model']}, {t['image_size']} px{speed(t)})", [t.get(k) for k in keys], None) for t in table],
        path,
        "ROC-AUC",
        "One recipe at three backbones and input sizes (validation: sources these runs never saw fakes of)",
        rotation=20,
        legend="upper left",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="the split.csv all runs share (a run folder's)")
    ap.add_argument("--run", action="append", required=True, metavar="NAME=DIR", help="a run; the first is the baseline")
    ap.add_argument("--n-test", type=int, default=300, help="test images per leave-one-out row and source")
    ap.add_argument("--n", type=int, default=2000, help="face crops timed end to end")
    ap.add_argument("--no-speed", action="store_true", help="skip the ONNX export and the timing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scores", help="folder for each run's cached test scores")
    ap.add_argument("--out", help="write the table as CSV here")
    ap.add_argument("--plot", help="write the bar chart here")
    args = ap.parse_args()

    table, faces_by_size = [], {}
    for name, run_dir in (r.split("=", 1) for r in args.run):
        t0 = time.process_time()
        saved = json.loads((Path(run_dir) / "detector.json").read_text())
        size = saved["preprocess"]["image_size"]
        if size not in faces_by_size:
            faces_by_size[size] = test_faces(args.split, args.n_test, size, args.seed)
        scores = run_scores(run_dir, faces_by_size[size], cache_file(args.scores, name, run_dir))
        row = {"name": name, "model": saved["model"], "image_size": size, **validation_figures(saved["info"])}
        row.update({f"test_{r}": row_figures(scores, r)[0] for r in ROWS})
        if not args.no_speed:
            row.update(gate_figures(run_dir, args.n))
        print(f"{name}: {time.process_time() - t0:.0f} CPU s", file=sys.stderr)
        table.append(row)

    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    cols = ["val_auc", "val_auc_min"] + [f"test_{r}" for r in ROWS]
    gate = ["onnx_mb", "model_passes", "images_per_s", "images_per_s_one_view"] if not args.no_speed else []
    print("| run | model | px | " + " | ".join(cols + gate) + " |")
    print("|---" * (3 + len(cols) + len(gate)) + "|")
    for t in table:
        print(f"| {t['name']} | {t['model']} | {t['image_size']} | " + " | ".join(fmt(t[c]) for c in cols) + "".join(f" | {t[g]:.1f}" for g in gate) + " |")
    print(f"chosen by the rule (gain >= {MIN_GAIN} on pooled and lowest-source validation AUC{', gate passed' if gate else ', gate not measured'}): {choose(table)}")
    if args.out:
        write_table(args.out, table)
    if args.plot:
        plot(table, args.plot)


if __name__ == "__main__":
    main()
