"""The ``fakelens`` command: parses arguments and delegates; no logic lives here."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import FakelensError


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a detector on a dataset")
    p.add_argument("--data", required=False, help="dataset: Kaggle layout folder, real/+fake/ folders or a CSV manifest")
    p.add_argument("--model", default=None, help="zoo model name (see 'fakelens models')")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", help="YAML/JSON file of training options (command-line options override it)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--image-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--freeze-epochs", type=int)
    p.add_argument("--aug-strength", type=float, help="0 (flips only) .. 1 (strong)")
    p.add_argument("--per-class", type=int, help="balanced subset: at most N images per class")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--test-fraction", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--patience", type=int, help="early stopping patience in epochs (0: off)")
    p.add_argument("--num-workers", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--max-steps-per-epoch", type=int)
    p.add_argument("--max-val-batches", type=int)
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false", default=None, help="random init for transfer models")
    p.add_argument("--pretrained-file", help="ImageNet weights file (.safetensors/.pth) for the backbone")
    p.add_argument("--init-weights", help="start from the weights of a trained run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def _train(args) -> int:
    from .training import TrainConfig, train

    options = {k: v for k, v in vars(args).items() if k not in ("command", "config", "resume", "func") and v is not None}
    base = TrainConfig.from_file(args.config).to_dict() if args.config else {}
    base.update(options)
    if "data" not in base and not args.resume:
        raise FakelensError("--data is required (or a --config that names it)")
    base.setdefault("data", "")
    train(TrainConfig.from_dict(base), resume=args.resume)
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics and plots for a trained run")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="evaluate on this whole dataset instead of the run's test split")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output folder (default RUN/eval)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--num-workers", type=int, default=1)


def _evaluate(args) -> int:
    from .evaluation.evaluate import evaluate_run

    m = evaluate_run(args.run, data=args.data, out=args.out, split=args.split, num_workers=args.num_workers, backend=args.backend)
    print(json.dumps({k: m[k] for k in ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece")}, indent=2))
    return 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="leaderboard of several runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)


def _compare(args) -> int:
    from .evaluation.compare import compare_runs

    for r in compare_runs(args.runs, args.out):
        print(f"{r['name']:<28} acc={r['accuracy']:.4f} auc={r['roc_auc']:.4f}")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="score face crops (files or folders)")
    p.add_argument("inputs", nargs="+", help="images or folders of images")
    p.add_argument("--run", help="run folder (default: the bundled detector)")
    p.add_argument("--output", "-o", help="CSV or .json file (default: CSV on standard output)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--batch-size", type=int, default=32)


def _predict(args) -> int:
    from .inference import load
    from .inference.predict import PREDICT_COLUMNS, expand_inputs, write_rows

    detector = load(args.run, backend=args.backend)
    paths = expand_inputs(args.inputs)
    if not paths:
        raise FakelensError("no images found in the given inputs")
    rows = detector.score_files(paths, batch_size=args.batch_size, progress=args.output is not None)
    if args.output:
        write_rows(rows, args.output)
    else:
        import csv

        writer = csv.DictWriter(sys.stdout, PREDICT_COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r[k]) for k in PREDICT_COLUMNS} for r in rows)
    failed = sum(1 for r in rows if r["error"])
    if failed:
        print(f"fakelens: {failed} of {len(rows)} item(s) failed; see the error column", file=sys.stderr)
        return 3
    return 0


def _add_models(sub) -> None:
    sub.add_parser("models", help="list the model zoo")


def _models(args) -> int:
    from .models import get_model_spec, list_models

    for name in list_models():
        s = get_model_spec(name)
        print(f"{name:<20} {s.family:<9} {s.preprocess.image_size}px  grad-cam: {s.gradcam_layer:<10} {s.description}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a run's detector to ONNX")
    p.add_argument("run", nargs="?", help="run folder (default: the bundled detector)")
    p.add_argument("--format", default="onnx", choices=["onnx"])
    p.add_argument("--out", help="output folder (default: the run folder)")


def _export(args) -> int:
    from .inference import load
    from .inference.export import export_run

    detector = load(args.run, backend="torch")
    out = args.out or args.run
    if out is None:
        raise FakelensError("--out is required when exporting the bundled detector")
    print(json.dumps(export_run(detector, out), indent=2))
    return 0


COMMANDS = {
    "train": (_add_train, _train),
    "evaluate": (_add_evaluate, _evaluate),
    "compare": (_add_compare, _compare),
    "predict": (_add_predict, _predict),
    "export": (_add_export, _export),
    "models": (_add_models, _models),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakelens", description="Tell real face images and videos from deepfakes, and show why.")
    parser.add_argument("--version", action="version", version=f"fakelens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except FakelensError as exc:
        print(f"fakelens: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:
        print(f"fakelens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fakelens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
