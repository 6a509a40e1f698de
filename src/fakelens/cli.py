"""The ``fakelens`` command: parses arguments and delegates; no logic lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._version import __version__
from .errors import FakelensError


# ---------------------------------------------------------------- argument and output checks (before any work)
def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least} (got {value})")
    return value


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``--batch-size 0`` is a usage error, not a crash later)."""
    return _whole_number(text, 1)


def _port(text: str) -> int:
    """argparse type: a TCP port, 0 (any free one) to 65535."""
    value = _whole_number(text, 0)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535 (got {value})")
    return value


def _non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0 (0 turns a count off)."""
    return _whole_number(text, 0)


def _writable_folder(folder: str, what: str, path: str) -> None:
    """``folder`` (or its nearest existing parent, where it would be created) must be a folder we may write in."""
    from pathlib import Path

    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FakelensError(f"{what} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FakelensError(f"{what} {path}: cannot write in {existing} (permission denied)")


def check_output_file(path: str | None, what: str = "--output") -> None:
    """Refuse an output file that cannot be written, before the batch runs (its results would be lost)."""
    if path is None:
        return
    if os.path.isdir(path):
        raise FakelensError(f"{what} {path} is a folder; give a file name such as {os.path.join(path, 'predictions.csv')}")
    _writable_folder(os.path.dirname(os.path.abspath(path)), what, path)


def check_output_folder(path: str | None, what: str = "--out") -> None:
    """Refuse an output folder that is a file or cannot be created, before any work."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise FakelensError(f"{what} {path} is a file, not a folder")
    _writable_folder(path, what, path)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a detector on a dataset")
    from .training.config import TrainConfig  # pydantic only: the options, their types and help have one home
    from .utils.options import add_config_options

    add_config_options(p, TrainConfig, skip=("world_size",), flags={"distill_sources": "--distill-source"})
    p.add_argument(
        "--nproc-per-node",
        type=_positive_int,
        default=1,
        help="train on N processes of this machine (DDP, as torchrun --standalone, but listening on loopback only)",
    )
    p.add_argument("--config", help="YAML/JSON file of training options (command-line options override it)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, with its saved options (those given again replace them: how long and how to run may change)",
    )


def _train(args) -> int:
    from .training import TrainConfig, resume, train
    from .training.distributed import launched_by_torchrun

    if args.nproc_per_node > 1 and not launched_by_torchrun():  # each rank runs this same command line
        from .training.launch import launch_on_loopback

        return launch_on_loopback(args.nproc_per_node, args.argv)
    options = {
        k: v for k, v in vars(args).items() if k not in ("command", "config", "resume", "func", "nproc_per_node", "argv") and v is not None
    }
    from .training.config import read_config_file

    base = read_config_file(args.config) if args.config else {}
    base.update(options)
    if "out" not in base:
        raise FakelensError("--out is required (the run folder)")
    if args.resume:
        resume(base.pop("out"), **base)
        return 0
    if "data" not in base:
        raise FakelensError("--data is required (or a --config that names it)")
    train(TrainConfig.from_dict(base))
    return 0


def _add_calibrate(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="refit a run's TTA choice, temperature, threshold and REAL/UNCERTAIN/FAKE bands on its validation split"
    )
    p.add_argument("run", help="run folder (with split.csv, or the bundled detector's split.csv.gz)")
    p.add_argument("--split", help="take the validation faces from this split.csv (default: the run's own)")
    _add_tta(p)
    p.add_argument(
        "--precision", type=float, default=0.9, help="FAKE (and REAL) verdicts must be right this often on validation (default 0.9)"
    )
    p.add_argument(
        "--max-real-called-fake",
        type=float,
        default=0.03,
        help="at most this share of each source's validation real faces may be called FAKE (default 0.03)",
    )
    p.add_argument(
        "--pooled",
        dest="per_source",
        action="store_false",
        help="apply --max-real-called-fake to all validation real faces pooled, not to each source's",
    )
    p.add_argument(
        "--max-views",
        type=int,
        choices=range(0, 4),
        metavar="N",
        help="consider only test-time view sets of at most N views (0-3; each is one more model pass: a speed budget)",
    )
    p.add_argument("--num-workers", type=int, default=1)


