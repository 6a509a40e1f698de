import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from facekit import BandedScorer, GreenKeyedScorer, iou, paste_heads, tint_green
from PIL import Image

from fakelens.faces import FacePipeline, crop_face, predict_photo
from fakelens.faces.cropping import YUFACE_FRAMING
from fakelens.faces.detectors import YuFaceDetector


@pytest.fixture
def pipeline(scorer):
    return FacePipeline(scorer)


def test_one_face_box_lands_on_the_pasted_face(pipeline, head):
    photo, (expected,) = paste_heads(head, (720, 1280), [(700, 200, 1.2)])
    result = predict_photo(pipeline, photo)
    assert result.status == "ok" and result.kind == "photo" and (result.width, result.height) == (1280, 720)
    (face,) = result.faces
    assert iou(face.box, expected) > 0.7
    assert face.prob_fake == GreenKeyedScorer.REAL and face.label == "REAL" and face.det_score > 0.5
    x0, y0, x1, y1 = face.crop_box
    assert x1 - x0 == y1 - y0 and x0 <= face.box[0] + 10 and x1 >= face.box[2] - 10


def test_several_faces_each_found_and_the_most_fake_decides(pipeline, head):
    fake_head = tint_green(head)
    photo, expected = paste_heads(head, (540, 1200), [(40, 150, 1.0), (800, 120, 1.3)])
    part = cv2.resize(fake_head, None, fx=0.8, fy=0.8)
    photo[200 : 200 + part.shape[0], 400 : 400 + part.shape[1]] = part
    expected.insert(1, (400 + 48 * 0.8, 200 + 43 * 0.8, 400 + 137 * 0.8, 200 + 155 * 0.8))
    result = predict_photo(pipeline, photo)
    assert result.status == "ok" and len(result.faces) == 3
    by_x = sorted(result.faces, key=lambda f: f.box[0])
    for face, box in zip(by_x, expected):
        assert iou(face.box, box) > 0.6
    assert [f.label for f in by_x] == ["REAL", "FAKE", "REAL"]
    assert result.image_prob == GreenKeyedScorer.FAKE and result.image_label == "FAKE"
    rows = result.rows()
    assert len(rows) == 3 and {r["face"] for r in rows} == {0, 1, 2}
    assert all(r["image_prob"] == GreenKeyedScorer.FAKE and r["image_verdict"] == "FAKE" and r["n_faces"] == 3 for r in rows)
    # the legend of the numbered faces, and the edges the verdicts were read at (no bands: the threshold)
    assert sorted(r["marker"] for r in rows) == [1, 2, 3] and all(r["marker"] == r["face"] + 1 for r in rows)
    assert all((r["real_below"], r["fake_from"], r["image_fake_from"]) == (0.5, 0.5, 0.5) for r in rows)


def test_results_carry_the_band_edges_of_their_verdicts(head):
    from fakelens.inference.calibration import Bands

    pipeline = FacePipeline(BandedScorer(Bands(0.3, 0.8, fake_from_by_faces=(0.8, 0.95))))  # FAKE from 0.95 for the most-fake of two
    photo, _ = paste_heads(head, (360, 900), [(40, 60, 1.0)])
    photo[80:290, 500:690] = tint_green(head)
    result = predict_photo(pipeline, photo)
    assert sorted(f.label for f in result.faces) == ["FAKE", "REAL"] and result.image_label == "UNCERTAIN"  # 0.9 < 0.95
    d = result.to_dict()
    assert d["bands"] == {"real_below": 0.3, "fake_from": 0.8} and d["image_bands"] == {"real_below": 0.3, "fake_from": 0.95}
    assert {(r["fake_from"], r["image_fake_from"]) for r in result.rows()} == {(0.8, 0.95)}
    alone = predict_photo(pipeline, photo[:, :450])
    assert alone.to_dict()["image_bands"] == alone.to_dict()["bands"] == {"real_below": 0.3, "fake_from": 0.8}
    none = predict_photo(pipeline, np.full((200, 300, 3), 90, np.uint8)).to_dict()
    assert none["status"] == "no_face" and none["bands"] is None and none["image_bands"] is None


def test_no_face_gets_no_verdict(pipeline):
    for blank in (np.full((480, 640, 3), 200, np.uint8), np.zeros((224, 224, 3), np.uint8)):
        result = predict_photo(pipeline, blank)
        assert result.status == "no_face" and result.faces == [] and result.image_prob is None and result.image_label is None
        (row,) = result.rows()
        assert row["prob_fake"] is None and row["verdict"] is None and row["error"] == ""


def test_a_face_crop_is_recognised_and_scored_whole(pipeline, astronaut):
    face = YuFaceDetector().detect(astronaut)[0]
    crop = crop_face(astronaut, face, YUFACE_FRAMING)
    result = predict_photo(pipeline, crop)
    assert result.kind == "crop" and result.status == "ok"
    assert result.faces[0].box == (0, 0, 224, 224) and result.faces[0].det_score > 0.5
    # A portrait (square, one face, lots of shoulders and background) is a photo, not a crop.
    assert predict_photo(pipeline, astronaut).kind == "photo"
    # Recognition off: the face inside the crop is found and re-cropped.
    off = predict_photo(pipeline, crop, crops=False)
    assert off.kind == "photo" and len(off.faces) == 1
    # Forced: any image is scored whole, even one without a face.
    forced = predict_photo(pipeline, np.zeros((64, 64, 3), np.uint8), crops=True)
    assert forced.kind == "crop" and forced.faces[0].det_score is None and forced.image_label == "REAL"


