"""Fitting a calibration on the validation split: temperature, threshold and the REAL/UNCERTAIN/FAKE bands."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit

from ..inference.calibration import Bands


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
    """The probability cut that maximises balanced accuracy on these labels.

    Where several cuts tie (a gap between the classes, as on cleanly separated validation data), the middle of
    the tied range in logit space: the lowest tied cut sits just above the most fake-looking real face, and with a
    sharp temperature that can be 1e-15, which calls nearly every unseen face FAKE.
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(prob_fake, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([np.quantile(p, np.linspace(0.01, 0.99, 197)), [0.5]]))
    pos, neg = y == 1, y == 0
    scores = np.array([((p[pos] >= t).mean() + (p[neg] < t).mean()) / 2 for t in candidates])
    first = last = int(np.argmax(scores))
    while last + 1 < len(scores) and scores[last + 1] == scores[first]:  # the run of cuts tied with the best
        last += 1
    if first == last:
        return float(candidates[first])
    lo, hi = logit(np.clip(candidates[[first, last]], 1e-300, 1 - 1e-16))
    return float(expit((lo + hi) / 2))


#: The most any population of real faces may be given the FAKE verdict, by default.
MAX_REAL_CALLED_FAKE = 0.03


def fit_bands(
    labels,
    prob_fake,
    precision: float = 0.9,
    max_real_called_fake: float = MAX_REAL_CALLED_FAKE,
    min_support: int = 20,
    sources=None,
    min_fake_from: float = 0.0,
) -> Bands:
    """Bands whose FAKE (and REAL) verdicts reached ``precision`` on these validation labels.

    ``fake_from`` is the lowest cut t such that, among faces with P(fake) >= t,
    at least ``precision`` are fake (with at least ``min_support`` of them), and
    at most ``max_real_called_fake`` of the real faces reach it: precision alone
    depends on how many fakes the validation data holds, the share of real faces
    accused does not. With ``sources`` (one name per face) the limit holds for the
    real faces of *every* source with ``min_support`` of them, not only pooled: a
    pooled 3% can hide one population of real photos accused at twice that;
    ``real_below`` is the highest cut such that, among faces below it, at least
    ``precision`` are real. If the two would cross, both sit at the balanced cut.
    ``min_fake_from``: a floor for the FAKE cut set by other constraints (``fakelens adapt``
    keeps every population of real faces accused no more than by the base detector).
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(prob_fake, dtype=np.float64)
    order = np.argsort(-p)
    ys, ps = y[order], p[order]
    # FAKE side: precision of "p >= ps[k]" for each k (descending order).
    tp = np.cumsum(ys == 1)
    n = np.arange(1, len(ys) + 1)
    ok = (tp / n >= precision) & (n >= min_support)
    fake_from = float(ps[np.nonzero(ok)[0].max()]) if ok.any() else 1.0
    reals = p[y == 0]
    # every population of reals that bounds the cut: all of them, and each source with enough of them
    bounding = [reals] if len(reals) else []
    if sources is not None:
        names = np.asarray(sources)[y == 0]
        bounding += [r for r in (reals[names == name] for name in dict.fromkeys(names)) if len(r) >= min_support]
    for r in bounding:
        # the smallest cut that at most max_real_called_fake of these reals reach
        fake_from = max(fake_from, float(np.nextafter(np.quantile(r, 1.0 - max_real_called_fake, method="higher"), 1.0)))
    fake_from = min(1.0, max(fake_from, float(min_fake_from)))
    # REAL side: precision of "p < t" for ascending cuts.
    asc = order[::-1]
    ya, pa = y[asc], p[asc]
    tn = np.cumsum(ya == 0)
    ok = (tn / n >= precision) & (n >= min_support)
    # "p < real_below" must include pa[k]: place the cut just above it.
    real_below = float(np.nextafter(pa[np.nonzero(ok)[0].max()], 1.0)) if ok.any() else 0.0
    if real_below > fake_from:
        real_below = fake_from = max(float(choose_threshold(y, p)), min(1.0, float(min_fake_from)))
    fake = p >= fake_from
    real = p < real_below
    fitted = {
        "precision_target": precision,
        "max_real_called_fake": max_real_called_fake,
        "per_source": sources is not None,
        "n": int(len(y)),
        "fake_precision": float((y[fake] == 1).mean()) if fake.any() else None,
        "real_precision": float((y[real] == 0).mean()) if real.any() else None,
        "share_uncertain": float((~fake & ~real).mean()),
        "real_called_fake": float(fake[y == 0].mean()) if (y == 0).any() else None,
        "fakes_called_fake": float(fake[y == 1].mean()) if (y == 1).any() else None,
    }
    return Bands(real_below, fake_from, fitted, photo_cuts(p[y == 0], fake_from))


def photo_cuts(real_probs: np.ndarray, fake_from: float, max_faces: int = 8) -> tuple[float, ...]:
    """FAKE cuts for photos of 1..``max_faces`` faces, from validation real faces.

    One real face reaches ``fake_from`` with probability a (its share among the
    validation reals). For k independent real faces the most-fake one reaches a
    cut t with probability 1 - F(t)^k (F: the reals' distribution), so the cut
    that keeps a photo's accusation rate at a is F's quantile at (1 - a)^(1/k).
    """
    reals = np.sort(np.asarray(real_probs, dtype=np.float64))
    if not len(reals):
        return ()
    a = float((reals >= fake_from).mean())
    cuts = [fake_from]
    for k in range(2, max_faces + 1):
        level = (1.0 - a) ** (1.0 / k)
        cuts.append(max(fake_from, float(np.nextafter(np.quantile(reals, level, method="higher"), 1.0)) if a > 0 else fake_from))
    return tuple(cuts)