def _calibrate(args) -> int:
    from .training.calibrate import calibrate_run

    fitted = calibrate_run(
        args.run, args.tta, args.precision, args.max_real_called_fake, args.num_workers, args.per_source, args.max_views, args.split
    )
    print(json.dumps({k: fitted[k] for k in ("tta", "tta_views", "temperature", "threshold", "bands")}, indent=2))
    return 0


def _add_fuse(sub) -> None:
    p = sub.add_parser(
        "fuse",
        help="trained runs -> one run of their fusion (a registered fusion model: each member at its own input size, "
        "their calibrated logits mixed); calibrate it next",
    )
    p.add_argument("runs", nargs="+", help="two or more trained run folders with the same split, in the fusion's member order")
    p.add_argument("--out", required=True, help="the fused run's folder")
    p.add_argument("--weight", type=float, action="append", help="each run's share of the mix, in order (default: equal)")
    p.add_argument("--full-precision", dest="half", action="store_false", help="store the weights in float32 (default: float16)")
    p.add_argument(
        "--shrink",
        choices=("float", "pil"),
        default="float",
        help="how a smaller member's input is made: PIL's filter as a float product (default), or PIL's own 8-bit resize "
        "(pil: what the member was trained on)",
    )


def _fuse(args) -> int:
    from .training.fuse import fuse_runs

    out = fuse_runs(args.runs, args.out, args.weight, args.half, args.shrink)
    print(f"{out}: fused; next: fakelens calibrate {out}")
    return 0


def _add_unfuse(sub) -> None:
    p = sub.add_parser(
        "unfuse",
        help="a fused run -> one run folder per member (weights, temperature, the fusion's split), "
        "to continue a member with --init-weights or fuse it anew",
    )
    p.add_argument("run", help="a fused run folder, e.g. the bundled default's weights folder")
    p.add_argument("--out", required=True, help="folder for the member folders (<i>-<model>-<size>)")


def _unfuse(args) -> int:
    from .training.fuse import unfuse_run

    for folder in unfuse_run(args.run, args.out):
        print(f"{folder}: a member; calibrate it before scoring with it alone: fakelens calibrate {folder}")
    return 0


def _add_calibrate_videos(sub) -> None:
    p = sub.add_parser(
        "calibrate-videos",
        help="fit a run's video bands: its validation faces as short H.264 clips through the video path, "
        "frames pooled by --aggregate, bands fitted on the pooled scores",
    )
    p.add_argument("run", help="run folder (with split.csv, or the bundled detector's split.csv.gz), calibrated for faces already")
    p.add_argument("--split", help="take the validation faces from this split.csv (default: the run's own)")
    p.add_argument("--per-source", type=_positive_int, default=100, help="clips of each class from each source (default 100)")
    p.add_argument("--frames", type=_positive_int, default=12, help="frames a clip has and the video path samples (default 12)")
    p.add_argument("--aggregate", default="topk", choices=["confident", "mean", "topk"], help="frame pooling (default topk)")
    p.add_argument("--precision", type=float, default=0.9, help="FAKE (and REAL) video verdicts must be right this often")
    p.add_argument("--max-real-called-fake", type=float, default=0.03, help="at most this share of each source's real clips called FAKE")
    p.add_argument("--seed", type=int, default=0)


def _calibrate_videos(args) -> int:
    from .training.video_calibration import calibrate_videos_run

    report = calibrate_videos_run(
        args.run,
        split=args.split,
        per_source=args.per_source,
        n_frames=args.frames,
        aggregate=args.aggregate,
        precision=args.precision,
        max_real_called_fake=args.max_real_called_fake,
        seed=args.seed,
    )
    print(json.dumps({k: report[k] for k in ("aggregate", "videos", "no_face", "video_bands", "val_videos")}, indent=2))
    return 0


