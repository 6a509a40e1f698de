import csv
import json

import numpy as np
import pytest
from facekit import background, paste_heads, tint_green, write_video
from PIL import Image

from fakelens.cli import main
from fakelens.data.extract import extract_faces
from fakelens.sources import load_samples


@pytest.fixture
def dfdc_folder(tmp_path, head):
    """A tiny DFDC-style train folder: 2 reals, 2 fakes made from them, and bad cases."""
    folder = tmp_path / "dfdc_train_part_0"
    folder.mkdir()

    def clip(name, face, x, scale):
        frames = [paste_heads(face, (240, 320), [(x + 4 * i, 10, scale)])[0] for i in range(6)]
        write_video(folder / name, frames, fps=6)

    clip("aaaaaaaaaa.mp4", head, 20, 1.0)
    clip("bbbbbbbbbb.mp4", head, 100, 0.8)
    clip("cccccccccc.mp4", tint_green(head), 20, 1.0)
    clip("dddddddddd.mp4", tint_green(head), 100, 0.8)
    write_video(folder / "eeeeeeeeee.mp4", [background(240, 320)] * 4, fps=4)  # nobody in it
    (folder / "ffffffffff.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 corrupt")
    clip("zzzzzzzzzz.mp4", head, 60, 1.0)  # on disk but not in metadata.json
    meta = {
        "aaaaaaaaaa.mp4": {"label": "REAL", "split": "train"},
        "bbbbbbbbbb.mp4": {"label": "REAL", "split": "train"},
        "cccccccccc.mp4": {"label": "FAKE", "split": "train", "original": "aaaaaaaaaa.mp4"},
        "dddddddddd.mp4": {"label": "FAKE", "split": "train", "original": "bbbbbbbbbb.mp4"},
        "eeeeeeeeee.mp4": {"label": "REAL", "split": "train"},
        "ffffffffff.mp4": {"label": "FAKE", "split": "train", "original": "aaaaaaaaaa.mp4"},
        "gggggggggg.mp4": {"label": "FAKE", "split": "train", "original": "bbbbbbbbbb.mp4"},  # not on disk
    }
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def test_extract_faces_writes_the_kaggle_layout_and_reports_bad_videos(dfdc_folder, tmp_path):
    out = tmp_path / "faces"
    report = extract_faces(dfdc_folder, dfdc_folder / "metadata.json", out, frames=3)
    assert sorted(report.written) == ["aaaaaaaaaa.mp4", "bbbbbbbbbb.mp4", "cccccccccc.mp4", "dddddddddd.mp4"]
    assert set(report.failed) == {"eeeeeeeeee.mp4", "ffffffffff.mp4", "gggggggggg.mp4"}
    assert "no face" in report.failed["eeeeeeeeee.mp4"] and "not a readable video" in report.failed["ffffffffff.mp4"]
    assert "not in the videos folder" in report.failed["gggggggggg.mp4"] and report.ignored == ["zzzzzzzzzz.mp4"]

    with open(out / "metadata.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == ["videoname", "original_width", "original_height", "label", "original"]
    by_name = {r["videoname"]: r for r in rows}
    assert by_name["cccccccccc.mp4"]["original"] == "aaaaaaaaaa.mp4" and by_name["aaaaaaaaaa.mp4"]["original"] == ""
    for r in rows:
        assert abs(int(r["original_width"]) - int(r["original_height"])) <= 1 and int(r["original_width"]) > 60
        im = Image.open(out / "faces_224" / f"{r['videoname'][:-4]}.jpg")
        assert im.size == (224, 224) and im.format == "JPEG"
        assert im.quantization[0][0] == 8  # quality 75, like the Kaggle crops
    # The dataset loads like the shared one, fakes grouped with the real video they came from.
    samples = load_samples(out)
    assert len(samples) == 4 and sorted(s.label for s in samples) == [0, 0, 1, 1]
    groups = {s.path.rsplit("/", 1)[-1]: s.group for s in samples}
    assert groups["cccccccccc.jpg"] == "aaaaaaaaaa" and groups["dddddddddd.jpg"] == "bbbbbbbbbb"
    # The extracted face looks like the source: the fakes' crops are green-tinted.
    fake = np.asarray(Image.open(out / "faces_224" / "cccccccccc.jpg"), dtype=float)
    assert fake[..., 1].mean() > fake[..., 0].mean()

    # A second run resumes: nothing good is redone, the bad ones are tried again.
    again = extract_faces(dfdc_folder, dfdc_folder / "metadata.json", out, frames=3)
    assert len(again.resumed) == 4 and again.written == [] and len(again.failed) == 3
    report_rows = list(csv.DictReader(open(out / "extract_report.csv")))
    assert {r["status"] for r in report_rows} == {"resumed", "failed", "ignored"}


def test_extract_faces_cli(dfdc_folder, tmp_path, capsys):
    out = tmp_path / "faces"
    assert main(["extract-faces", str(dfdc_folder), "--out", str(out), "--frames", "2"]) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out)["written"] == 4 and "3 video(s) skipped" in captured.err
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["extract-faces", str(dfdc_folder), "--metadata", str(tmp_path / "bad.json"), "--out", str(out)]) == 2
    assert "expected an object" in capsys.readouterr().err
