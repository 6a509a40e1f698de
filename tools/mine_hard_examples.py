"""List a source's hard examples: the training images of one class a detector scores most wrongly (maintainers' tool).

    python tools/mine_hard_examples.py --data configs/data/openforensics.yaml --label real --top 0.1 \
        --out configs/data/hard/openforensics_reals.txt [--run DETECTOR_DIR]

Only the ``train`` side of the detector's split is read, so a list never names a validation or test image. For
``real`` the highest P(FAKE) are hard, for ``fake`` the lowest. The file holds one key (the image's path inside its
source's folder) a line, under a ``#`` header saying how it was made; a source YAML's ``hard:`` reads it
(:class:`fakelens.data.multisource.SourceSpec`). Default DETECTOR_DIR: the bundled detector.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from fakelens.data.multisource import SourceSpec, sample_keys, source_side
from fakelens.errors import FakelensError
from fakelens.inference.detector import DEFAULT_DIR, Detector
from fakelens.labels import FAKE, REAL
from fakelens.utils.atomic import atomic_path
from fakelens.utils.rundir import RunDir


def hardest(probs: np.ndarray, label: int, top: float) -> np.ndarray:
    """Indices of the ``top`` share (at least one) of the images most wrongly scored for ``label``, hardest first."""
    wrongness = probs if label == REAL else 1.0 - probs
    return np.argsort(-wrongness, kind="stable")[: max(1, int(round(top * len(probs))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(DEFAULT_DIR), help="detector folder whose split and scores are used")
    ap.add_argument("--data", required=True, help="the source YAML (an image source)")
    ap.add_argument("--label", choices=["real", "fake"], required=True)
    ap.add_argument("--top", type=float, default=0.1, help="share of that class's training images to list")
    ap.add_argument("--out", required=True, help="the list to write")
    args = ap.parse_args(argv)
    if not 0 < args.top <= 1:
        ap.error("--top is a share in (0, 1]")
    try:
        spec = SourceSpec.parse(args.data)
        split = RunDir(args.run).split_file()
        if split is None:
            raise FakelensError(f"{args.run}: no split.csv: its training side is unknown")
        label = REAL if args.label == "real" else FAKE
        train = [s for s in source_side(spec, split, "train") if s.label == label]
        if not train:
            raise FakelensError(f"{spec.name}: no {args.label} training images of {args.run}'s split on this machine")
        detector = Detector.from_dir(args.run)
        rows = detector.score_files([s.path for s in train], progress=True, provenance=False)
        scored = [(s, r["prob_fake"]) for s, r in zip(train, rows) if r["prob_fake"] is not None]
        probs = np.array([p for _, p in scored])
        pick = hardest(probs, label, args.top)
        keys = sample_keys([scored[i][0] for i in pick], [spec])
    except FakelensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    detector_name = "the bundled detector" if Path(args.run).resolve() == DEFAULT_DIR.resolve() else args.run
    header = [
        f"# {spec.name}: the {len(pick)} of {len(scored)} {args.label} training images that {detector_name} scores most wrongly",
        f"# (P(FAKE) {'from' if label == REAL else 'up to'} {probs[pick[-1]]:.4f}); made by tools/mine_hard_examples.py --top {args.top}",
    ]
    out = Path(args.out)
    with atomic_path(out) as tmp:
        Path(tmp).write_text("\n".join(header + keys) + "\n")
    print(f"{out}: {len(pick)} {args.label} images (of {len(scored)}); P(FAKE) cut {probs[pick[-1]]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
