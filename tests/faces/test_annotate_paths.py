"""predict --annotate: inputs named ``..jpg`` or ``..mp4`` must not write beside (or outside) the annotate folder."""

import os

from facekit import paste_heads, write_video
from PIL import Image

from fakelens.cli import main


def _files(folder):
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files}


def test_dot_named_inputs_write_only_inside_the_annotate_folder(tiny_run, head, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    photo, _ = paste_heads(head, (300, 400), [(100, 50, 1.0)])
    Image.fromarray(photo).save(inputs / "..jpg", format="JPEG")  # PIL sees no extension in a name of dots
    Image.fromarray(photo).save(inputs / "...png", format="PNG")
    write_video(inputs / "..mp4", [paste_heads(head, (240, 320), [(20, 10, 0.9)])[0]] * 3, fps=3)
    ann = tmp_path / "ann"
    # files of the names the old code wrote (``ann`` + suffix): they must be left as they are
    decoys = {tmp_path / name: b"keep me" for name in ("ann.jpg", "ann.mp4", "ann.json", "ann_probs.png")}
    for path, data in decoys.items():
        path.write_bytes(data)
    before = _files(tmp_path) - _files(ann) if ann.exists() else _files(tmp_path)

    code = main(
        [
            "predict",
            str(inputs / "..jpg"),
            str(inputs / "...png"),
            str(inputs / "..mp4"),
            "--run",
            str(tiny_run),
            "--backend",
            "torch",
            "--frames",
            "2",
            "-o",
            str(tmp_path / "rows.csv"),
            "--annotate",
            str(ann),
        ]
    )

    assert code == 0
    assert all(path.read_bytes() == data for path, data in decoys.items())
    written_outside = _files(tmp_path) - before - {"rows.csv", "rows.json"} - {os.path.join("ann", f) for f in _files(ann)}
    assert written_outside == set()
    # each input got its annotations, under a plain name (stems "." and ".." are no names)
    assert {"input.jpg", "input_1.jpg", "input_2.mp4", "input_2_probs.png", "input_2.json"} <= _files(ann)
