"""yuface called from several threads at once (the aligner in the decode threads) must not hang a process."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("yuface")

# Two threads make their first yuface calls at the same moment, in a fresh process (a first call is where they hung:
# 3 of 20 processes before the calls were serialised).
RACE = textwrap.dedent(
    """
    import threading
    import numpy as np
    import onnxruntime  # noqa: F401 (loaded beside yuface, as in scoring)
    from fakelens.imaging.yunet import YuFace

    images = [np.random.default_rng(i).integers(0, 255, (288, 288, 3), dtype=np.uint8) for i in range(6)]
    barrier = threading.Barrier(2)

    def work(k):
        detector = YuFace(threads=1)
        barrier.wait()
        for image in images[k::2]:
            detector.rows(image, 0.5)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("done")
    """
)


def test_first_calls_on_two_threads_finish_in_fresh_processes():
    for _ in range(6):
        result = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr[-2000:]
