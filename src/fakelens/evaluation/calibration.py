"""Temperature scaling and threshold choice, fitted on the validation split."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit


def fit_temperature(logits, labels) -> float:
    """The temperature T minimising the log loss of sigmoid(logit / T) (Guo et al. 2017)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)

    def nll(log_t: float) -> float:
        p = np.clip(expit(z / np.exp(log_t)), 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def choose_threshold(labels, prob_fake) -> float:
    """The probability cut that maximises balanced accuracy on these labels."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(prob_fake, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([np.quantile(p, np.linspace(0.01, 0.99, 197)), [0.5]]))
    pos, neg = y == 1, y == 0
    scores = [((p[pos] >= t).mean() + (p[neg] < t).mean()) / 2 for t in candidates]
    best = float(candidates[int(np.argmax(scores))])
    return best
