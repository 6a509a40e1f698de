"""``explain(detector, images)``: Grad-CAM and LIME for each face, with a faithfulness check.

Results are arrays (the face, the heatmap, the superpixel weights, the
overlays) so that notebooks and the service can use them directly;
:func:`explain_files` is the batch job behind ``fakelens explain`` that also
writes figures and ``explanations.json``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..data.imageio import ImageInput
from ..errors import ImageReadError
from ..inference.detector import Detector
from ..utils.atomic import save_figure, write_json
from ._scoring import score_faces
from .cam import cam_overlay, make_cam_explainer
from .faithfulness import deletion_faithfulness, random_segment_masks, shifted_masks, top_fraction_mask
from .lime_explainer import LimeExplainer
from .results import CamResult, Explanation

METHODS = ("gradcam", "lime")


def resolve_methods(methods: str | Iterable[str]) -> tuple[str, ...]:
    """``"all"``, one name or several -> the methods to run, in a fixed order."""
    names = [methods] if isinstance(methods, str) else list(methods)
    chosen = set()
    for name in names:
        key = str(name).lower()
        if key == "all":
            chosen.update(METHODS)
        elif key in METHODS:
            chosen.add(key)
        else:
            raise ValueError(f"unknown explanation method {name!r}; choose one of: {', '.join(METHODS)}, all")
    if not chosen:
        raise ValueError(f"no explanation method given; choose one of: {', '.join(METHODS)}, all")
    return tuple(m for m in METHODS if m in chosen)


def explain(
    detector: Detector,
    images: Sequence[ImageInput],
    methods: str | Iterable[str] = METHODS,
    cam: str = "gradcam",
    lime_samples: int = 1000,
    top_k: int = 5,
    segmentation: str = "slic",
    faithfulness: bool = True,
    cam_region_fraction: float = 0.15,
    n_random: int = 8,
    target_layer: str | None = None,
    sources: Sequence[str | None] | None = None,
    random_state: int = 0,
) -> list[Explanation]:
    """Explain the detector's verdict on each face crop.

    ``images`` are anything the detector reads (paths, bytes, arrays, PIL
    images); an unreadable one raises :class:`~fakelens.errors.ImageReadError`.
    Grad-CAM runs on the detector's torch model (also when it scores through
    ONNX Runtime) at the layer its registry entry names, or ``target_layer``;
    LIME and the faithfulness checks score through the detector itself.

    The faithfulness check removes the top region (for Grad-CAM the
    ``cam_region_fraction`` hottest pixels, for LIME the ``top_k`` superpixels
    pushing hardest toward FAKE) and compares the drop in P(FAKE) with the mean
    drop for ``n_random`` random regions of the same size.
    """
    methods = resolve_methods(methods)
    # Build (and so validate) the explainers before decoding anything: a bad option fails at once.
    cam_explainer = make_cam_explainer(detector, cam, target_layer) if "gradcam" in methods else None
    lime_explainer = (
        LimeExplainer(detector, lime_samples, top_k, segmentation, random_state=random_state) if "lime" in methods else None
    )
    if sources is not None and len(sources) != len(images):
        raise ValueError(f"got {len(sources)} sources for {len(images)} images")
    if not len(images):
        return []
    faces = np.stack([detector.decode(im) for im in images])
    probs = score_faces(detector, faces)
    heatmaps = cam_explainer(detector.arrays_to_batch(faces)) if cam_explainer else None
    if heatmaps is not None and detector.tta:
        # The verdict averages the face and its mirror image, so the map does too.
        mirrored = cam_explainer(np.ascontiguousarray(detector.arrays_to_batch(faces)[..., ::-1]))[..., ::-1]
        heatmaps = (heatmaps + mirrored) / 2
    score_fn = lambda batch: score_faces(detector, batch)  # noqa: E731

    results = []
    for i, (rgb, p) in enumerate(zip(faces, probs)):
        source = sources[i] if sources is not None else _source_name(images[i])
        e = Explanation(source, rgb, float(p), detector.verdict(p))
        rng = np.random.default_rng(random_state)  # the same random regions for a face, whatever batch it is in
        if cam_explainer is not None:
            heat = heatmaps[i]
            e.gradcam = CamResult(cam_explainer.method, cam_explainer.layer_name, heat, cam_overlay(rgb, heat))
            if faithfulness and heat.max() > 0:  # an all-zero map ranks nothing above anything else
                region = top_fraction_mask(heat, cam_region_fraction)
                e.faithfulness["gradcam"] = deletion_faithfulness(score_fn, rgb, region, shifted_masks(region, n_random, rng), p)
        if lime_explainer is not None:
            e.lime = lime_explainer(rgb)
            if faithfulness:
                region = e.lime.fake_region(top_k)
                baseline = random_segment_masks(e.lime.segments, top_k, n_random, rng)
                e.faithfulness["lime"] = deletion_faithfulness(score_fn, rgb, region, baseline, p)
        results.append(e)
    return results


def explain_faces(
    detector: Detector,
    crops: Sequence[ImageInput],
    boxes: Sequence[tuple[int, int, int, int]] | None = None,
    source: str | None = None,
    **kwargs,
) -> list[Explanation]:
    """Explain each face found in one photo: the hook for face detection.

    A face detector passes its crops (and their ``(x0, y0, x1, y1)`` boxes in
    the photo); each face is explained once and keeps its box, so a figure or
    the service can point back into the photo.
    """
    if boxes is not None and len(boxes) != len(crops):
        raise ValueError(f"got {len(boxes)} boxes for {len(crops)} face crops")
    results = explain(detector, crops, sources=[source] * len(crops) if source is not None else None, **kwargs)
    for e, box in zip(results, boxes if boxes is not None else [None] * len(results)):
        e.face_box = None if box is None else tuple(int(v) for v in box)
    return results


def explain_files(
    detector: Detector,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    grid_max: int = 24,
    progress: bool = False,
    crops: bool | None = True,
    face_detector: str | None = None,
    **kwargs,
) -> list[dict]:
    """Explain image files one by one, writing a figure per face, ``grid.png`` and ``explanations.json``.

    ``crops``: True treats each image as one face crop; None recognises crops and
    finds the faces in whole photos (each face explained once, with its box); False
    always looks for faces. An unreadable file gets its message in the ``error``
    field, a photo without a face gets ``status`` no_face, and the rest go on.
    Returns the rows written to ``explanations.json`` (one per face).
    """
    from tqdm.auto import tqdm

    from .figures import explanation_figure, explanation_grid

    out_dir = Path(out_dir)
    methods = resolve_methods(kwargs.pop("methods", METHODS))
    # explain() checks every option before it looks at an image: an empty call reports
    # a bad option once, up front, instead of after (or instead of) the unreadable files.
    explain(detector, [], methods=methods, **kwargs)
    pipeline = None
    if crops is not True:
        from ..faces import FacePipeline

        pipeline = FacePipeline(detector, face_detector)
    rows, shown = [], []
    for i, path in enumerate(tqdm([str(p) for p in paths], desc="explaining", unit="img", disable=not progress)):
        base = {"path": path, "status": "ok", "prob_fake": None, "label": None, "figure": None, "error": ""}
        try:
            explanations = _explain_file(detector, pipeline, path, crops, methods, kwargs)
        except ImageReadError as exc:
            rows.append({**base, "status": "error", "error": str(exc)})
            continue
        if not explanations:
            rows.append({**base, "status": "no_face"})
            continue
        for k, e in enumerate(explanations):
            suffix = f"_face{k}" if e.face_box is not None else ""
            figure = out_dir / f"{i:04d}_{Path(path).stem}{suffix}.png"
            save_figure(explanation_figure(e), figure)
            rows.append({**base, **{key: v for key, v in e.to_dict().items() if key != "source"}, "figure": figure.name})
            if len(shown) < grid_max:
                shown.append(e)
    grid = None
    if shown:
        grid = out_dir / "grid.png"
        n_ok = sum(1 for r in rows if r["figure"])
        save_figure(explanation_grid(shown, title=f"{detector.model_name}: first {len(shown)} of {n_ok} faces" if n_ok > len(shown) else None), grid)
    write_json(
        out_dir / "explanations.json",
        {
            "model": detector.model_name,
            "source": detector.source,
            "threshold": detector.threshold,
            "methods": list(methods),
            "options": {k: v for k, v in kwargs.items() if isinstance(v, (str, int, float, bool))},
            "grid": grid.name if grid else None,
            "images": rows,
        },
    )
    return rows


def _explain_file(detector: Detector, pipeline, path: str, crops: bool | None, methods, kwargs: dict) -> list[Explanation]:
    """The explanations for one file: the whole image as a crop, or each face found in it."""
    if pipeline is None:
        return explain(detector, [path], methods=methods, sources=[path], **kwargs)
    from ..faces import predict_photo

    found = predict_photo(pipeline, path, crops=crops, keep_crops=True)
    if found.status == "error":
        raise ImageReadError(found.error)
    if found.kind == "crop":
        return explain(detector, found.crops, methods=methods, sources=[path], **kwargs)
    return explain_faces(detector, found.crops, boxes=[f.box for f in found.faces], source=path, methods=methods, **kwargs)


def _source_name(image: ImageInput) -> str | None:
    return str(image) if isinstance(image, (str, os.PathLike)) else None
