"""Fit an adapter: a head on the frozen pooled features, its fusion with the base logit, and the verdict bands.

1. The head: a logistic regression (scikit-learn) on standardised pooled
   features telling the user's fakes from real faces: the user's reals and the
   memory bank's (the base's own validation faces), a third of the weight each.
   The bank's reals keep the head from learning "anything unlike the user's
   reals is fake"; the bank's fakes are left out, so the head learns the new
   kind only.
2. The fusion: ``a * base_logit + b * max(0, head_logit - m) + c`` (a, b >= 0),
   fitted by weighted log loss on out-of-fold head logits (grouped K-fold) of the
   user's examples and the whole bank, the user's half of the weight; the hinge
   ``m`` is chosen among high quantiles of the real faces' head logits. Where the
   head stays below ``m`` (nearly all the base's known data) the fused score is
   an affine map of the base logit: the base's ranking is kept. The fused logit
   is a calibrated log-odds: the adapted detector's temperature is 1.
3. The bands: :func:`~fakelens.inference.calibration.fit_bands` on the out-of-fold
   fused scores of the user's examples and the bank, with the FAKE cut raised
   until no population of real faces (the user's, each bank source's) is
   accused more often than by the base detector with its own bands, and until a
   normal fit to the user's few reals predicts at most 1% (or the base's share)
   of faces like them accused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..inference.adapter import Adapter
from ..inference.calibration import Bands
from ..stats.calibration import fit_bands
from ..utils.numeric import sigmoid

#: The head's inverse L2 strength on standardised features (small: a few dozen examples, over a thousand features).
HEAD_C = 0.05
#: The user's examples' share of the total fitting weight; the bank has the rest.
USER_SHARE = 0.5
FOLDS = 5
#: The name the user's examples go by among the populations of real faces the bands protect.
USER = "your examples"
#: The user's real faces are few (20 reals say little about a 1-in-50 tail): the FAKE cut also keeps a normal fit to
#: their fused logits from predicting more than this share of such faces accused (or the base's share, if higher).
USER_TAIL_SHARE = 0.01


@dataclass
class Embedded:
    """Faces as the base model sees them: TTA-averaged logits and pooled features, with labels and groups."""

    base_logits: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    sources: np.ndarray

    def take(self, index: np.ndarray) -> "Embedded":
        return Embedded(self.base_logits[index], self.features[index], self.labels[index], self.groups[index], self.sources[index])

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Fitted:
    adapter: Adapter
    threshold: float
    bands: Bands
    # accused share of each population of reals: by the base with its bands, by the adapted detector with its own
    accused_before: dict[str, float] = field(default_factory=dict)
    accused_after: dict[str, float] = field(default_factory=dict)


def balanced_weights(labels: np.ndarray, total: float) -> np.ndarray:
    """Weights summing to ``total``, half on each class present."""
    w = np.zeros(len(labels))
    present = [c for c in (0, 1) if (labels == c).any()]
    for c in present:
        mask = labels == c
        w[mask] = total / len(present) / mask.sum()
    return w


def fitting_weights(n_user_labels: np.ndarray, bank_labels: np.ndarray | None) -> np.ndarray:
    """Per-example weights: the user's examples and the bank each class-balanced, the user's :data:`USER_SHARE` of all."""
    if bank_labels is None or not len(bank_labels):
        w = balanced_weights(n_user_labels, 1.0)
    else:
        w = np.concatenate([balanced_weights(n_user_labels, USER_SHARE), balanced_weights(bank_labels, 1.0 - USER_SHARE)])
    return w * len(w)  # mean weight 1: the regularisation strength means the same whatever the counts


def fit_head(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardisation and logistic-regression weights: ``(mean, scale, coef, intercept)``."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    model = LogisticRegression(C=HEAD_C, max_iter=1000, random_state=seed)
    model.fit((features - mean) / scale, labels, sample_weight=weights)
    return mean, scale, model.coef_.reshape(-1), float(model.intercept_[0])


def head_logits(params, features: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = params
    return ((features - mean) / scale) @ coef + intercept


def out_of_fold_head_logits(data: Embedded, weights: np.ndarray, seed: int) -> np.ndarray:
    """Each face's head logit from a head fitted without its group (stratified, grouped K-fold).

    Faces of weight 0 are not fitted on but are scored like the rest.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    folds = min(FOLDS, int(np.bincount(data.labels[weights > 0], minlength=2).min()))
    out = np.zeros(len(data))
    splitter = StratifiedGroupKFold(n_splits=max(2, folds), shuffle=True, random_state=seed)
    for fit_idx, held_idx in splitter.split(data.features, data.labels, data.groups):
        fit_idx = fit_idx[weights[fit_idx] > 0]
        params = fit_head(data.features[fit_idx], data.labels[fit_idx], weights[fit_idx], seed)
        out[held_idx] = head_logits(params, data.features[held_idx])
    return out


