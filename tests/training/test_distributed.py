"""DDP on loopback: two gloo processes against one, rank 0 alone writing, resume after a restart.

The two ranks are started like torchrun starts them (its environment variables,
one process each); the restart goes through torchrun itself and ``python -m fakelens``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from fakelens.cli import main
from fakelens.data.split import read_split_csv

pytestmark = pytest.mark.slow  # starts process groups, clusters or trains: run with -m 'not slow' to skip

# 400 synthetic images per class at 32 px and a global batch of 16: about 40 steps, enough for one
# epoch to learn the task, so the comparison is of training, not of which few batches came first.
GLOBAL_BATCH = 16


def _train_args(data, out, batch_size, *extra):
    return [
        "train",
        "--data",
        str(data),
        "--model",
        "simple_cnn",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        str(batch_size),
        "--aug-strength",
        "0",
        "--num-workers",
        "0",
        "--seed",
        "0",
        "--out",
        str(out),
        *extra,
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, argv, log_dir):
    """One rank, as torchrun would start it; every file it moves into place is logged by rank."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
    )
    real_replace = os.replace

    def logged_replace(src, dst, *args, **kwargs):
        with open(Path(log_dir) / f"writes-rank{rank}.txt", "a") as fh:
            fh.write(f"{dst}\n")
        return real_replace(src, dst, *args, **kwargs)

    os.replace = logged_replace  # fakelens writes every file atomically through os.replace
    code = main(argv)
    (Path(log_dir) / f"left-rank{rank}.txt").write_text(repr(time.time()))  # after the process group closed
    if code:
        raise SystemExit(code)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from fakelens.data.synthetic import make_kaggle_dataset

    return make_kaggle_dataset(tmp_path_factory.mktemp("ddp-data"), per_class=400, size=64, seed=0)


@pytest.fixture(scope="module")
def one_process_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "run"
    assert main(_train_args(data, out, GLOBAL_BATCH)) == 0
    return out


@pytest.fixture(scope="module")
def two_process_run(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    out = root / "run"
    mp.start_processes(
        _rank_main, args=(2, _free_port(), _train_args(data, out, GLOBAL_BATCH // 2), str(root)), nprocs=2, join=True, start_method="spawn"
    )
    return out, root


def _val_auc(run) -> float:
    header, row = (run / "history.csv").read_text().splitlines()[:2]
    return float(dict(zip(header.split(","), row.split(",")))["val_roc_auc"])


def test_two_processes_reach_the_same_val_auc_as_one(one_process_run, two_process_run):
    two, _ = two_process_run
    one_auc, two_auc = _val_auc(one_process_run), _val_auc(two)
    print(f"val ROC-AUC after one epoch: 1 process {one_auc:.4f}, 2 processes {two_auc:.4f}")
    assert abs(one_auc - two_auc) <= 0.01
    # the validation metrics are over the whole validation split, gathered from both ranks
    samples, splits = read_split_csv(two / "split.csv")
    assert splits.count("val") > 40
    assert json.loads((two / "metrics.json").read_text())["val"]["n"] == splits.count("val")


def test_rank_zero_alone_writes_the_run(two_process_run):
    run, logs = two_process_run
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert json.loads((run / "config.json").read_text())["batch_size"] == GLOBAL_BATCH // 2  # per process
    for name in ("detector.json", "model.safetensors", "metrics.json", "history.csv", "split.csv", "checkpoints/LATEST"):
        assert (run / name).is_file(), name
    written = (logs / "writes-rank0.txt").read_text()
    for name in ("config.json", "split.csv", "history.csv", "detector.json", "metrics.json", "LATEST"):
        assert name in written, name
    assert not (logs / "writes-rank1.txt").exists()


def test_no_rank_leaves_while_rank_zero_still_finishes_the_run(two_process_run):
    """Rank 0 calibrates and tests alone; a rank that tore the group down meanwhile could abort in gloo."""
    run, logs = two_process_run
    rank_one_left = float((logs / "left-rank1.txt").read_text())
    assert rank_one_left >= (run / "metrics.json").stat().st_mtime  # metrics.json is rank 0's last write


def test_resume_after_restarting_every_rank_with_torchrun(two_process_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(two_process_run[0], run)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "fakelens",
        "train",
        "--out",
        str(run),
        "--resume",
        "--epochs",
        "2",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    history = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2"]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert json.loads((run / "detector.json").read_text())["info"]["epochs_run"] == 2
