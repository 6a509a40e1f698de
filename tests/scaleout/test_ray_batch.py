"""Ray Data batch scoring on a local 2-CPU Ray instance: the same rows as the plain path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakelens.cli import main
from fakelens.data.synthetic import make_image
from netwatch import beyond_loopback, listeners

pytestmark = pytest.mark.slow  # starts process groups, clusters or trains: run with -m 'not slow' to skip

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module, started as ``--ray local`` starts it (fakelens uses an open
    session as it is), and the TCP ports it listens on, sampled once it runs tasks; always shut down."""
    from fakelens.scaleout.ray_batch import ray_cluster

    with ray_cluster("local", num_cpus=2):
        ray.get([ray.remote(lambda: 1).remote() for _ in range(2)])  # worker processes up, with their ports
        yield listeners(os.getpid())


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray-crops") / "crops"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(150):  # more than one actor call (128 files), so both actors work
        Image.fromarray(make_image(rng, 64, fake=i % 2 == 1)[0]).save(folder / f"{i:03d}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return folder


def _rows(path):
    return pq.read_table(path).to_pylist()


def _assert_same_rows(a, b):
    assert [r["path"] for r in a] == [r["path"] for r in b]
    assert [(r["verdict"], r["error"]) for r in a] == [(r["verdict"], r["error"]) for r in b]
    diffs = [abs(x["prob_fake"] - y["prob_fake"]) for x, y in zip(a, b) if x["prob_fake"] is not None]
    assert diffs and max(diffs) <= 1e-4, max(diffs)


def test_a_local_ray_instance_listens_on_loopback_only(local_ray):
    """Issue 31: Ray's GCS, raylet and worker ports listened on all interfaces."""
    assert {"gcs_server", "raylet"} <= {entry.process for entry in local_ray}, local_ray
    assert beyond_loopback(local_ray) == [], local_ray
    assert os.environ.get("RAY_AUTH_MODE") == "token"


def test_ray_scores_crops_like_the_plain_path(local_ray, untrained_run, crops, tmp_path):
    base = ["predict", str(crops), "--crops", "--run", str(untrained_run)]
    assert main(base + ["--output", str(tmp_path / "plain.parquet")]) == 3  # the broken file fails, the rest go on
    assert main(base + ["--ray", "local", "--ray-workers", "2", "--output", str(tmp_path / "ray.parquet")]) == 3
    plain, on_ray = _rows(tmp_path / "plain.parquet"), _rows(tmp_path / "ray.parquet")
    assert len(plain) == 151 and sum(1 for r in plain if r["error"]) == 1
    _assert_same_rows(on_ray, plain)  # the plain path ran PyTorch here, the actors ONNX Runtime


def test_ray_reads_text_and_parquet_manifests(local_ray, untrained_run, crops, tmp_path):
    import pyarrow as pa

    names = sorted(p.name for p in crops.iterdir())[:40]
    (tmp_path / "list.txt").write_text("".join(f"{crops.name}/{n}\n" for n in names) + "\n")  # relative to the manifest
    (tmp_path / crops.name).symlink_to(crops)
    pq.write_table(pa.table({"path": [str(crops / n) for n in names]}), tmp_path / "list.parquet")
    plain = tmp_path / "plain.csv"
    assert main(["predict", "--manifest", str(tmp_path / "list.txt"), "--crops", "--run", str(untrained_run), "-o", str(plain)]) == 0
    for manifest in ("list.txt", "list.parquet"):
        out = tmp_path / f"{manifest}.parquet"
        assert (
            main(["predict", "--manifest", str(tmp_path / manifest), "--crops", "--run", str(untrained_run), "--ray", "-o", str(out)]) == 0
        )
        rows = _rows(out)
        assert [Path(r["path"]).name for r in rows] == names
    import csv

    plain_rows = [dict(r, prob_fake=float(r["prob_fake"])) for r in csv.DictReader(open(plain))]
    _assert_same_rows(_rows(tmp_path / "list.txt.parquet"), plain_rows)


def test_ray_runs_the_face_pipeline_on_photos_and_videos(local_ray, untrained_run, tmp_path):
    import av
    from skimage.data import astronaut

    photo = astronaut()
    media = tmp_path / "media"
    media.mkdir()
    Image.fromarray(photo).save(media / "astronaut.jpg")
    with av.open(str(media / "clip.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for k in range(6):
            frame = np.ascontiguousarray(np.roll(photo[:256, 100:356], k, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    base = ["predict", str(media), "--run", str(untrained_run), "--frames", "4"]
    assert main(base + ["-o", str(tmp_path / "plain.parquet")]) == 0
    assert main(base + ["--ray", "local", "-o", str(tmp_path / "ray.parquet")]) == 0
    plain, on_ray = _rows(tmp_path / "plain.parquet"), _rows(tmp_path / "ray.parquet")
    assert {r["kind"] for r in plain} >= {"photo", "video"} and plain[0]["n_faces"] >= 1
    _assert_same_rows(on_ray, plain)
    for a, b in zip(on_ray, plain):
        assert {k: v for k, v in a.items() if "prob" not in k} == {k: v for k, v in b.items() if "prob" not in k}
    assert json.loads((tmp_path / "ray.json").read_text())[1]["n_frames_sampled"] == 4  # the full video JSON beside it


def test_plain_predict_never_imports_ray(untrained_run, crops, tmp_path):
    code = (
        f"import sys; from fakelens.cli import main; "
        f"code = main(['predict', {str(crops)!r}, '--crops', '--run', {str(untrained_run)!r}, '-o', {str(tmp_path / 'p.parquet')!r}]); "
        f"assert code == 3, code; assert 'ray' not in sys.modules, 'ray was imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
