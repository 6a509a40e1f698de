"""``fakelens train --nproc-per-node N``: torchrun's one-machine launch with nothing listening beyond loopback (issue 31)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netwatch import ListenerSampler, beyond_loopback

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _fakelens(args, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    with (tmp_path / "log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fakelens", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        with ListenerSampler(proc.pid) as sampler:
            code = proc.wait(timeout=480)
    return code, sampler, (tmp_path / "log").read_text()


@pytest.mark.slow
def test_two_ranks_train_and_nothing_listens_beyond_loopback(tmp_path):
    from fakelens.data.synthetic import make_kaggle_dataset

    data = make_kaggle_dataset(tmp_path / "data", per_class=40, size=64, seed=0)
    run = tmp_path / "run"
    code, sampler, log = _fakelens(
        [
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
            "8",
            "--num-workers",
            "0",
            "--out",
            str(run),
            "--nproc-per-node",
            "2",
        ],
        tmp_path,
    )
    assert code == 0, log[-3000:]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2  # two ranks trained
    assert sampler.seen, "the sampler saw no listener: the rendezvous store and gloo must have been missed"
    assert beyond_loopback(sampler.seen) == [], sampler.seen


@pytest.mark.slow
def test_a_failing_rank_ends_the_launch_with_its_exit_code(tmp_path):
    code, _, log = _fakelens(
        ["train", "--data", str(tmp_path / "missing"), "--model", "simple_cnn", "--out", str(tmp_path / "run"), "--nproc-per-node", "2"],
        tmp_path,
    )
    assert code == 2, log[-3000:]
    assert "fakelens: error: rank" in log and "exited with code 2" in log
