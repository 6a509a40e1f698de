"""``fakelens adapt`` runs in the runtime install: NumPy, scikit-learn and ONNX Runtime, no PyTorch and no OpenCV."""

import subprocess
import sys

from fakelens.data.synthetic import make_adapt_folders

BLOCKED = ("torch", "torchvision", "timm", "cv2", "onnx")

SCRIPT = """
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not in the runtime install")

sys.meta_path.insert(0, Blocked())
import fakelens.adapt
from fakelens.cli import main
fake, real, out = sys.argv[1:4]
assert main(["adapt", "--fake", fake, "--real", real, "--out", out, "--crops"]) == 0
import fakelens
d = fakelens.load(out)
assert d.adapter is not None and d.backend == "onnx", d
loaded = sorted(n for n in {blocked!r} if n in sys.modules)
assert not loaded, loaded
"""


def test_adapt_imports_neither_torch_nor_opencv(tmp_path):
    code = "import sys, fakelens.adapt; bad = [m for m in ('torch', 'cv2', 'timm') if m in sys.modules]; assert not bad, bad"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_adapt_runs_and_loads_without_torch_and_opencv(tmp_path):
    fake, real = make_adapt_folders(tmp_path, per_class=20, size=96)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=BLOCKED), str(fake), str(real), str(tmp_path / "new")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
