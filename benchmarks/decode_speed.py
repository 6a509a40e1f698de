"""JPEG decode + resize to the model size: which library, by the numbers.

    python benchmarks/decode_speed.py --size 160 --n 300
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torchvision.io import decode_jpeg, read_file
from torchvision.transforms.v2.functional import resize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, sample_images, timeit  # noqa: E402

from fakelens.imaging.imageio import open_image  # noqa: E402
from fakelens.imaging.preprocess import resize_square  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    paths = sample_images(args.n)
    blobs = [Path(p).read_bytes() for p in paths]
    s = args.size

    def pil():
        for p in paths:
            np.asarray(Image.open(p).convert("RGB").resize((s, s), Image.BILINEAR))

    def pil_draft():
        for p in paths:
            im = Image.open(p)
            im.draft("RGB", (s, s))
            np.asarray(im.convert("RGB").resize((s, s), Image.BILINEAR))

    def fakelens_path():  # what Detector.decode does: safe open (EXIF, modes, bomb check) + draft + resize
        for p in paths:
            np.asarray(resize_square(open_image(p, draft_size=s), s))

    def opencv():
        for b in blobs:
            im = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
            cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2RGB), (s, s), interpolation=cv2.INTER_LINEAR)

    def tv_decode():
        for p in paths:
            resize(decode_jpeg(read_file(p)), [s, s], antialias=False)

    rows = []
    for name, fn in [("PIL", pil), ("PIL + draft", pil_draft), ("fakelens open_image (PIL+draft+checks)", fakelens_path),
                     ("OpenCV imdecode", opencv), ("torchvision decode_jpeg", tv_decode)]:
        t = np.median(timeit(fn, repeat=3, warmup=1))
        rows.append({"decoder": name, "ms/image": f"{1000 * t / len(paths):.3f}", "images/s (1 thread)": f"{len(paths) / t:.0f}"})
    print(f"{len(paths)} JPEG crops -> {s}x{s} RGB uint8, one thread")
    print_table(rows, ["decoder", "ms/image", "images/s (1 thread)"])


if __name__ == "__main__":
    main()
