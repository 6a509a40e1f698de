import csv
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from facekit import iou

from fakelens.faces import FaceBox, Framing, YuFaceDetector, crop_face, crop_region
from fakelens.faces.cropping import YUFACE_FRAMING, jpeg_roundtrip

LANDMARKS = ((40.0, 40.0), (60.0, 40.0), (50.0, 50.0), (42.0, 60.0), (58.0, 60.0))


def test_square_is_centred_on_the_landmarks_and_sized_from_box_and_landmarks():
    face = FaceBox(30, 20, 70, 70, 0.9, LANDMARKS)  # box 40x50, eye-mouth distance 20
    framing = Framing(side_scale=1.5, centre_dx=0.0, centre_dy=0.1, eye_mouth_ratio=0.45)
    size = np.sqrt(np.sqrt(40 * 50) * 20)
    x0, y0, x1, y1 = framing.square(face)
    assert x1 - x0 == pytest.approx(1.5 * size) and y1 - y0 == pytest.approx(1.5 * size)
    assert (x0 + x1) / 2 == pytest.approx(50.0)  # landmark centre x
    assert (y0 + y1) / 2 == pytest.approx(50.0 + 0.1 * size)  # landmark centre y + offset


def test_box_only_framing_and_bad_landmarks_fall_back_to_the_box():
    box_only = Framing(side_scale=1.0, centre_dy=0.05)
    face = FaceBox(0, 0, 40, 40, 0.9)
    assert box_only.square(face) == pytest.approx((0, 2, 40, 42))
    far = tuple((x + 500, y) for x, y in LANDMARKS)  # landmarks nowhere near the box
    framing = Framing(1.0, 0.0, 0.0, eye_mouth_ratio=0.45)
    cx, cy = framing.face_centre(FaceBox(30, 20, 70, 70, 0.9, far))
    assert (cx, cy) == (50.0, 45.0)
    # An absurd eye-mouth distance is clamped, so the crop size stays near the box size.
    tiny = ((50.0, 50.0), (50.1, 50.0), (50.0, 50.0), (50.0, 50.1), (50.1, 50.1))
    size = framing.face_size(FaceBox(30, 30, 70, 70, 0.9, tiny))
    assert size == pytest.approx(np.sqrt(40 * 0.6 * 0.45 * 40))


def test_crop_region_shifts_a_square_back_inside_and_clips_only_when_too_big():
    assert crop_region((-10, 5, 40, 55), 100, 200) == (0, 5, 50, 55)  # moved right, still square
    assert crop_region((180, 70, 230, 120), 100, 200) == (150, 50, 200, 100)  # moved left and up
    assert crop_region((-20, -20, 130, 130), 100, 120) == (0, 0, 120, 100)  # larger than the image: clipped
    assert crop_region((10.4, 10.6, 60.4, 60.6), 100, 100) == (10, 11, 60, 61)


def test_crop_face_size_dtype_and_jpeg_like_the_training_crops(astronaut):
    face = YuFaceDetector().detect(astronaut)[0]
    plain = crop_face(astronaut, face, YUFACE_FRAMING, jpeg_quality=None)
    crop = crop_face(astronaut, face, YUFACE_FRAMING)
    assert plain.shape == crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    diff = np.abs(plain.astype(int) - crop.astype(int)).mean()
    assert 0 < diff < 6  # JPEG at quality 75: visibly the same face, not the same bytes
    assert np.array_equal(jpeg_roundtrip(plain), crop)


def test_reframing_shared_dfdc_crops_pasted_in_a_photo_recovers_them(shared_dfdc):
    rows = list(csv.DictReader(open(shared_dfdc / "metadata.csv")))
    rng = random.Random(0)
    det = YuFaceDetector()
    overlaps = []
    for row in rng.sample(rows, 12):
        crop = cv2.imread(str(shared_dfdc / "faces_224" / f"{Path(row['videoname']).stem}.jpg"))[:, :, ::-1]
        photo = np.full((480, 640, 3), 60, np.uint8)
        photo[100:324, 300:524] = crop
        faces = det.detect(photo)
        if faces:
            overlaps.append(iou(crop_region(YUFACE_FRAMING.square(faces[0]), 480, 640), (300, 100, 524, 324)))
    assert len(overlaps) >= 11
    assert np.median(overlaps) > 0.75
