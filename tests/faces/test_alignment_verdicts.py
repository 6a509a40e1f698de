"""A tilted head must not move a verdict: the bundled detector with aligned faces, on a real face photo turned by hand."""

import dataclasses

import numpy as np
import pytest
from skimage.data import astronaut

pytest.importorskip("dlib")

from fakelens.explain import explain  # noqa: E402
from fakelens.explain.results import CamResult, Explanation, onto_face_as_given  # noqa: E402
from fakelens.faces.pipeline import FacePipeline  # noqa: E402
from fakelens.imaging.align import align_face, rotation_about, unalign_map, warp  # noqa: E402
from fakelens.inference.detector import Detector  # noqa: E402


@pytest.fixture(scope="module")
def aligning():
    detector = Detector.default()
    detector.preprocess = dataclasses.replace(detector.preprocess, align=True)
    return FacePipeline(detector)


@pytest.fixture(scope="module")
def photo_and_crop(aligning):
    photo = astronaut()
    return photo, aligning.crop(photo, aligning.detect(photo)[:1])[0]


@pytest.mark.parametrize("degrees", [-30, -20, 20, 30])
def test_a_tilted_face_crop_keeps_its_score(aligning, photo_and_crop, degrees):
    _, crop = photo_and_crop
    upright = aligning.score([crop])[0]
    tilted = aligning.score([warp(crop, rotation_about((112, 112), degrees), 224)])[0]
    assert abs(tilted - upright) < 0.05, f"P(fake) {upright:.3f} upright, {tilted:.3f} turned by {degrees} degrees"


@pytest.mark.parametrize("degrees", [-20, 20])
def test_a_tilted_head_in_a_photo_keeps_its_verdict(aligning, photo_and_crop, degrees):
    photo, crop = photo_and_crop
    upright = aligning.score([crop])[0]
    turned = warp(photo, rotation_about((256, 256), degrees), 512)
    face = max(aligning.detect(turned), key=lambda f: f.area)
    tilted = aligning.score(aligning.crop(turned, [face]))[0]
    assert aligning.label(tilted) == aligning.label(upright)
    assert abs(tilted - upright) < 0.1


def test_the_service_and_the_cli_get_aligned_faces_from_detector_json(tmp_path, aligning):
    aligning.detector.save(tmp_path / "run")
    again = Detector.from_dir(tmp_path / "run")
    assert again.preprocess.align is True
    assert isinstance(again.decode_aligned(np.zeros((64, 64, 3), np.uint8))[0], np.ndarray)


def test_explanations_are_drawn_on_the_face_as_given(aligning, photo_and_crop):
    _, crop = photo_and_crop
    turned = warp(crop, rotation_about((112, 112), 20), 224)
    detector = aligning.detector
    face, alignment = detector.decode_aligned(turned)
    assert alignment is not None
    # a hot spot on the aligned face's left eye must land on the turned face's left eye
    heat = np.zeros(face.shape[:2], np.float32)
    heat[60:72, 40:52] = 1.0
    e = Explanation("x", face, 0.5, "REAL", gradcam=CamResult("gradcam", "layer", heat, face))
    as_given = detector.decode_as_given(turned)
    onto_face_as_given(e, as_given, alignment)
    assert e.rgb is as_given and e.model_input is face and e.alignment["roll_degrees"] == pytest.approx(alignment.roll_degrees, abs=0.01)
    assert np.allclose(e.gradcam.heatmap, np.clip(unalign_map(heat, alignment), 0, 1))
    ys, xs = np.nonzero(e.gradcam.heatmap > 0.5)
    spot = np.array([xs.mean(), ys.mean()]) + 0.5
    k = alignment.side / face.shape[0]
    back = np.linalg.inv(np.vstack([alignment.matrix, [0, 0, 1]])) @ np.array([46 * k, 66 * k, 1.0])
    assert np.allclose(spot, back[:2] / k, atol=2.0)


def test_explain_on_an_aligning_detector_reports_the_alignment(aligning, photo_and_crop):
    _, crop = photo_and_crop
    turned = warp(crop, rotation_about((112, 112), 20), 224)
    (e,) = explain(aligning.detector, [turned], methods="lime", lime_samples=40, faithfulness=False)
    assert e.alignment is not None and e.alignment["roll_degrees"] == pytest.approx(align_face(turned)[1].roll_degrees, abs=0.01)
    assert e.rgb.shape == e.model_input.shape and not np.array_equal(e.rgb, e.model_input)
    assert e.lime.overlay.shape == e.rgb.shape and "alignment" in e.to_dict()