def _add_benchmark(sub) -> None:
    p = sub.add_parser(
        "benchmark",
        help="several detectors on several datasets: AUC, real faces called FAKE, fakes caught, ECE, "
        "per-group FPR; each dataset also as a size- and JPEG-matched copy, with a size-only baseline row",
    )
    p.add_argument("bench", help="benchmark YAML (datasets: name, data, split, groups, matched)")
    p.add_argument("runs", nargs="*", help="run folders (default: the bundled detector)")
    p.add_argument("--out", required=True, help="output folder: benchmark.md/.csv/.json/.png")
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument(
        "--bootstrap",
        type=_non_negative_int,
        default=1000,
        help="draws for the 95%% intervals of accuracy and ROC-AUC, resampling each source's groups whole (0: none)",
    )


def _benchmark(args) -> int:
    from .evaluation.benchmark import run_benchmark

    rows = run_benchmark(args.bench, args.runs or [None], args.out, args.num_workers, args.bootstrap)
    print((__import__("pathlib").Path(args.out) / "benchmark.md").read_text())
    return 0 if rows else 3


def _add_robustness(sub) -> None:
    p = sub.add_parser("robustness", help="accuracy and AUC under JPEG, resizing, blur, noise and the social-media chain")
    p.add_argument("run", nargs="?", help="run folder (default: the bundled detector)")
    p.add_argument("--data", required=True, help="dataset (any layout) or source YAML")
    p.add_argument("--out", help="output folder (default: RUN/robustness-<source>)")
    p.add_argument("--max-images", type=int, default=1000, help="score at most this many images (default 1000)")
    p.add_argument(
        "--split",
        choices=["train", "val", "test"],
        help="only the images of this part of RUN's split.csv (e.g. test: groups the run never trained on)",
    )


def _robustness(args) -> int:
    from .evaluation.robustness import robustness_run

    rows = robustness_run(args.run, args.data, args.out, args.max_images, split=args.split)
    for r in rows:
        print(
            f"{r['perturbation']:>12}  accuracy {r['accuracy']:.4f}  AUC {r['roc_auc'] if r['roc_auc'] is None else round(r['roc_auc'], 4)}"
        )
    return 0


def _add_shard(sub) -> None:
    p = sub.add_parser("shard", help="write a dataset's training split as WebDataset-style tar shards (train --data SHARDS/)")
    p.add_argument("data", help="dataset: Kaggle layout folder, real/+fake/ folders or a CSV manifest")
    p.add_argument("--out", required=True, help="shard folder: train-NNNNNN.tar, split.csv, shards.json")
    p.add_argument("--samples-per-shard", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="the group split's seed (as in train)")
    p.add_argument("--split-method", choices=["hash", "shuffle"], default="hash", help="as in train")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)


