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

from ..labels import VERDICT_FAKE as FAKE
from ..labels import VERDICT_REAL as REAL
from ..labels import VERDICT_UNCERTAIN as UNCERTAIN
from ..utils.numeric import sigmoid
from .tta import DEFAULT_VIEWS


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

    def fake_cut(self, n_faces: int = 1) -> float:
        """Where FAKE starts for a photo whose most-fake face is one of ``n_faces`` (``fake_from`` for one face)."""
        if self.fake_from_by_faces and n_faces > 1:
            return self.fake_from_by_faces[min(n_faces, len(self.fake_from_by_faces)) - 1]
        return self.fake_from

    def photo_verdict(self, most_fake: float, n_faces: int) -> str:
        """The verdict for a photo whose most-fake face scored ``most_fake`` among ``n_faces`` faces."""
        cut = self.fake_cut(n_faces)
        return FAKE if most_fake >= cut else REAL if most_fake < self.real_below else UNCERTAIN

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fake_from_by_faces"] = list(self.fake_from_by_faces)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Bands | None":
        if not d:
            return None
        return cls(
            float(d["real_below"]),
            float(d["fake_from"]),
            dict(d.get("fitted") or {}),
            tuple(float(v) for v in d.get("fake_from_by_faces") or ()),
        )


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    threshold: float = 0.5
    tta: bool = False
    bands: Bands | None = None
    # the views averaged with the face itself when ``tta`` is on (names from fakelens.inference.tta)
    tta_views: tuple[str, ...] = DEFAULT_VIEWS
    # A video's bands, fitted on the pooled scores of validation videos (training/video_calibration.py) for the
    # frame pooling ``video_aggregate`` (faces/aggregate.py): a video pooled otherwise keeps the frame bands.
    video_bands: Bands | None = None
    video_aggregate: str | None = None

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

    def video_verdict(self, prob_fake: float, n_people: int, aggregate: str) -> str:
        """A video's verdict from its most-fake person's pooled score: the video bands where they were fitted for
        this pooling, the photo bands otherwise."""
        if self.video_bands is not None and aggregate == self.video_aggregate:
            return self.video_bands.photo_verdict(prob_fake, n_people)
        return self.photo_verdict(prob_fake, n_people)

    def video_edges(self, n_people: int, aggregate: str) -> dict[str, float]:
        """:meth:`edges` for a video's verdict (see :meth:`video_verdict`)."""
        if self.video_bands is not None and aggregate == self.video_aggregate:
            return {"real_below": self.video_bands.real_below, "fake_from": self.video_bands.fake_cut(n_people)}
        return self.edges(n_people)

    def edges(self, n_faces: int = 1) -> dict[str, float]:
        """The verdict's edges on the P(fake) scale: REAL below ``real_below``, FAKE from ``fake_from``, for the
        most-fake of ``n_faces`` faces (one face: a face's own verdict). Without bands both are the threshold."""
        if self.bands is None:
            return {"real_below": self.threshold, "fake_from": self.threshold}
        return {"real_below": self.bands.real_below, "fake_from": self.bands.fake_cut(n_faces)}


def score_digits(score: float, edges: dict[str, float], least: int = 2, most: int = 6) -> int:
    """Decimals that show ``score`` on the same side of each edge as it is (0.968 beside "FAKE from 0.97" must not read 0.97)."""
    for digits in range(least, most):
        shown = round(score, digits)
        if all((shown < round(e, digits)) == (score < e) for e in edges.values()):
            return digits
    return most


def verdict_with_score(label: str | None, score: float | None, edges: dict[str, float] | None) -> str:
    """The verdict in words with its score on the bands' scale: ``UNCERTAIN: fake-likeness 0.92 (REAL below 0.30, FAKE from 0.97)``.

    The score is the calibrated P(fake), but a bare "92% fake" beside UNCERTAIN or REAL reads as an accusation:
    it is shown with the edges that give it its meaning. The web page words it the same way (``static/app.js``).
    """
    if label is None or score is None:
        return "no verdict"
    if not edges:
        return f"{label}: fake-likeness {score:.2f}"
    d = score_digits(score, edges)
    real_below, fake_from = edges["real_below"], edges["fake_from"]
    return f"{label}: fake-likeness {score:.{d}f} (REAL below {real_below:.{d}f}, FAKE from {fake_from:.{d}f})"
