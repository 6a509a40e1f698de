import numpy as np

from fakelens.utils.numeric import sigmoid


def test_sigmoid_is_exact_and_finite_for_huge_logits():
    with np.errstate(all="raise"):  # no overflow warning turned error
        p = sigmoid(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    assert p[0] == 0.0 and p[-1] == 1.0 and p[2] == 0.5
    assert np.isclose(p[1], np.exp(-30.0) / (1 + np.exp(-30.0))) and np.all(np.isfinite(p))


def test_sigmoid_keeps_shape_and_gives_float64():
    p = sigmoid(np.zeros((2, 3), dtype=np.float32))
    assert p.shape == (2, 3) and p.dtype == np.float64