def _shard(args) -> int:
    from .data.shards import REPORT_FILE, write_shards

    index = write_shards(
        args.data,
        args.out,
        samples_per_shard=args.samples_per_shard,
        seed=args.seed,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        split_method=args.split_method,
    )
    print(
        json.dumps(
            {"out": args.out, "train_samples": index["train_samples"], "shards": len(index["shards"]), "refused": index["refused"]},
            indent=2,
        )
    )
    if index["refused"]:
        import csv

        report = os.path.join(args.out, REPORT_FILE)
        with open(report, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                print(f"fakelens: skipped {row['path']}: {row['error']}", file=sys.stderr)
        print(f"fakelens: {index['refused']} training file(s) refused; see {report}", file=sys.stderr)
        return 3
    return 0


def _add_tta(p) -> None:
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test-time augmentation: average each face with its saved views (the mirror image, a zoomed view; one more "
        "model pass each); default: as the detector was saved",
    )


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics and plots for a trained run")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="evaluate on this whole dataset instead of the run's test split")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output folder (default RUN/eval)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--num-workers", type=int, default=1)
    _add_tta(p)


def _evaluate(args) -> int:
    from .evaluation.evaluate import evaluate_run

    m = evaluate_run(
        args.run, data=args.data, out=args.out, split=args.split, num_workers=args.num_workers, backend=args.backend, tta=args.tta
    )
    print(json.dumps({k: m[k] for k in ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece")}, indent=2))
    return 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="leaderboard of several runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)


def _compare(args) -> int:
    from .evaluation.compare import compare_runs

    _print_leaderboard(compare_runs(args.runs, args.out))
    return 0


def _print_leaderboard(rows: list[dict]) -> None:
    for r in rows:
        print(f"{r['name']:<28} acc={r['accuracy']:.4f} auc={r['roc_auc']:.4f}")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="find and score the faces in photos and videos, or score face crops")
    p.add_argument("inputs", nargs="*", help="photos, videos, face crops, or folders of them")
    p.add_argument(
        "--manifest",
        help="also score the files this lists: a text file (one path per line) or a Parquet "
        "file with a 'path' column; relative paths are relative to the manifest's folder",
    )
    p.add_argument("--run", help="run folder (default: the bundled detector)")
    p.add_argument(
        "--output",
        "-o",
        help="CSV or .parquet file (one row per face) or .json file (everything, per "
        "frame/person/video); with videos a CSV or Parquet file also gets the .json beside it (default: CSV on standard output)",
    )
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--crops", action="store_true", help="the images are face crops: score each whole image, no face detection")
    p.add_argument("--frames", type=_positive_int, default=32, help="frames sampled evenly from each video (default 32)")
    p.add_argument(
        "--aggregate",
        default=None,
        choices=["confident", "mean", "topk"],
        help="per-person/per-video pooling of frame scores (default: the one the detector's video bands were fitted for, "
        "topk for the bundled detector: the mean logit of the most fake quarter of the frames; confident: the DFDC "
        "winner's; a pooling without fitted video bands is judged with the face bands)",
    )
    p.add_argument(
        "--annotate",
        metavar="DIR",
        help="write photos with numbered boxes coloured by verdict (the rows' marker "
        "column is the legend), and for videos an H.264 video, a per-frame plot and the full JSON, into DIR",
    )
    p.add_argument("--face-detector", default="yuface", help="yuface (default) or res10")
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="processes for many photos (default: one per core from 256 photos on, with an ONNX detector; 1: this process only)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="score on Ray Data: 'local' (the default: a Ray instance on this machine) or a cluster address "
        "(e.g. ray://head:10001 or auto); the same rows, one single-threaded ONNX detector per worker",
    )
    p.add_argument("--ray-workers", type=int, help="Ray actors, one CPU each (default: every CPU of the cluster)")
    _add_tta(p)


def _predict_paths(args, expand) -> list[str]:
    from .inference.files import read_manifest

    if not args.inputs and not args.manifest:
        raise FakelensError("give files or folders to score, or --manifest")
    # Under Ray the manifest is read by Ray itself (a Parquet manifest may list millions of files).
    return expand(args.inputs) + (read_manifest(args.manifest) if args.manifest and args.ray is None else [])


def _predict(args) -> int:
    from .inference.files import expand_inputs

    check_output_file(args.output)
    check_output_folder(args.annotate, "--annotate")
    if args.annotate and args.ray is not None:
        raise FakelensError("--annotate runs without --ray")
    if not args.crops or args.annotate:
        return _predict_media(args)
    detector = None
    if args.ray is None:  # a bad run folder is reported before any input is looked at
        from .inference import load

        detector = load(args.run, backend=args.backend, tta=args.tta)
    paths = _predict_paths(args, expand_inputs)
    if not paths and not (args.ray is not None and args.manifest):
        raise FakelensError("no images found in the given inputs")
    if args.ray is not None:
        from .scaleout.ray_batch import score_crops_on_ray

        rows = score_crops_on_ray(
            paths,
            manifest=args.manifest,
            address=args.ray,
            workers=args.ray_workers,
            progress=args.output is not None,
            **_scoring_options(args),
        )
    else:
        rows = detector.score_files(paths, batch_size=args.batch_size, progress=args.output is not None)
    return _report_rows(rows, args.output)


def _scoring_options(args) -> dict:
    return dict(run=args.run, backend=args.backend, tta=args.tta, batch_size=args.batch_size)


def _report_rows(rows: list[dict], output: str | None) -> int:
    from .inference.files import PREDICT_COLUMNS, write_rows

    if output:
        write_rows(rows, output)
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


def _predict_media(args) -> int:
    from .faces.batch import expand_media, predict_media, summary, write_results

    if args.frames < 1:
        raise FakelensError("--frames must be at least 1")
    detector = None
    if args.ray is None:  # a bad run folder is reported before any input is looked at
        from .inference import load

        detector = load(args.run, backend=args.backend, tta=args.tta)
    paths = _predict_paths(args, expand_media)
    if not paths and not (args.ray is not None and args.manifest):
        raise FakelensError("no images or videos found in the given inputs")
    options = dict(crops=True if args.crops else None, frames=args.frames, aggregate_by=args.aggregate)
    if args.ray is not None:
        from .scaleout.ray_batch import predict_media_on_ray

        results = predict_media_on_ray(
            paths,
            manifest=args.manifest,
            address=args.ray,
            workers=args.ray_workers,
            face_detector=args.face_detector,
            progress=args.output is not None,
            **options,
            **_scoring_options(args),
        )
    else:
        from .faces.pipeline import FacePipeline

        pipeline = FacePipeline(detector, args.face_detector, batch_size=args.batch_size)
        results = predict_media(
            pipeline, paths, annotate_dir=args.annotate, progress=args.output is not None, workers=args.workers, **options
        )
    write_results(results, args.output)
    failed, no_face = summary(results)
    if no_face:
        print(f"fakelens: {no_face} of {len(results)} input(s) had no face (status no_face)", file=sys.stderr)
    if failed:
        print(f"fakelens: {failed} of {len(results)} item(s) failed; see the error column", file=sys.stderr)
        return 3
    return 0


def _add_extract_faces(sub) -> None:
    p = sub.add_parser("extract-faces", help="raw DFDC videos -> face crops in the Kaggle deepfake-faces layout")
    p.add_argument("videos", help="folder of videos (a DFDC train folder)")
    p.add_argument("--metadata", help="DFDC metadata.json with the labels (default: VIDEOS/metadata.json)")
    p.add_argument("--out", required=True, help="dataset folder: metadata.csv + faces_224/")
    p.add_argument("--frames", type=_positive_int, default=8, help="frames sampled per video; the largest face is kept (default 8)")
    p.add_argument("--face-detector", default="yuface", help="yuface (default) or res10")
    p.add_argument("--overwrite", action="store_true", help="redo videos already extracted into --out")


def _extract_faces(args) -> int:
    from pathlib import Path

    from .data.extract import extract_faces

    metadata = args.metadata or str(Path(args.videos) / "metadata.json")
    report = extract_faces(
        args.videos, metadata, args.out, frames=args.frames, face_detector=args.face_detector, overwrite=args.overwrite, progress=True
    )
    for name, reason in report.failed.items():
        print(f"fakelens: skipped {name}: {reason}", file=sys.stderr)
    summary = report.to_dict()
    summary.pop("failures")
    print(json.dumps(summary, indent=2))
    if report.failed:
        print(f"fakelens: {len(report.failed)} video(s) skipped; see {Path(args.out) / 'extract_report.csv'}", file=sys.stderr)
        return 3
    return 0


def _add_crop_faces(sub) -> None:
    p = sub.add_parser("crop-faces", help="a dataset of photos -> the face crops predict would score (train as you infer)")
    p.add_argument("data", help="dataset: real/ + fake/ folders, a CSV manifest (path,label[,group]) or a Kaggle layout")
    p.add_argument("--out", required=True, help="output: real/, fake/, manifest.csv, crop_report.csv")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")


def _crop_faces(args) -> int:
    from .data.crop_dataset import crop_dataset

    summary = crop_dataset(args.data, args.out, workers=args.workers)
    print(json.dumps(summary, indent=2))
    if summary["refused"]:
        print(
            f"fakelens: {summary['refused']} row(s) refused: their crop would be written outside {args.out}; "
            f"see {os.path.join(args.out, 'crop_report.csv')}",
            file=sys.stderr,
        )
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
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="also try int8 (kept only if val accuracy drops <= 0.5 points and it runs faster than float32 here)",
    )


def _export(args) -> int:
    from .export.exporter import export_run
    from .inference import load

    detector = load(args.run, backend="torch")
    out = args.out or args.run
    if out is None:
        raise FakelensError("--out is required when exporting the bundled detector")
    print(json.dumps(export_run(detector, out), indent=2))
    if args.quantize:
        from .export.quantize import quantize_run

        print(json.dumps(quantize_run(detector, out), indent=2))
    return 0


def _add_adapt(sub) -> None:
    p = sub.add_parser("adapt", help="teach a detector a new kind of fake from examples (a head on its features; no PyTorch)")
    p.add_argument(
        "--fake", action="append", required=True, metavar="DIR", help="photos, face crops or videos of the new fake (repeatable)"
    )
    p.add_argument("--real", action="append", required=True, metavar="DIR", help="real ones like them (repeatable)")
    p.add_argument("--from", dest="base", metavar="RUN", help="the detector to adapt (default: the bundled detector)")
    p.add_argument("--out", required=True, metavar="NEW", help="the new detector folder (must not exist)")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument(
        "--evaluate",
        action="append",
        metavar="DIR",
        help="then compare the new detector with its base on this labelled "
        "folder (real/ + fake/, a manifest or a Kaggle layout); repeatable",
    )
    p.add_argument("--crops", action="store_true", help="the images are face crops: take each whole, no face detection")
    p.add_argument("--face-detector", default="yuface", help="yuface (default) or res10")


def _adapt(args) -> int:
    from .adapt import adapt, evaluate

    check_output_folder(args.out)
    crops = True if args.crops else None
    summary = adapt(
        args.fake,
        args.real,
        args.out,
        base=args.base,
        seed=args.seed,
        face_detector=args.face_detector,
        crops=crops,
        warn=lambda text: print(f"fakelens: warning: {text}", file=sys.stderr),
    )
    val = summary["validation"]
    print(f"wrote {summary['out']} (adapted from {summary['from']}; {summary['fitted_on']} faces fitted, {summary['held_back']} held back)")
    _print_figures(f"held-back examples ({val['base']['n_real']} real, {val['base']['n_fake']} fake)", val)
    for data in args.evaluate or []:
        result = evaluate(args.out, data, face_detector=args.face_detector, crops=crops)
        _print_figures(f"{data} ({result['base']['n_real']} real, {result['base']['n_fake']} fake)", result)
    return 0


def _print_figures(title: str, result: dict) -> None:
    fmt = lambda v, pct=True: "  n/a" if v is None else (f"{100 * v:5.1f}%" if pct else f"{v:.4f}")  # noqa: E731
    print(f"\n{title}\n{'detector':10} {'AUC':>7} {'accuracy':>9} {'caught':>7} {'accused':>8}")
    for name in ("base", "adapted"):
        f = result[name]
        print(f"{name:10} {fmt(f['auc'], False):>7} {fmt(f['accuracy']):>9} {fmt(f.get('caught')):>7} {fmt(f.get('accused')):>8}")


def _add_explain(sub) -> None:
    p = sub.add_parser("explain", help="Grad-CAM and LIME figures: why a face was called FAKE or REAL")
    p.add_argument("inputs", nargs="+", help="face crops or photos (files or folders)")
    p.add_argument("--run", help="run folder (default: the bundled detector)")
    p.add_argument("--crops", action="store_true", help="the images are face crops: explain each whole image, no face detection")
    p.add_argument("--face-detector", default="yuface", help="yuface (default) or res10, for faces in whole photos")
    p.add_argument("--method", default="all", help="gradcam, lime or all (default: all)")
    p.add_argument(
        "--cam", default="gradcam", help="Grad-CAM variant: gradcam, gradcam++, xgradcam, hirescam, layercam, eigengradcam, scorecam"
    )
    p.add_argument("--lime-samples", type=int, default=1000, help="perturbed faces LIME scores per image")
    p.add_argument("--top-k", type=int, default=5, help="superpixels LIME shows (and the faithfulness check removes)")
    p.add_argument("--segmentation", default="slic", help="LIME superpixels: slic or quickshift")
    p.add_argument("--no-faithfulness", dest="faithfulness", action="store_false", help="skip the deletion check")
    p.add_argument("--out", required=True, help="folder for one figure per image, grid.png and explanations.json")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"], help="scoring backend (Grad-CAM always uses torch)")


def _explain(args) -> int:
    from .explain import ExplainConfig, explain_files
    from .inference import load
    from .inference.files import expand_inputs

    check_output_folder(args.out)
    # a bad option is a ConfigError (exit code 2), before the detector is loaded or any image read
    config = ExplainConfig(
        methods=args.method,
        cam=args.cam,
        lime_samples=args.lime_samples,
        top_k=args.top_k,
        segmentation=args.segmentation,
        faithfulness=args.faithfulness,
    )
    detector = load(args.run, backend=args.backend)
    paths = expand_inputs(args.inputs)
    if not paths:
        raise FakelensError("no images found in the given inputs")
    rows = explain_files(
        detector,
        paths,
        args.out,
        config=config,
        progress=True,
        crops=True if args.crops else None,
        face_detector=args.face_detector,
    )
    failed = [r for r in rows if r["error"]]
    for r in failed:
        print(f"fakelens: {r['error']}", file=sys.stderr)
    for r in rows:
        if r["status"] == "no_face":
            print(f"fakelens: {r['path']}: no face found", file=sys.stderr)
    print(f"fakelens: {sum(1 for r in rows if r['figure'])} figure(s) and explanations.json in {args.out}", file=sys.stderr)
    if failed:
        print(f"fakelens: {len(failed)} of {len(rows)} item(s) failed; see the error field", file=sys.stderr)
        return 3
    return 0


def _add_study(sub) -> None:
    p = sub.add_parser("study", help="train, evaluate and compare every model config in a folder")
    p.add_argument("configs", help="folder of *.yaml training configs (one per model)")
    p.add_argument("--data", default="", help="dataset (default: the one each config names)")
    p.add_argument("--out", required=True, help="study folder: one run per config + leaderboard/")
    p.add_argument("--only", nargs="*", help="config or model names to run")
    p.add_argument("--pretrained-dir", help="folder of ImageNet weights named <model>.safetensors/.pth")
    p.add_argument("--report", action="store_true", help="also write the HTML report into OUT/report")


def _study(args) -> int:
    from .training.study import run_study

    rows = run_study(args.configs, args.data, args.out, only=args.only, pretrained_dir=args.pretrained_dir)
    if args.report:
        from .evaluation.report import write_report

        write_report([os.path.join(args.out, r["name"]) for r in rows], os.path.join(args.out, "report"))
    _print_leaderboard(rows)
    return 0


def _add_tune(sub) -> None:
    p = sub.add_parser("tune", help="Optuna search over training hyper-parameters (resumable)")
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--out", required=True, help="folder for study.db, trials/ and best_config.yaml")
    p.add_argument("--config", help="base training config (YAML/JSON)")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--per-class", type=int, default=2000)
    p.add_argument("--image-size", type=int, help="fix the image size instead of searching it")
    p.add_argument("--max-steps-per-epoch", type=int)
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)


