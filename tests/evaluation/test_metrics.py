import numpy as np
import pytest
from scipy.special import expit

from fakelens.evaluation import choose_threshold, compute_metrics, expected_calibration_error, fit_temperature


def test_metrics_match_hand_computed_values():
    y = [0, 0, 0, 1, 1, 1, 1, 0]
    p = [0.1, 0.6, 0.2, 0.8, 0.4, 0.9, 0.7, 0.3]
    m = compute_metrics(y, p, threshold=0.5)
    # predictions: 0 1 0 1 0 1 1 0 -> TP=3, FP=1, FN=1, TN=3
    assert m["confusion_matrix"] == [[3, 1], [1, 3]]
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
    # AUC: pairs (pos, neg) ranked correctly: 16 pairs, wrong ones: 0.4<0.6 only -> 15/16
    assert m["roc_auc"] == pytest.approx(15 / 16)
    expected_ll = -np.mean([np.log(1 - 0.1), np.log(1 - 0.6), np.log(1 - 0.2), np.log(0.8), np.log(0.4), np.log(0.9), np.log(0.7), np.log(1 - 0.3)])
    assert m["log_loss"] == pytest.approx(expected_ll)


def test_threshold_changes_the_confusion_matrix():
    m = compute_metrics([0, 1, 1], [0.2, 0.5, 0.9], threshold=0.6)
    assert m["confusion_matrix"] == [[1, 0], [1, 1]]


def test_ece_hand_computed():
    # two bins: p=0.25 (4 items, 1 positive -> perfect), p=0.95 (2 items, 1 positive -> gap 0.45)
    y = [1, 0, 0, 0, 1, 0]
    p = [0.25, 0.25, 0.25, 0.25, 0.95, 0.95]
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(2 / 6 * 0.45)


def test_temperature_recovers_known_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20000)
    y = (rng.uniform(size=true_logits.size) < expit(true_logits)).astype(int)
    t = fit_temperature(true_logits * 3.0, y)  # a model 3x overconfident
    assert t == pytest.approx(3.0, rel=0.08)
    before = expected_calibration_error(y, expit(true_logits * 3.0))
    after = expected_calibration_error(y, expit(true_logits * 3.0 / t))
    assert after < before / 3


def test_choose_threshold_finds_the_gap():
    y = np.array([0] * 50 + [1] * 50)
    p = np.concatenate([np.linspace(0.0, 0.7, 50), np.linspace(0.75, 1.0, 50)])
    t = choose_threshold(y, p)
    assert 0.7 < t <= 0.75
