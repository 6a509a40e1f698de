"""crop-faces: a manifest row that climbs out of the dataset must not write outside --out."""

import csv
import os

from PIL import Image

from fakelens.cli import main
from fakelens.faces import YuFaceDetector, crop_face
from fakelens.faces.cropping import YUFACE_FRAMING


def _files(folder):
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files}


def test_a_manifest_row_climbing_out_is_refused_and_the_rest_are_cropped(astronaut, tmp_path, capsys):
    face = crop_face(astronaut, YuFaceDetector().detect(astronaut)[0], YUFACE_FRAMING)
    ds = tmp_path / "ds"
    for rel in ("m/real/a.jpg", "m/fake/b.jpg", "x/face.jpg", "x/other.jpg"):
        (ds / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(ds / rel)
    manifest = ds / "m" / "manifest.csv"
    manifest.write_text("path,label\nreal/a.jpg,real\nfake/b.jpg,fake\nreal/../../x/face.jpg,real\nfake/../../x/other.jpg,fake\n")
    out = tmp_path / "work" / "out"
    before = _files(tmp_path)

    assert main(["crop-faces", str(manifest), "--out", str(out)]) == 3

    err = capsys.readouterr().err
    assert "2 row(s) refused" in err and "Traceback" not in err
    # the old targets: work/out/real/../../x/face.jpg and work/out/fake/../../x/other.jpg, both work/x/
    assert _files(tmp_path) - before == {os.path.join("work", "out", f) for f in _files(out)}
    assert _files(out) == {"real/a.jpg", "fake/b.jpg", "manifest.csv", "crop_report.csv"}
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert sorted((r["path"], r["label"]) for r in rows) == [("fake/b.jpg", "FAKE"), ("real/a.jpg", "REAL")]
    report = {r["path"].rsplit("/", 1)[-1]: r["error"] for r in csv.DictReader(open(out / "crop_report.csv"))}
    assert set(report) == {"face.jpg", "other.jpg"} and all("outside" in e for e in report.values())