def _tune(args) -> int:
    from .training import TrainConfig
    from .training.config import read_config_file
    from .training.tune import SEARCH_SPACE, tune

    base = read_config_file(args.config) if args.config else {}
    base.update(
        data=args.data,
        model=args.model,
        epochs=args.epochs,
        per_class=args.per_class,
        num_workers=args.num_workers,
        max_steps_per_epoch=args.max_steps_per_epoch,
        seed=args.seed,
        out=args.out,
    )
    if args.image_size:
        base["image_size"] = args.image_size
    space = {k: v for k, v in SEARCH_SPACE.items() if not (k == "image_size" and args.image_size)}
    study = tune(TrainConfig.from_dict(base), args.out, n_trials=args.trials, timeout=args.timeout, seed=args.seed, space=space)
    print(json.dumps({"best_value": study.best_value, "best_params": study.best_params}, indent=2))
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="one HTML + Markdown report comparing runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)


def _report(args) -> int:
    from .evaluation.report import write_report

    print(write_report(args.runs, args.out))
    return 0


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="REST service and web page (FastAPI + uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--run", help="run folder (default: the bundled detector)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument(
        "--insecure-open",
        action="store_true",
        help="serve beyond loopback with neither an API key nor trusted hosts (refused without it; or FAKELENS_INSECURE_OPEN=1)",
    )
    p.add_argument(
        "--api-key", help="require this key on /v1 routes; it shows in the process list, so prefer FAKELENS_API_KEY or --api-key-file"
    )
    p.add_argument("--api-key-file", help="read the API key from this file (or FAKELENS_API_KEY_FILE)")
    p.add_argument("--workers", type=_positive_int, help="inference threads (default 2)")
    p.add_argument(
        "--processes",
        type=_positive_int,
        help="uvicorn worker processes on the port, each with its own detector (default 1, or FAKELENS_PROCESSES)",
    )