def fit_fusion(base: np.ndarray, evidence: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """``(a, b, c)`` with a, b >= 0 minimising the weighted log loss of ``sigmoid(a * base + b * evidence + c)``, and that loss."""
    from scipy.optimize import minimize

    x = np.stack([base, evidence, np.ones_like(base)], axis=1)
    y = labels.astype(np.float64)
    w = weights / weights.sum()

    def loss(theta):
        z = x @ theta
        # log(1 + e^z) - y z, stable; and its gradient
        value = np.sum(w * (np.logaddexp(0.0, z) - y * z))
        grad = x.T @ (w * (sigmoid(z) - y))
        return value, grad

    result = minimize(loss, np.array([1.0, 1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(0.0, 100.0), (0.0, 100.0), (-1000.0, 1000.0)])
    a, b, c = (float(v) for v in result.x)
    return (a, b, c), float(result.fun)


#: Quantiles of the real faces' out-of-fold head logits tried as the hinge (higher: the head speaks on fewer faces).
HINGE_QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0)


def fit_hinged_fusion(base: np.ndarray, head: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float, float, float]:
    """``(a, b, c, m)``: the fusion and hinge with the lowest weighted log loss (the highest hinge among equals)."""
    reals = head[labels == 0]
    best = None
    for q in HINGE_QUANTILES:
        m = float(np.quantile(reals, q)) if len(reals) else 0.0
        (a, b, c), loss = fit_fusion(base, np.maximum(0.0, head - m), labels, weights)
        if best is None or loss <= best[0] + 1e-6:
            best = (loss, (a, b, c, m))
    return best[1]


def accused_share(probs: np.ndarray, cut: float) -> float:
    return float((np.asarray(probs) >= cut).mean()) if len(probs) else 0.0


def cut_keeping_share(reals: np.ndarray, share: float) -> float:
    """The lowest FAKE cut that at most ``share`` of ``reals`` reach."""
    if not len(reals):
        return 0.0
    allowed = int(np.floor(share * len(reals) + 1e-9))
    if allowed >= len(reals):
        return 0.0
    return float(np.nextafter(np.sort(reals)[::-1][allowed], 1.0))


def tail_cut(probs: np.ndarray, share: float) -> float:
    """The FAKE cut that a normal fit to these faces' logits predicts at most ``share`` of such faces reach."""
    from scipy.stats import norm

    if len(probs) < 3:
        return 0.0
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    z = np.log(p) - np.log1p(-p)
    return float(sigmoid(np.array([z.mean() + z.std(ddof=1) * norm.ppf(1.0 - share)]))[0])


def fit_adapter(user: Embedded, bank: Embedded | None, base_calibration, seed: int = 0, info: dict | None = None) -> Fitted:
    """Head, fusion and bands from the user's (fitting) examples and the bank; see the module's docstring."""
    from ..stats.calibration import choose_threshold

    data = (
        user
        if bank is None
        else Embedded(
            *(
                np.concatenate([a, b])
                for a, b in zip(
                    (user.base_logits, user.features, user.labels, user.groups, user.sources),
                    (bank.base_logits, bank.features, bank.labels, bank.groups, bank.sources),
                )
            )
        )
    )
    weights = fitting_weights(user.labels, None if bank is None else bank.labels)
    # the head learns the user's fakes against every real face: the bank's fakes take no part in it
    head_weights = np.where((np.arange(len(data)) >= len(user)) & (data.labels == 1), 0.0, weights)
    oof = out_of_fold_head_logits(data, head_weights, seed)
    a, b, c, m = fit_hinged_fusion(data.base_logits, oof, data.labels, weights)
    keep = head_weights > 0
    mean, scale, coef, intercept = fit_head(data.features[keep], data.labels[keep], head_weights[keep], seed)
    adapter = Adapter(mean, scale, coef, intercept, a, b, c, m, dict(info or {}))
    fused = sigmoid(adapter.fuse(data.base_logits, oof))
    base_probs = base_calibration.proba(data.base_logits)
    base_cut = base_calibration.bands.fake_from if base_calibration.bands is not None else base_calibration.threshold
    # every population of real faces the bands protect: the user's, and each bank source's
    population = np.where(np.arange(len(data)) < len(user), USER, data.sources.astype(str))
    reals = data.labels == 0
    before, floor = {}, 0.0
    for name in dict.fromkeys(population[reals]):
        mask = reals & (population == name)
        before[name] = accused_share(base_probs[mask], base_cut)
        floor = max(floor, cut_keeping_share(fused[mask], before[name]))
    user_reals = reals & (population == USER)
    floor = max(floor, tail_cut(fused[user_reals], max(before.get(USER, 0.0), USER_TAIL_SHARE)))
    bands = fit_bands(data.labels, fused, sources=population, min_fake_from=floor)
    after = {name: accused_share(fused[reals & (population == name)], bands.fake_from) for name in before}
    return Fitted(adapter, float(choose_threshold(data.labels, fused)), bands, before, after)
