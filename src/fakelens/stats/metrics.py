"""Binary deepfake metrics (1 = FAKE is the positive class), all from scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def compute_metrics(labels, prob_fake, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC, log loss and the confusion matrix."""
    y = np.asarray(labels, dtype=int)
    p = np.clip(np.asarray(prob_fake, dtype=np.float64), 1e-7, 1 - 1e-7)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "n": int(len(y)),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else None,
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else None,
        "log_loss": float(skm.log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def expected_calibration_error(labels, prob_fake, n_bins: int = 15) -> float:
    """ECE over equal-width bins of the predicted FAKE probability."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(prob_fake, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(ece)


def verdict_metrics(labels, prob_fake, bands) -> dict:
    """What people see: the share of real faces called FAKE, of fakes called FAKE, and of UNCERTAIN verdicts.

    ``bands``: a :class:`~fakelens.inference.calibration.Bands` (FAKE from
    ``fake_from``, REAL below ``real_below``); an UNCERTAIN verdict accuses no one.
    """
    y, p = np.asarray(labels, dtype=int), np.asarray(prob_fake, dtype=np.float64)
    fake, real = p >= bands.fake_from, p < bands.real_below
    return {
        "real_called_fake": float(fake[y == 0].mean()) if (y == 0).any() else None,
        "fakes_called_fake": float(fake[y == 1].mean()) if (y == 1).any() else None,
        "uncertain": float((~fake & ~real).mean()) if len(y) else None,
    }


def _cluster_weights(index: np.ndarray, n_clusters: int, n_boot: int, seed: int):
    """Per-image weights of ``n_boot`` cluster bootstrap draws (``index``: each image's cluster number): each image
    counts as often as its cluster was drawn."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[index].astype(np.float64)


def _percentile_interval(values: list[float], confidence: float) -> list[float] | None:
    tail = 100 * (1 - confidence) / 2
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))] if values else None


def _accuracy_and_auc(y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray) -> tuple[float, float | None]:
    correct = ((p >= threshold).astype(int) == y).astype(np.float64)
    both = w[y == 0].sum() > 0 and w[y == 1].sum() > 0
    return float(np.average(correct, weights=w)), float(skm.roc_auc_score(y, p, sample_weight=w)) if both else None


def bootstrap_intervals(labels, prob_fake, clusters, threshold: float, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Percentile intervals of accuracy and ROC-AUC from resampling whole ``clusters`` with replacement.

    Images of one cluster (a fake and the real video it was made from, one
    person's photos) are not independent, so they are drawn together: an
    interval from single images would be too narrow. ``roc_auc`` is None when
    the labels have one class; ``{}`` when there are fewer than two clusters.
    """
    return paired_bootstrap_intervals(labels, [prob_fake], clusters, [threshold], n_boot, confidence, seed)


def paired_bootstrap_intervals(
    labels, probs: list, clusters, thresholds: list[float], n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict:
    """:func:`bootstrap_intervals` of one detector (``probs`` of length 1), or, for two detectors scored on the same
    images, of the second one's accuracy and ROC-AUC minus the first one's, both taken on every draw: an interval
    that excludes 0 says the two differ on data like this, even where their own intervals overlap."""
    y = np.asarray(labels, dtype=int)
    ps = [np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7) for p in probs]
    ids, index = np.unique(np.asarray(clusters), return_inverse=True)
    n_clusters = len(ids)
    if n_clusters < 2 or n_boot < 1:
        return {}
    acc, auc = [], []
    for w in _cluster_weights(index, n_clusters, n_boot, seed):
        figures = [_accuracy_and_auc(y, p, t, w) for p, t in zip(ps, thresholds)]
        acc.append(figures[-1][0] - (figures[0][0] if len(figures) == 2 else 0.0))
        if all(a is not None for _, a in figures):
            auc.append(figures[-1][1] - (figures[0][1] if len(figures) == 2 else 0.0))
    both = len(np.unique(y)) == 2
    return {
        "accuracy": _percentile_interval(acc, confidence),
        "roc_auc": _percentile_interval(auc, confidence) if both else None,
        "clusters": int(n_clusters),
    }
