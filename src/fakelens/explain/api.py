"""``explain(detector, images)``: Grad-CAM and LIME for each face, with a faithfulness check.

Results are arrays (the face, the heatmap, the superpixel weights, the
overlays) so that notebooks and the service can use them directly;
:func:`explain_files` is the batch job behind ``fakelens explain`` that also
writes figures and ``explanations.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ImageReadError
from ..imaging.imageio import ImageInput
from ..inference.detector import Detector
from ..utils.atomic import save_figure, write_json
from ..utils.paths import safe_child, safe_name
from ._scoring import score_faces
from .config import ExplainConfig
from .methods import METHODS, ExplainMethod, make_methods, resolve_methods  # noqa: F401  (METHODS, resolve_methods: re-exported)
from .results import Explanation, onto_face_as_given


def explain(
    detector: Detector,
    images: Sequence[ImageInput],
    config: ExplainConfig | None = None,
    sources: Sequence[str | None] | None = None,
    **options,
) -> list[Explanation]:
    """Explain the detector's verdict on each face crop.

    ``images`` are anything the detector reads (paths, bytes, arrays, PIL
    images); an unreadable one raises :class:`~fakelens.errors.ImageReadError`.
    What to explain and how is ``config`` (an :class:`ExplainConfig`), or the
    same options as keywords (``methods="all", cam="gradcam++", lime_samples=...``),
    which also change a given ``config``; a bad option raises
    :class:`~fakelens.errors.ConfigError` before any image is read.

    Each method in ``config.methods`` (:data:`~fakelens.explain.methods.EXPLAIN_METHODS`)
    fills its part: Grad-CAM runs on the detector's torch model (also when it
    scores through ONNX Runtime) at the layer its registry entry names, or
    ``target_layer``; LIME and the faithfulness checks score through the
    detector itself. The faithfulness check removes the top region (for
    Grad-CAM the ``cam_region_fraction`` hottest pixels, for LIME the ``top_k``
    superpixels pushing hardest toward FAKE) and compares the drop in P(FAKE)
    with the mean drop for ``n_random`` random regions of the same size.
    """
    config = _config(config, options)
    # Build (and so check) the methods before decoding anything: a bad option fails at once.
    return _explain(detector, images, make_methods(detector, config), config, sources)


def _config(config, options: dict) -> ExplainConfig:
    if isinstance(config, (str, list, tuple)):  # explain(detector, images, "all"): the third argument was methods
        if "methods" in options:
            raise TypeError("methods given twice: as the third argument and as methods=")
        config, options = None, {"methods": config, **options}
    return ExplainConfig.of(config, **options)


def _explain(
    detector: Detector,
    images: Sequence[ImageInput],
    methods: Sequence[ExplainMethod],
    config: ExplainConfig,
    sources: Sequence[str | None] | None,
) -> list[Explanation]:
    if sources is not None and len(sources) != len(images):
        raise ValueError(f"got {len(sources)} sources for {len(images)} images")
    if not len(images):
        return []
    decoded = [detector.decode_aligned(im) for im in images]
    faces = np.stack([face for face, _ in decoded])
    probs = score_faces(detector, faces)
    edges = detector.calibration.edges()
    results = [
        Explanation(sources[i] if sources is not None else _source_name(images[i]), rgb, float(p), detector.verdict(p), bands=edges)
        for i, (rgb, p) in enumerate(zip(faces, probs))
    ]
    # One generator per face, shared by the methods in turn: the same random regions for a face, whatever batch it is in.
    rngs = [np.random.default_rng(config.random_state) for _ in results]
    for method in methods:
        method.fill(results, rngs)
    for e, (_, alignment), image in zip(results, decoded, images):
        if alignment is not None:  # the maps were made on the aligned face: shown on the face as given
            onto_face_as_given(e, detector.decode_as_given(image), alignment)
    return results


def explain_faces(
    detector: Detector,
    crops: Sequence[ImageInput],
    boxes: Sequence[tuple[int, int, int, int]] | None = None,
    source: str | None = None,
    config: ExplainConfig | None = None,
    **options,
) -> list[Explanation]:
    """Explain each face found in one photo: the hook for face detection.

    A face detector passes its crops (and their ``(x0, y0, x1, y1)`` boxes in
    the photo); each face is explained once and keeps its box, so a figure or
    the service can point back into the photo. ``config`` and ``options`` as
    for :func:`explain`.
    """
    if boxes is not None and len(boxes) != len(crops):
        raise ValueError(f"got {len(boxes)} boxes for {len(crops)} face crops")
    config = _config(config, options)
    return _explain_faces(detector, crops, boxes, source, make_methods(detector, config), config)


def _explain_faces(detector, crops, boxes, source, methods, config) -> list[Explanation]:
    results = _explain(detector, crops, methods, config, [source] * len(crops) if source is not None else None)
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
    config: ExplainConfig | None = None,
    **options,
) -> list[dict]:
    """Explain image files one by one, writing a figure per face, ``grid.png`` and ``explanations.json``.

    ``crops``: True treats each image as one face crop; None recognises crops and
    finds the faces in whole photos (each face explained once, with its box); False
    always looks for faces. An unreadable file gets its message in the ``error``
    field, a photo without a face gets ``status`` no_face, and the rest go on.
    ``config`` and ``options`` as for :func:`explain`; the options given
    explicitly are recorded in ``explanations.json``.
    Returns the rows written to ``explanations.json`` (one per face).
    """
    from tqdm.auto import tqdm

    from .figures import explanation_figure, explanation_grid

    out_dir = Path(out_dir)
    # Every option is checked (and each method built, once) before any image is looked at: a bad
    # option is reported once, up front, instead of after (or instead of) the unreadable files.
    config = _config(config, options)
    methods = make_methods(detector, config)
    pipeline = None
    if crops is not True:
        from ..faces import FacePipeline

        pipeline = FacePipeline(detector, face_detector)
    rows, shown = [], []
    for i, path in enumerate(tqdm([str(p) for p in paths], desc="explaining", unit="img", disable=not progress)):
        base = {"path": path, "status": "ok", "prob_fake": None, "verdict": None, "figure": None, "error": ""}
        try:
            explanations = _explain_file(detector, pipeline, path, crops, methods, config)
        except ImageReadError as exc:
            rows.append({**base, "status": "error", "error": str(exc)})
            continue
        if not explanations:
            rows.append({**base, "status": "no_face"})
            continue
        for k, e in enumerate(explanations):
            suffix = f"_face{k}" if e.face_box is not None else ""
            figure = safe_child(out_dir, f"{i:04d}_{safe_name(Path(path).stem)}{suffix}.png")
            save_figure(explanation_figure(e), figure)
            rows.append({**base, **{key: v for key, v in e.to_dict().items() if key != "source"}, "figure": figure.name})
            if len(shown) < grid_max:
                shown.append(e)
    grid = None
    if shown:
        grid = out_dir / "grid.png"
        n_ok = sum(1 for r in rows if r["figure"])
        save_figure(
            explanation_grid(shown, title=f"{detector.model_name}: first {len(shown)} of {n_ok} faces" if n_ok > len(shown) else None), grid
        )
    write_json(
        out_dir / "explanations.json",
        {
            "model": detector.model_name,
            "source": detector.source,
            "threshold": detector.threshold,
            "methods": list(config.methods),
            "options": {k: v for k, v in config.set_options().items() if k != "methods" and isinstance(v, (str, int, float, bool))},
            "grid": grid.name if grid else None,
            "images": rows,
        },
    )
    return rows


def _explain_file(detector: Detector, pipeline, path: str, crops: bool | None, methods, config) -> list[Explanation]:
    """The explanations for one file: the whole image as a crop, or each face found in it; each carries the file's
    provenance evidence (its figure's title line)."""
    if pipeline is None:
        from ..provenance import read_provenance

        explanations = _explain(detector, [path], methods, config, [path])
        evidence = read_provenance(path)[0]
    else:
        from ..faces import predict_photo

        found = predict_photo(pipeline, path, crops=crops, keep_crops=True)
        if found.status == "error":
            raise ImageReadError(found.error)
        if found.kind == "crop":
            explanations = _explain(detector, found.crops, methods, config, [path])
        else:
            explanations = _explain_faces(detector, found.crops, [f.box for f in found.faces], path, methods, config)
        evidence = found.evidence
    for e in explanations:
        e.evidence = list(evidence)
    return explanations


def _source_name(image: ImageInput) -> str | None:
    return str(image) if isinstance(image, (str, os.PathLike)) else None
