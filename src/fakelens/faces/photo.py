"""Photo -> faces -> one verdict per face and one per image (the most-fake face decides).

An image that already is a face crop (like the DFDC crops the model trained
on) is recognised and scored whole: it is about square, and the crop that
would be cut around its one face covers most of it. ``crops=True`` forces that
mode, ``crops=False`` turns recognition off. An image without a face gets the
status ``no_face`` and no real/fake guess; one that cannot be read gets
``error`` with the reason.

Every result carries ``evidence``: what the file says about itself (C2PA,
XMP, generator metadata; :mod:`fakelens.provenance`) and the model's face
scores; the image's verdict follows the policy in
:mod:`fakelens.provenance.policy` (an AI claim makes it FAKE, with the reason).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import ImageReadError
from ..imaging.imageio import ImageInput, load_image, resize_rgb
from ..provenance import NO_PROVENANCE, EvidenceItem, Provenance, combine, model_item, read_provenance, short_evidence
from .annotate import BoxLabel, draw_faces, save_image
from .detectors import FaceBox
from .pipeline import FacePipeline

OK, NO_FACE, ERROR = "ok", "no_face", "error"

#: Crop recognition: the image is at most this much longer than wide ...
CROP_MAX_ASPECT = 1.3
#: ... and the square we would cut around its face overlaps the whole image by at
#: least this IoU. Re-framing the shared DFDC crops gives IoU 0.84 on average with
#: the original (p10 0.75, benchmarks/faces_framing.py), so 0.6 keeps nearly all
#: of them while a portrait with shoulders and background (IoU < 0.4) is a photo.
CROP_MIN_IOU = 0.6

#: The columns every face row starts with, photo or video frame (the one CSV layout both extend).
FACE_COLUMNS = ["path", "prob_fake", "verdict", "error", "status", "kind", "face", "x0", "y0", "x1", "y1", "det_score"]
PHOTO_COLUMNS = FACE_COLUMNS + [
    "image_prob",
    "image_verdict",
    "n_faces",
    "marker",
    "real_below",
    "fake_from",
    "image_fake_from",
    "evidence",
]


@dataclass
class FaceResult:
    index: int
    box: tuple[int, int, int, int]  # the detector's face box (the whole image for a crop)
    det_score: float | None  # face detector confidence (None when crop mode was forced)
    prob_fake: float
    label: str
    crop_box: tuple[int, int, int, int]  # the region that was resized to the model's crop

    def to_dict(self) -> dict:
        return {
            "face": self.index,
            "box": list(self.box),
            "det_score": _round(self.det_score),
            "prob_fake": _round(self.prob_fake, 6),
            "verdict": self.label,
            "crop_box": list(self.crop_box),
        }


@dataclass
class PhotoResult:
    path: str
    status: str  # ok | no_face | error
    kind: str = "photo"  # "photo", or "crop" when the whole image was scored as a face crop
    width: int | None = None
    height: int | None = None
    faces: list[FaceResult] = field(default_factory=list)
    error: str = ""
    crops: list[np.ndarray] = field(default_factory=list, repr=False)  # the scored crops, when asked for
    # The photo's verdict, fitted at photo level (set by predict_photo; None: the most-fake face's label).
    verdict: str | None = None
    # Where the verdicts' bands sit on the P(fake) scale ({"real_below", "fake_from"}): for each face, and for
    # the photo (judged by its most-fake face, whose FAKE cut rises with the number of faces).
    bands: dict | None = None
    image_bands: dict | None = None
    evidence: list[EvidenceItem] = field(default_factory=list)  # what the file says about itself (not the model)
    reasons: list[str] = field(default_factory=list)  # why the verdict is not the model's (an AI claim)
    warnings: list[str] = field(default_factory=list)  # about the metadata (an invalid manifest, a skipped block)

    @property
    def all_evidence(self) -> list[EvidenceItem]:
        """The file's own evidence, then the model's score for each face."""
        return self.evidence + [model_item(f"face {f.index}", f.prob_fake, f.label) for f in self.faces]

    @property
    def image_prob(self) -> float | None:
        """P(fake) of the image: the most-fake face decides (one fake face makes a fake photo)."""
        return max((f.prob_fake for f in self.faces), default=None)

    @property
    def image_label(self) -> str | None:
        if self.verdict is not None:
            return self.verdict
        best = max(self.faces, key=lambda f: f.prob_fake, default=None)
        return best.label if best else None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "width": self.width,
            "height": self.height,
            "image_prob": _round(self.image_prob, 6),
            "image_verdict": self.image_label,
            "n_faces": len(self.faces),
            "bands": self.bands,
            "image_bands": self.image_bands,
            "faces": [f.to_dict() for f in self.faces],
            "evidence": [e.to_dict() for e in self.all_evidence],
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
        }

    def rows(self) -> list[dict]:
        """One row per face (one row without face fields for ``no_face`` and ``error``).

        ``marker``: the number the face carries on annotated photos and the web page; ``real_below``/``fake_from``:
        the face verdict's band edges, ``image_fake_from``: where FAKE starts for the photo's verdict.
        """
        base = {
            "path": self.path,
            "error": self.error,
            "status": self.status,
            "kind": self.kind,
            "image_prob": _round(self.image_prob, 6),
            "image_verdict": self.image_label,
            "n_faces": len(self.faces),
            **_edge_columns(self.bands, self.image_bands, "image"),
            "evidence": short_evidence(self.evidence),
        }
        if not self.faces:
            return [{**base, "prob_fake": None, "verdict": None}]
        return [
            {
                **base,
                "prob_fake": _round(f.prob_fake, 6),
                "verdict": f.label,
                "face": f.index,
                "marker": f.index + 1,
                "x0": f.box[0],
                "y0": f.box[1],
                "x1": f.box[2],
                "y1": f.box[3],
                "det_score": _round(f.det_score),
            }
            for f in self.faces
        ]


def _edge_columns(bands: dict | None, whole: dict | None, what: str) -> dict:
    """The band edges as CSV columns: a face's, and where FAKE starts for the whole ``what`` (image or video)."""
    if not bands or not whole:
        return {}
    return {"real_below": bands["real_below"], "fake_from": bands["fake_from"], f"{what}_fake_from": whole["fake_from"]}


