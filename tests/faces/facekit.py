"""Photos and videos built from the real face photo ``skimage.data.astronaut()``, and a scorer with known answers."""

from __future__ import annotations

import cv2
import numpy as np

# The astronaut's head with some margin, and yuface's face box inside it
# (yuface finds (178, 63)-(267, 175) on the full 512x512 photo).
HEAD_REGION = (130, 20, 320, 230)  # x0, y0, x1, y1 in the astronaut photo
FACE_IN_HEAD = (48, 43, 137, 155)


def background(height: int, width: int, level: int = 80) -> np.ndarray:
    """A smooth grey gradient: no face-like texture for a detector to find."""
    ramp = np.linspace(level - 20, level + 20, width, dtype=np.float32)[None, :, None]
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8).copy()


def paste_heads(head: np.ndarray, size: tuple[int, int], placements, level: int = 80):
    """Paste ``head`` at ``(x, y, scale)`` placements; returns the photo and the expected face boxes."""
    h, w = size
    photo = background(h, w, level)
    boxes = []
    for x, y, scale in placements:
        part = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        ph, pw = part.shape[:2]
        photo[y : y + ph, x : x + pw] = part
        fx0, fy0, fx1, fy1 = FACE_IN_HEAD
        boxes.append((x + fx0 * scale, y + fy0 * scale, x + fx1 * scale, y + fy1 * scale))
    return photo, boxes


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def tint_green(rgb: np.ndarray) -> np.ndarray:
    """The 'fake' marker the colour-keyed scorer below reacts to."""
    out = rgb.astype(np.float32)
    out[..., 0] *= 0.55
    out[..., 1] = np.minimum(255, out[..., 1] * 1.15 + 30)
    return out.astype(np.uint8)


class GreenKeyedScorer:
    """A stand-in deepfake detector with known answers: P(fake) = 0.9 for green-tinted faces, else 0.15.

    It has what the face pipelines use from :class:`fakelens.Detector`
    (``predict_proba``, ``label``, ``verdict``, ``threshold``), so aggregation can be
    checked against numbers worked out by hand.
    """

    threshold = 0.5
    model_name = "green-keyed"
    FAKE, REAL = 0.9, 0.15

    def predict_proba(self, images, batch_size: int = 32) -> np.ndarray:
        out = []
        for im in images:
            a = np.asarray(im, dtype=np.float32)
            out.append(self.FAKE if a[..., 1].mean() - a[..., 0].mean() > 25 else self.REAL)
        return np.asarray(out)

    def label(self, p: float) -> str:
        return "FAKE" if p >= self.threshold else "REAL"

    verdict = label  # no bands: the verdict is the binary label


class BandedScorer(GreenKeyedScorer):
    """The colour-keyed scorer with calibrated bands: REAL / UNCERTAIN / FAKE, and a FAKE cut per number of faces."""

    def __init__(self, bands):
        from fakelens.inference.calibration import Calibration

        self.calibration = Calibration(bands=bands)

    def verdict(self, p: float) -> str:
        return self.calibration.verdict(p)

    label = verdict


def write_video(
    path,
    frames,
    fps: int = 10,
    codec: str = "libx264",
    gop: int | None = None,
    display_rotation: int | None = None,
    hflip: bool = False,
    tags: dict | None = None,
) -> None:
    """Encode RGB frames with PyAV directly (independent of fakelens.faces.write_video).

    ``display_rotation``: degrees counter-clockwise (FFmpeg's display-matrix convention) a player turns the
    stored frames, written as the container's display matrix (``hflip``: mirrored after the turn); ``tags``: stream
    metadata (e.g. ``rotate``).
    """
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if gop:
            stream.gop_size = gop
        if display_rotation is not None:
            stream.set_display_rotation(display_rotation, hflip=hflip)
        stream.metadata.update(tags or {})
        stream.options = {"preset": "ultrafast"} if codec == "libx264" else {}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        container.mux(stream.encode())