def _png_bytes(arr, mode=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def test_exif_rotated_photo_boxes_are_in_the_upright_picture(pipeline, head, tmp_path):
    upright, (expected,) = paste_heads(head, (480, 640), [(380, 120, 1.0)])
    # Store the pixels turned 90 degrees with EXIF orientation 6 ("rotate 90 CW to display").
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    assert Image.open(path).size == (480, 640)
    result = predict_photo(pipeline, str(path))
    assert (result.width, result.height) == (640, 480) and len(result.faces) == 1
    assert iou(result.faces[0].box, expected) > 0.6


@pytest.mark.parametrize("mode", ["RGBA", "L", "I;16", "CMYK"])
def test_odd_image_modes_are_read_as_rgb_and_the_face_found(pipeline, head, tmp_path, mode):
    photo, (expected,) = paste_heads(head, (360, 480), [(150, 60, 1.0)])
    im = Image.fromarray(photo)
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(255)
        path = tmp_path / "a.png"
    elif mode == "L":
        im, path = im.convert("L"), tmp_path / "a.png"
    elif mode == "I;16":
        im = Image.fromarray(np.asarray(im.convert("L"), dtype=np.uint16) * 257)  # 16-bit grey
        path = tmp_path / "a.png"
    else:
        im, path = im.convert("CMYK"), tmp_path / "a.jpg"
    im.save(path)
    result = predict_photo(pipeline, str(path))
    assert result.status == "ok" and len(result.faces) == 1, mode
    assert iou(result.faces[0].box, expected) > 0.6


def test_bad_files_get_a_clear_error(pipeline, head, tmp_path):
    photo, _ = paste_heads(head, (360, 480), [(150, 60, 1.0)])
    good = tmp_path / "good.jpg"
    Image.fromarray(photo).save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "garbage.jpg").write_bytes(b"plain text, not a picture")
    # Decompression bombs: valid PNG headers claiming 9000^2 (above fakelens' limit) and 30000^2 pixels (above PIL's).
    for side in (9000, 30000):
        png = bytearray(_png_bytes(np.zeros((8, 8, 3), np.uint8)))
        ihdr = struct.pack(">II", side, side) + bytes(png[24:29])
        png[16:29] = ihdr
        png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        (tmp_path / f"bomb{side}.png").write_bytes(bytes(png))
    expect = {
        "truncated.jpg": "corrupt or truncated",
        "garbage.jpg": "not a readable image",
        "bomb9000.png": "pixel limit",
        "bomb30000.png": "DecompressionBomb",
        "missing.jpg": "file not found",
    }
    for name, reason in expect.items():
        result = predict_photo(pipeline, str(tmp_path / name))
        assert result.status == "error" and reason in result.error, (name, result.error)
        assert result.rows()[0]["error"] == result.error
    assert predict_photo(pipeline, str(good)).status == "ok"


def test_numbered_badges_of_neighbouring_faces_never_overlap():
    from fakelens.faces.annotate import place_badges

    def overlap(a, b, size):
        return not (a[0] + size[0] <= b[0] or b[0] + size[0] <= a[0] or a[1] + size[1] <= b[1] or b[1] + size[1] <= a[1])

    size = (14, 16)
    # small faces side by side, a face inside another, two identical boxes, a face at the picture's corner
    boxes = [(10 + 12 * i, 40, 22 + 12 * i, 52) for i in range(6)] + [
        (100, 100, 160, 160),
        (110, 110, 130, 130),
        (200, 20, 230, 50),
        (200, 20, 230, 50),
        (0, 0, 10, 10),
    ]
    spots = place_badges(boxes, size, 320, 240)
    assert len(spots) == len(boxes)
    assert all(0 <= x <= 320 - size[0] and 0 <= y <= 240 - size[1] for x, y in spots)
    assert not any(overlap(a, b, size) for i, a in enumerate(spots) for b in spots[i + 1 :])
    # a lone face keeps its badge on its top-left corner
    assert place_badges([(50, 60, 90, 100)], size, 320, 240) == [(50, 60)]


def test_annotated_photo_shows_the_verdict_colour_on_the_face(pipeline, head, tmp_path):
    photo, _ = paste_heads(tint_green(head), (360, 640), [(300, 60, 1.0)])
    out = tmp_path / "ann" / "photo.jpg"
    result = predict_photo(pipeline, photo, annotate_to=out)
    drawn = np.asarray(Image.open(out))
    assert drawn.shape == photo.shape
    x0, y0, x1, y1 = result.faces[0].box
    edge = drawn[(y0 + y1) // 2, max(0, x0 - 1) : x0 + 2].astype(int)
    assert (edge[:, 0] > 150).any() and (edge[:, 1] < 120).any()  # a red (FAKE) outline
    # the face's number sits on a red badge in the box's top-left corner, not on a caption above the box
    corner = drawn[y0 + 2 : y0 + 5, x0 + 2 : x0 + 5].reshape(-1, 3).astype(int).mean(axis=0)
    assert corner[0] > 180 and corner[1] < 90 and corner[2] < 90, corner
    above = drawn[max(0, y0 - 12) : y0 - 3, x0 + 2 : x0 + 30].reshape(-1, 3).astype(int)
    assert not ((above[:, 0] > 180) & (above[:, 1] < 90)).any()
