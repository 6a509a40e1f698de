"""Average the weights of several epochs of one run, then calibrate, save and test the average like a finished run
(maintainers' tool).

    python tools/average_checkpoints.py RUN --weights EPOCH_A.safetensors EPOCH_B.safetensors ... --out RUN_AVG

Averaging the last epochs of one fine-tuning run (stochastic weight averaging, Izmailov et al. 2018; "model
soups", Wortsman et al. 2022) often scores a little better than any one of them. ``--mix`` gives each file its
share instead of an equal one: interpolating a fine-tuned model with the model it was fine-tuned from (WiSE-FT,
Wortsman et al. 2022) trades the new data against what the earlier model knew. The trainer keeps only its latest
checkpoint, so copy each epoch's ``checkpoints/epoch-NNN/model.safetensors`` aside while it trains. ``RUN_AVG`` gets
RUN's config, split and history, the averaged weights as ``best.safetensors`` and then what ``finalize_run`` writes
(calibration on validation, ``detector.json``, test metrics). Choose between RUN and RUN_AVG on their validation
figures (printed at the end), never on test.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fakelens.inference.tta import DEFAULT_VIEWS
from fakelens.models import create_model
from fakelens.training.checkpoint import BEST_WEIGHTS, latest_checkpoint, load_checkpoint
from fakelens.training.finalize import finalize_run


def average_state_dicts(paths: list[str], mix: list[float] | None = None) -> dict[str, torch.Tensor]:
    """The element-wise (``mix``-weighted) mean of several state dicts of one architecture (integer buffers: rounded down)."""
    states = [load_file(p) for p in paths]
    keys = states[0].keys()
    if any(s.keys() != keys for s in states[1:]):
        raise SystemExit("the weight files do not hold the same tensors: not one architecture")
    if mix is not None and (len(mix) != len(paths) or any(m < 0 for m in mix) or sum(mix) <= 0):
        raise SystemExit(f"--mix needs one share >= 0 per weight file ({len(paths)}), not all zero")
    shares = torch.tensor(mix if mix is not None else [1.0] * len(paths), dtype=torch.float64)
    shares = shares / shares.sum()
    out = {}
    for k in keys:
        stacked = torch.stack([s[k].double() for s in states])
        mean = torch.tensordot(shares, stacked, dims=1)
        out[k] = (mean.floor() if not states[0][k].is_floating_point() else mean).to(states[0][k].dtype).contiguous()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--weights", nargs="+", required=True, help="model.safetensors files of the epochs to average")
    ap.add_argument("--mix", type=float, nargs="+", help="each weight file's share (default: equal)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists")
    latest = latest_checkpoint(args.run)
    if latest is None:
        raise SystemExit(f"{args.run}: no checkpoint")
    args.out.mkdir(parents=True)
    for name in ("config.json", "split.csv", "history.csv"):
        if (args.run / name).is_file():
            shutil.copyfile(args.run / name, args.out / name)
    shutil.copytree(latest.parent, args.out / "checkpoints")
    save_file(average_state_dicts(args.weights, args.mix), str(args.out / BEST_WEIGHTS))
    # The checkpoint gives the bookkeeping; finalize_run puts the averaged weights into this model.
    model = create_model(json.loads((args.run / "config.json").read_text())["model"])
    state = load_checkpoint(latest, model)
    shares = args.mix or [1.0] * len(args.weights)
    state["best_epoch"] = "mean of " + ", ".join(f"{Path(w).parent.name}/{Path(w).stem} x {s / sum(shares):.2f}"
                                                 for w, s in zip(args.weights, shares))
    finalize_run(args.out, model=model, state=state, log=print)
    for run in (args.run, args.out):
        cal = json.loads((run / "detector.json").read_text())["info"]["calibration"]
        auc = cal["val_roc_auc_with_tta"] if cal["tta"] else cal["val_roc_auc_without_tta"]
        print(f"{run}: validation ROC-AUC {auc:.4f} (tta {cal['tta']}, views {cal.get('tta_views', list(DEFAULT_VIEWS))})")


if __name__ == "__main__":
    main()