def _serve(args) -> int:
    from .service import serve
    from .utils.env import env_number

    # read here, not as the option's default: a bad value must not stop every other command from parsing
    processes = args.processes if args.processes is not None else env_number("FAKELENS_PROCESSES", 1, least=1)
    serve(
        args.host,
        args.port,
        run=args.run,
        api_key=args.api_key,
        api_key_file=args.api_key_file,
        backend=args.backend,
        workers=args.workers,
        processes=processes,
        insecure_open=args.insecure_open,
    )
    return 0


COMMANDS = {
    "train": (_add_train, _train),
    "shard": (_add_shard, _shard),
    "evaluate": (_add_evaluate, _evaluate),
    "compare": (_add_compare, _compare),
    "predict": (_add_predict, _predict),
    "extract-faces": (_add_extract_faces, _extract_faces),
    "crop-faces": (_add_crop_faces, _crop_faces),
    "calibrate": (_add_calibrate, _calibrate),
    "calibrate-videos": (_add_calibrate_videos, _calibrate_videos),
    "fuse": (_add_fuse, _fuse),
    "unfuse": (_add_unfuse, _unfuse),
    "benchmark": (_add_benchmark, _benchmark),
    "robustness": (_add_robustness, _robustness),
    "export": (_add_export, _export),
    "explain": (_add_explain, _explain),
    "models": (_add_models, _models),
    "study": (_add_study, _study),
    "tune": (_add_tune, _tune),
    "report": (_add_report, _report),
    "serve": (_add_serve, _serve),
    "adapt": (_add_adapt, _adapt),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakelens", description="Tell real face images and videos from deepfakes, and show why.")
    parser.add_argument("--version", action="version", version=f"fakelens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as given ('train --nproc-per-node' starts it again in each rank)
    try:
        return COMMANDS[args.command][1](args)
    except FakelensError as exc:
        print(f"fakelens: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # OSError: a file that cannot be read or written, said in one line
        print(f"fakelens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fakelens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
