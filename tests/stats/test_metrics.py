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
    expected_ll = -np.mean(
        [np.log(1 - 0.1), np.log(1 - 0.6), np.log(1 - 0.2), np.log(0.8), np.log(0.4), np.log(0.9), np.log(0.7), np.log(1 - 0.3)]
    )
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


def test_choose_threshold_sits_mid_gap_when_the_classes_separate():
    # cleanly separated, symmetric validation scores: every cut in the gap is perfect; the cut is its middle (in
    # logits), not the lowest such cut just above the most fake-looking real face, which calls unseen reals FAKE
    y = np.array([0] * 20 + [1] * 20)
    z = np.concatenate([np.linspace(-10, -5, 20), np.linspace(5, 10, 20)])
    t = choose_threshold(y, expit(z))
    assert abs(np.log(t / (1 - t))) < 1.0


def test_bootstrap_intervals_bracket_the_figure_and_widen_when_images_come_in_clusters():
    from sklearn.metrics import roc_auc_score

    from fakelens.stats.metrics import bootstrap_intervals

    rng = np.random.default_rng(0)
    # 200 clusters of 5 near-copies: each cluster shares one label and (almost) one score
    labels = np.repeat(rng.integers(0, 2, 200), 5)
    probs = np.clip(np.repeat(rng.normal(0.35 + 0.3 * labels[::5], 0.2), 5) + rng.normal(0, 0.01, 1000), 0, 1)
    auc, acc = roc_auc_score(labels, probs), np.mean((probs >= 0.5) == labels)
    clustered = bootstrap_intervals(labels, probs, np.repeat(np.arange(200), 5), 0.5, n_boot=300)
    single = bootstrap_intervals(labels, probs, np.arange(1000), 0.5, n_boot=300)
    assert clustered["clusters"] == 200 and single["clusters"] == 1000
    for ci in (clustered, single):
        assert ci["roc_auc"][0] < auc < ci["roc_auc"][1] and ci["accuracy"][0] < acc < ci["accuracy"][1]
    width = lambda ci, k: ci[k][1] - ci[k][0]  # noqa: E731
    # images that are not independent must not count as independent evidence: about sqrt(5) wider
    assert width(clustered, "roc_auc") > 1.6 * width(single, "roc_auc")
    assert width(clustered, "accuracy") > 1.6 * width(single, "accuracy")
    # the same seed gives the same interval; real faces only: an accuracy interval and no AUC
    assert bootstrap_intervals(labels, probs, np.arange(1000), 0.5, n_boot=300) == single
    reals = bootstrap_intervals(np.zeros(50, int), rng.random(50), np.arange(50), 0.5, n_boot=100)
    assert reals["roc_auc"] is None and 0 <= reals["accuracy"][0] <= reals["accuracy"][1] <= 1
    assert bootstrap_intervals(labels, probs, np.zeros(1000), 0.5) == {}


def test_paired_intervals_see_a_gap_that_the_two_own_intervals_hide():
    from fakelens.stats.metrics import bootstrap_intervals, paired_bootstrap_intervals

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 600)
    hard = rng.normal(0, 1.2, 600)  # what both detectors get wrong on the same images
    a = 1 / (1 + np.exp(-(1.2 * (2 * labels - 1) + hard)))
    b = 1 / (1 + np.exp(-(1.35 * (2 * labels - 1) + hard)))  # slightly better on every image
    own_a = bootstrap_intervals(labels, a, np.arange(600), 0.5, n_boot=300)
    own_b = bootstrap_intervals(labels, b, np.arange(600), 0.5, n_boot=300)
    assert own_b["roc_auc"][0] < own_a["roc_auc"][1]  # their own intervals overlap ...
    diff = paired_bootstrap_intervals(labels, [a, b], np.arange(600), [0.5, 0.5], n_boot=300)
    assert diff["roc_auc"][0] > 0  # ... but on the same draws b is ahead every time
    same = paired_bootstrap_intervals(labels, [a, a], np.arange(600), [0.5, 0.5], n_boot=50)
    assert same["roc_auc"] == [0.0, 0.0] and same["accuracy"] == [0.0, 0.0]
