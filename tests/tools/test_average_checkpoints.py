"""The epoch-averaging tool: the mean of state dicts, and an averaged run that finalises like a trained one."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

TOOL = Path(__file__).resolve().parents[2] / "tools" / "average_checkpoints.py"


def test_average_is_the_elementwise_mean_and_keeps_dtypes(load_tool, tmp_path):
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3, dtype=torch.int64)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(4, dtype=torch.int64)}
    save_file(a, str(tmp_path / "a.safetensors"))
    save_file(b, str(tmp_path / "b.safetensors"))
    mean = load_tool("average_checkpoints").average_state_dicts([str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0])) and mean["n"].dtype == torch.int64 and int(mean["n"]) == 3


def test_mix_gives_each_file_its_share(load_tool, tmp_path):
    save_file({"w": torch.tensor([0.0, 4.0])}, str(tmp_path / "a.safetensors"))
    save_file({"w": torch.tensor([4.0, 8.0])}, str(tmp_path / "b.safetensors"))
    tool = load_tool("average_checkpoints")
    mixed = tool.average_state_dicts([str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")], mix=[3.0, 1.0])
    assert torch.allclose(mixed["w"], torch.tensor([1.0, 5.0]))
    with pytest.raises(SystemExit, match="one share"):
        tool.average_state_dicts([str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")], mix=[1.0])


def test_an_averaged_run_is_calibrated_and_tested_like_the_run(trained_run, tmp_path):
    run = trained_run[0]
    latest = sorted((run / "checkpoints").glob("epoch-*"))[-1] / "model.safetensors"
    best = run / "best.safetensors"
    out = tmp_path / "avg"
    done = subprocess.run([sys.executable, str(TOOL), str(run), "--weights", str(best), str(latest), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = load_file(str(out / "best.safetensors"))
    expected = {k: (load_file(str(best))[k].double() + load_file(str(latest))[k].double()) / 2 for k in saved}
    assert all(torch.allclose(saved[k].double(), expected[k].floor() if not saved[k].is_floating_point() else expected[k], atol=1e-6)
               for k in saved)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n"] == json.loads((run / "metrics.json").read_text())["test"]["n"]
    assert json.loads((out / "detector.json").read_text())["bands"] is not None
    assert "validation ROC-AUC" in done.stdout
