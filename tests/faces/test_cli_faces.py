import csv
import json

import numpy as np
import pytest
from facekit import background, paste_heads, write_video
from PIL import Image

import fakelens
from fakelens.cli import main
from fakelens.faces import FacePipeline, YuFaceDetector, crop_face, predict_media
from fakelens.faces.cropping import YUFACE_FRAMING


@pytest.fixture
def media(tmp_path, head, astronaut):
    folder = tmp_path / "inputs"
    folder.mkdir()
    photo, _ = paste_heads(head, (540, 960), [(100, 100, 1.0), (600, 150, 0.9)])
    Image.fromarray(photo).save(folder / "group.jpg")
    Image.fromarray(background(300, 400)).save(folder / "empty.png")
    crop = crop_face(astronaut, YuFaceDetector().detect(astronaut)[0], YUFACE_FRAMING)
    Image.fromarray(crop).save(folder / "crop.jpg", quality=75)
    frames = [paste_heads(head, (240, 320), [(10 + 10 * i, 10, 0.9)])[0] for i in range(6)]
    write_video(folder / "clip.mp4", frames, fps=6)
    write_video(folder / "nobody.mp4", [background(120, 160)] * 3, fps=3)
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return folder


def test_cli_predict_photos_and_videos_with_bad_items(tiny_run, media, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    ann = tmp_path / "ann"
    code = main(
        ["predict", str(media), "--run", str(tiny_run), "-o", str(out), "--backend", "torch", "--frames", "4", "--annotate", str(ann)]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "2 of 7 item(s) failed" in err and "2 of 7 input(s) had no face" in err
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames[:4] == ["path", "prob_fake", "verdict", "error"]
    assert {"x0", "y0", "x1", "y1", "det_score", "image_prob", "video_prob", "track", "frame"} <= set(reader.fieldnames)
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        by_file.setdefault(r["path"].rsplit("/", 1)[-1], []).append(r)
    assert {k: {r["status"] for r in v} for k, v in by_file.items()} == {
        "group.jpg": {"ok"},
        "empty.png": {"no_face"},
        "crop.jpg": {"ok"},
        "clip.mp4": {"ok"},
        "nobody.mp4": {"no_face"},
        "broken.mp4": {"error"},
        "broken.jpg": {"error"},
    }
    assert len(by_file["group.jpg"]) == 2 and {r["kind"] for r in by_file["group.jpg"]} == {"photo"}
    assert by_file["crop.jpg"][0]["kind"] == "crop"
    group_probs = [float(r["prob_fake"]) for r in by_file["group.jpg"]]
    assert all(float(r["image_prob"]) == pytest.approx(max(group_probs)) for r in by_file["group.jpg"])
    assert len(by_file["clip.mp4"]) == 4 and {r["track"] for r in by_file["clip.mp4"]} == {"0"}
    assert by_file["empty.png"][0]["prob_fake"] == "" and by_file["broken.mp4"][0]["error"]
    # With videos among the inputs, the full JSON is written beside the CSV.
    full = {d["path"].rsplit("/", 1)[-1]: d for d in json.loads(out.with_suffix(".json").read_text())}
    assert full["clip.mp4"]["n_frames_sampled"] == 4 and full["clip.mp4"]["tracks"][0]["n_faces"] == 4
    assert full["group.jpg"]["n_faces"] == 2
    # Annotations: photos as JPEG, videos as H.264 + a plot + their JSON.
    assert {p.name for p in ann.iterdir()} >= {"group.jpg", "crop.jpg", "empty.jpg", "clip.mp4", "clip_probs.png", "clip.json"}


def test_cli_predict_json_stdout_and_crops_mode(tiny_run, media, tmp_path, capsys):
    (media / "broken.mp4").unlink()
    (media / "broken.jpg").unlink()
    out = tmp_path / "all.json"
    assert main(["predict", str(media), "--run", str(tiny_run), "-o", str(out), "--frames", "3", "--aggregate", "mean"]) == 0
    items = json.loads(out.read_text())
    assert {d["kind"] for d in items} == {"photo", "crop", "video"} and len(items) == 5
    clip = next(d for d in items if d["path"].endswith("clip.mp4"))
    assert clip["aggregate"] == "mean" and set(clip["video_probs"]) == {"mean", "confident", "topk"}
    capsys.readouterr()
    # Standard output: CSV.
    assert main(["predict", str(media / "group.jpg"), "--run", str(tiny_run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("path,prob_fake,verdict,error,status") and len(lines) == 3
    # --crops: every image is scored whole, as before (videos are not crops: only images are listed).
    assert (
        main(
            [
                "predict",
                str(media / "empty.png"),
                str(media / "group.jpg"),
                "--run",
                str(tiny_run),
                "--crops",
                "-o",
                str(tmp_path / "c.csv"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert list(rows[0]) == ["path", "prob_fake", "verdict", "error", "evidence"] and len(rows) == 2 and all(r["verdict"] for r in rows)


def test_python_api_over_a_batch(tiny_run, media):
    detector = fakelens.load(tiny_run, backend="torch")
    pipeline = FacePipeline(detector)
    results = predict_media(pipeline, [str(media / "group.jpg"), str(media / "clip.mp4")], frames=3)
    photo, video = results
    assert photo.status == "ok" and len(photo.faces) == 2 and 0 <= photo.image_prob <= 1
    assert video.status == "ok" and len(video.sampled) == 3 and video.label in ("REAL", "UNCERTAIN", "FAKE")
    assert np.isclose(video.prob_fake, max(t.prob_fake for t in video.tracks if t.used))


def test_a_folder_of_photos_is_scored_in_chunks_with_the_same_results_as_one_by_one(tiny_run, media, monkeypatch):
    from fakelens.faces import batch, predict_photo

    detector = fakelens.load(tiny_run, backend="torch")
    pipeline = FacePipeline(detector)
    photos = [str(media / n) for n in ("group.jpg", "broken.jpg", "crop.jpg", "empty.png")] * 3
    alone = [predict_photo(pipeline, p) for p in photos]
    calls = []
    score = pipeline.score
    monkeypatch.setattr(pipeline, "score", lambda crops: calls.append(len(crops)) or score(crops))
    monkeypatch.setattr(batch, "PHOTO_CHUNK", 5)
    together = predict_media(pipeline, photos)
    # 12 photos in chunks of 5, one model call per chunk with all its crops (group 2 faces, crop 1, empty and broken 0):
    # [group, broken, crop, empty, group] [broken, crop, empty, group, broken] [crop, empty]
    assert calls == [5, 3, 1]
    assert [r.path for r in together] == photos
    for a, b in zip(alone, together):
        assert (a.status, a.kind, len(a.faces)) == (b.status, b.kind, len(b.faces))
        assert [f.prob_fake for f in a.faces] == pytest.approx([f.prob_fake for f in b.faces], abs=1e-6)


def test_worker_processes_give_the_same_results_and_annotations_as_this_process(media, tmp_path, monkeypatch):
    from fakelens.faces import batch

    detector = fakelens.load()  # the bundled detector: ONNX, loaded from a folder, so workers can rebuild it
    assert detector.backend == "onnx"
    photos = [str(media / n) for n in ("group.jpg", "broken.jpg", "crop.jpg", "empty.png")] * 3
    monkeypatch.setattr(batch, "PHOTO_CHUNK", 4)  # three chunks over two workers
    here = predict_media(detector, photos, workers=1)
    there = predict_media(detector, photos, workers=2, annotate_dir=tmp_path / "ann")
    assert [(r.path, r.status, r.kind, len(r.faces)) for r in here] == [(r.path, r.status, r.kind, len(r.faces)) for r in there]
    assert [f.prob_fake for r in here for f in r.faces] == pytest.approx([f.prob_fake for r in there for f in r.faces], abs=1e-6)
    assert there[1].status == "error" and there[1].error  # the broken file is reported, the rest go on
    written = sorted(p.name for p in (tmp_path / "ann").iterdir())
    assert len(written) == 9 and all(n.endswith(".jpg") for n in written)  # every readable photo, named uniquely


def test_worker_processes_are_used_only_when_they_can_rebuild_the_pipeline(tiny_run):
    from fakelens.faces.batch import PHOTO_CHUNK, PROCESS_MIN_PHOTOS, _worker_processes
    from fakelens.inference.onnx_backend import default_threads

    onnx = FacePipeline(fakelens.load())
    assert _worker_processes(onnx, PROCESS_MIN_PHOTOS, None) == min(default_threads(), PROCESS_MIN_PHOTOS // PHOTO_CHUNK)
    assert _worker_processes(onnx, 10, None) == 1  # too few photos to pay for start-up
    assert _worker_processes(onnx, 1000, 3) == 3
    assert _worker_processes(onnx, 40, 8) == 2  # no more workers than chunks
    assert _worker_processes(FacePipeline(fakelens.load(tiny_run, backend="torch")), 1000, 2) == 1  # torch: not rebuilt
    assert _worker_processes(FacePipeline(fakelens.load(), YuFaceDetector()), 1000, 2) == 1  # a detector object, not a name
