"""Calibration: raw logits -> calibrated P(fake) -> a verdict. NumPy only.

A detector's calibration is fitted on validation data with the setting it will
ship with (TTA on or off, and which views: :mod:`fakelens.inference.tta`), and holds:

* ``temperature``: P(fake) = sigmoid(logit / T) (Guo et al. 2017);
* ``threshold``: the binary REAL/FAKE cut (balanced accuracy on validation), used
  for accuracy-style metrics;
* ``bands``: the verdict that admits doubt. P(fake) below ``real_below`` is REAL,
  at or above ``fake_from`` is FAKE, and in between UNCERTAIN. ``fake_from`` is
  the lowest cut at which validation FAKE verdicts were right at least 90% of
  the time (pooled over every validation source) and that at most 3% of validation
  real faces reach; ``real_below`` is fitted likewise for REAL verdicts. Calling a real face FAKE is the worst failure fakelens can make, so
  a FAKE verdict needs strong evidence and the rest stays UNCERTAIN.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .tta import DEFAULT_VIEWS

REAL, UNCERTAIN, FAKE = "REAL", "UNCERTAIN", "FAKE"


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


@dataclass(frozen=True)
class Bands:
    """REAL below ``real_below``, FAKE from ``fake_from``, UNCERTAIN in between (0 <= real_below <= fake_from <= 1)."""

    real_below: float
    fake_from: float
    # How they were fitted (target precision, validation figures), for the model card.
    fitted: dict = field(default_factory=dict, compare=False)
    # The FAKE cut for a photo with k faces (k = 1, 2, ...; the last entry for more): a photo is
    # judged by its most-fake face, and the most-fake of k real faces is higher than one real face,
    # so the cut rises with k to keep a photo of real people as rarely accused as one real face.
    fake_from_by_faces: tuple[float, ...] = ()

    def __post_init__(self):
        if not (0.0 <= self.real_below <= self.fake_from <= 1.0):
            raise ValueError(f"bands need 0 <= real_below <= fake_from <= 1 (got {self.real_below}, {self.fake_from})")

    def verdict(self, prob_fake: float) -> str:
        return FAKE if prob_fake >= self.fake_from else REAL if prob_fake < self.real_below else UNCERTAIN

    def photo_verdict(self, most_fake: float, n_faces: int) -> str:
        """The verdict for a photo whose most-fake face scored ``most_fake`` among ``n_faces`` faces."""
        cut = self.fake_from_by_faces[min(n_faces, len(self.fake_from_by_faces)) - 1] if self.fake_from_by_faces and n_faces > 1 else self.fake_from
        return FAKE if most_fake >= cut else REAL if most_fake < self.real_below else UNCERTAIN

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fake_from_by_faces"] = list(self.fake_from_by_faces)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Bands | None":
        if not d:
            return None
        return cls(float(d["real_below"]), float(d["fake_from"]), dict(d.get("fitted") or {}),
                   tuple(float(v) for v in d.get("fake_from_by_faces") or ()))


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    threshold: float = 0.5
    tta: bool = False
    bands: Bands | None = None
    # the views averaged with the face itself when ``tta`` is on (names from fakelens.inference.tta)
    tta_views: tuple[str, ...] = DEFAULT_VIEWS

    def proba(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid(np.asarray(logits, dtype=np.float64) / self.temperature)

    def label(self, prob_fake: float) -> str:
        """The binary label at ``threshold``."""
        return FAKE if prob_fake >= self.threshold else REAL

    def verdict(self, prob_fake: float) -> str:
        """REAL / UNCERTAIN / FAKE from the bands (the binary label where none were fitted)."""
        return self.bands.verdict(prob_fake) if self.bands is not None else self.label(prob_fake)

    def photo_verdict(self, most_fake: float, n_faces: int) -> str:
        """The verdict for a whole photo (its most-fake face among ``n_faces``), fitted at photo level."""
        return self.bands.photo_verdict(most_fake, n_faces) if self.bands is not None else self.label(most_fake)


def fit_bands(labels, prob_fake, precision: float = 0.9, max_real_called_fake: float = 0.03, min_support: int = 20,
              sources=None, min_fake_from: float = 0.0) -> Bands:
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
        from ..evaluation.calibration import choose_threshold

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