def _round(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(float(v), digits)


def _image_iou(square: tuple[float, float, float, float], height: int, width: int) -> float:
    x0, y0, x1, y1 = square
    ix = max(0.0, min(x1, width) - max(x0, 0.0))
    iy = max(0.0, min(y1, height) - max(y0, 0.0))
    inter = ix * iy
    union = (x1 - x0) * (y1 - y0) + width * height - inter
    return inter / union if union > 0 else 0.0


def find_faces(pipeline: FacePipeline, rgb: np.ndarray, recognise_crops: bool = True) -> tuple[list[FaceBox], bool]:
    """Faces in ``rgb`` (most confident first), and whether the image itself is a face crop.

    A tight crop (forehead cut, chin on the edge) often hides the face from a
    detector that needs context around it, so an about-square image gets a
    cheap look first: shrunk to :data:`CROP_LOOK_SIDES` px and padded with a
    black border, as in the framing measurement. If a look finds one face
    framed like a crop, the image is a crop and no full-size search is run (a
    folder of crops costs one small detection each, rarely two). Otherwise the
    full image is searched; the padded look's faces are kept when that search
    finds none (faces cut by the image edge).
    """
    h, w = rgb.shape[:2]
    if max(h, w) / max(1, min(h, w)) > CROP_MAX_ASPECT:
        return pipeline.detect(rgb), False
    for side in CROP_LOOK_SIDES if recognise_crops else CROP_LOOK_SIDES[-1:]:
        around = _padded_look(pipeline, rgb, side)
        if recognise_crops and len(around) == 1 and _image_iou(pipeline.framing.square(around[0]), h, w) >= CROP_MIN_IOU:
            return around, True
    faces = pipeline.detect(rgb)
    return faces or around, False


#: Sides the cheap crop looks shrink an image to before padding it (padded: twice this), smallest first. Of 300
#: crops each, an 80 px look recognises DFDC 293, LFW 299, OpenForensics 292, headshots 300 at a third of the
#: time of a 160 px look (DFDC 299); a 112 px look for the rest brings DFDC to 298.
CROP_LOOK_SIDES = (80, 112)


def _padded_look(pipeline: FacePipeline, rgb: np.ndarray, side: int) -> list[FaceBox]:
    """Faces found in a copy of ``rgb`` shrunk to ``side`` px with a black border of half that, in ``rgb``'s coordinates."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    small = resize_rgb(rgb, (max(1, round(w * scale)), max(1, round(h * scale)))) if scale < 1 else rgb
    pad = max(small.shape[:2]) // 2
    padded = np.pad(small, ((pad, pad), (pad, pad), (0, 0)))
    return [f.scaled(1.0, -pad, -pad).scaled(1.0 / scale) for f in pipeline.detect(padded)]


@dataclass
class LocatedPhoto:
    """A decoded photo and the faces to score in it: the first half of :func:`predict_photo`.

    Batch prediction locates faces in many photos and scores all their crops
    in one model call (:func:`fakelens.faces.batch.predict_media`).
    """

    path: str
    rgb: np.ndarray = field(repr=False)
    is_crop: bool
    faces: list[FaceBox]
    crops: list[np.ndarray] = field(repr=False)
    provenance: Provenance = NO_PROVENANCE


def source_provenance(source: ImageInput) -> Provenance:
    """The provenance a file path or encoded bytes carry (nothing for a decoded array or PIL image)."""
    return read_provenance(source) if isinstance(source, (str, os.PathLike, bytes)) else NO_PROVENANCE


def locate_faces(
    pipeline: FacePipeline,
    source: ImageInput,
    crops: bool | None = None,
    max_faces: int | None = None,
    provenance: Provenance | None = None,
) -> LocatedPhoto | PhotoResult:
    """Decode ``source`` and cut its face crops (the whole image for a face crop); a :class:`PhotoResult` on error.

    ``provenance``: the file's, when the caller read it from the encoded file (default: read from ``source``).
    """
    path = str(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"
    try:
        rgb = load_image(source)
    except ImageReadError as exc:
        return PhotoResult(path, ERROR, error=str(exc))
    if provenance is None:
        provenance = source_provenance(source)
    if crops:
        return LocatedPhoto(path, rgb, True, [], [rgb], provenance)
    faces, is_crop = find_faces(pipeline, rgb, recognise_crops=crops is None)
    if is_crop:
        return LocatedPhoto(path, rgb, True, faces, [rgb], provenance)
    faces = faces[:max_faces]
    return LocatedPhoto(path, rgb, False, faces, pipeline.crop(rgb, faces), provenance)


def apply_evidence(result: PhotoResult, provenance: Provenance) -> PhotoResult:
    """Attach the file's evidence to ``result`` and set its verdict by the policy (:func:`fakelens.provenance.combine`)."""
    items, warnings = provenance
    model_verdict = result.image_label
    verdict, reasons, more = combine(model_verdict, items)
    result.evidence, result.reasons, result.warnings = list(items), reasons, list(dict.fromkeys([*warnings, *more]))
    if verdict != model_verdict:
        result.verdict = verdict
    return result


def photo_result(
    pipeline: FacePipeline, located: LocatedPhoto, probs: np.ndarray, keep_crops: bool = False, annotate_to: str | os.PathLike | None = None
) -> PhotoResult:
    """The verdicts for a located photo, given P(fake) for each of its crops: the second half of :func:`predict_photo`."""
    rgb, faces = located.rgb, located.faces
    h, w = rgb.shape[:2]
    if located.is_crop:
        prob = float(probs[0])
        face = FaceResult(0, (0, 0, w, h), faces[0].score if faces else None, prob, pipeline.label(prob), (0, 0, w, h))
        result = PhotoResult(located.path, OK, "crop", w, h, [face], crops=[rgb] if keep_crops else [])
    elif not faces:
        result = PhotoResult(located.path, NO_FACE, "photo", w, h)
    else:
        from .cropping import crop_region

        results = [
            FaceResult(i, f.as_ints(), float(f.score), float(p), pipeline.label(p), crop_region(pipeline.framing.square(f), h, w))
            for i, (f, p) in enumerate(zip(faces, probs))
        ]
        result = PhotoResult(located.path, OK, "photo", w, h, results, crops=located.crops if keep_crops else [])
        if len(results) > 1:  # judged by its most-fake face, at the cut fitted for that many faces
            result.verdict = pipeline.photo_verdict(result.image_prob, len(results))
    if result.faces:
        result.bands, result.image_bands = pipeline.edges(1), pipeline.edges(len(result.faces))
    apply_evidence(result, located.provenance)
    if annotate_to is not None:
        boxes = [BoxLabel(f.box, f.prob_fake, f.label, f.index + 1) for f in result.faces]
        save_image(annotate_to, draw_faces(rgb, boxes))
    return result


def predict_photo(
    detector,
    source: ImageInput,
    crops: bool | None = None,
    face_detector=None,
    annotate_to: str | os.PathLike | None = None,
    keep_crops: bool = False,
    max_faces: int | None = None,
    provenance: Provenance | None = None,
) -> PhotoResult:
    """Faces and verdicts for one photo (a path, bytes, an array or a PIL image).

    ``detector``: a :class:`~fakelens.Detector` or a :class:`FacePipeline`.
    ``crops``: None recognises face crops, True scores the whole image as a
    crop, False always looks for faces. ``annotate_to``: write the photo with
    the verdicts drawn on it there. ``max_faces``: keep only the most
    confident faces (a limit for untrusted photos: a grid of 450 faces).
    ``provenance``: (evidence items, warnings) read from the encoded file when ``source`` is an array
    (default: read from ``source`` when it is a path or bytes).
    """
    pipeline = FacePipeline.of(detector, face_detector)
    located = locate_faces(pipeline, source, crops, max_faces, provenance)
    if isinstance(located, PhotoResult):
        return located
    return photo_result(pipeline, located, pipeline.score(located.crops), keep_crops, annotate_to)
