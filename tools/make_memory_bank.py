"""Write the memory bank that ships with a detector, for ``fakelens adapt`` (maintainers' tool).

    python tools/make_memory_bank.py [DETECTOR_DIR] [--max-per-source 800] [--components 256]

For each training source the detector lists (``detector.json`` ``info.trained_on``)
whose data is on this machine, the images on the ``val`` side of the detector's
``split.csv.gz`` are scored with the detector as it ships (TTA included); their
pooled features (PCA-reduced, float16), base logits, labels and source names go
to ``DETECTOR_DIR/memory_bank.npz`` (:mod:`fakelens.adapt.bank`). Sources that
are absent are listed and skipped: run it again when they are imported.
Default DETECTOR_DIR: the bundled detector.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fakelens.adapt.bank import BANK_FILE, MemoryBank
from fakelens.data.multisource import SourceSpec, source_side
from fakelens.errors import FakelensError
from fakelens.inference.detector import DEFAULT_DIR, Detector
from fakelens.inference.onnx_backend import file_weights_digest
from fakelens.sources import Sample

#: The committed bank's size limit (bytes).
MAX_BANK_BYTES = 3_000_000


def trained_on(folder: Path) -> list[SourceSpec]:
    info = json.loads((folder / "detector.json").read_text())["info"]
    return [SourceSpec(**spec) for spec in info.get("trained_on", [])]


def stored_sources(folder: Path) -> list[SourceSpec]:
    """The training sources with images of their own: a pseudo-fake source is made on the fly from another's reals."""
    return [spec for spec in trained_on(folder) if not spec.is_pseudo_fake]


def balanced_subset(samples: list[Sample], limit: int, rng: np.random.Generator) -> list[Sample]:
    """At most ``limit`` samples, half of each class where both have enough."""
    by_label = {c: [s for s in samples if s.label == c] for c in (0, 1)}
    half = limit // 2
    take = {c: min(len(v), max(half, limit - len(by_label[1 - c]))) for c, v in by_label.items()}
    out = []
    for c, items in by_label.items():
        idx = rng.permutation(len(items))[: take[c]]
        out += [items[i] for i in sorted(idx)]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--max-per-source", type=int, default=800, help="validation faces kept per source (balanced by class)")
    p.add_argument("--max-source", action="append", default=[], metavar="NAME=N", help="another limit for one source")
    p.add_argument("--components", type=int, default=256, help="PCA dimensions kept")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    folder = Path(args.folder)
    limits = {k: int(v) for k, v in (item.split("=", 1) for item in args.max_source)}
    detector = Detector.from_dir(folder)
    rng = np.random.default_rng(args.seed)
    chosen: list[Sample] = []
    for spec in stored_sources(folder):
        samples = source_side(spec, folder / "split.csv.gz", "val")
        if not samples:
            print(f"{spec.name}: absent ({spec.resolved_path}); skipped", file=sys.stderr)
            continue
        subset = balanced_subset(samples, limits.get(spec.name, args.max_per_source), rng)
        print(f"{spec.name}: {len(subset)} of {len(samples)} validation faces", file=sys.stderr)
        chosen += subset
    if not chosen:
        raise FakelensError("none of the detector's training sources is on this machine")
    from tqdm.auto import tqdm

    logits, features, kept = [], [], []
    for start in tqdm(range(0, len(chosen), 64), desc="memory bank", unit="batch"):
        part = chosen[start:start + 64]
        faces, ok = [], []
        for s in part:
            try:
                faces.append(detector.decode(s.path))
                ok.append(s)
            except FakelensError as exc:
                print(f"skipped {s.path}: {exc}", file=sys.stderr)
        if faces:
            lg, ft = detector.embed_arrays(faces)
            logits.append(lg)
            features.append(ft)
            kept += ok
    bank = MemoryBank.build(np.concatenate(features), np.concatenate(logits), [s.label for s in kept], [s.source for s in kept],
                            file_weights_digest(folder / "model.safetensors"), detector.views, args.components)
    path = bank.save(folder / BANK_FILE)
    size = path.stat().st_size
    print(json.dumps({"path": str(path), "bytes": size, "faces": len(bank), "sources": bank.counts()}, indent=2))
    if size > MAX_BANK_BYTES:
        print(f"warning: {size} bytes is over the {MAX_BANK_BYTES} limit; lower --max-per-source or --components", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
