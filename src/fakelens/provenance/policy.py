"""The verdict policy: how provenance evidence and the model's face scores make one verdict.

1. An AI claim (``ai_generated`` or ``ai_edited``) from a C2PA manifest that is
   valid or unverifiable (signed by a certificate outside the trust list), or
   from generator metadata (XMP DigitalSourceType, PNG text chunks, EXIF),
   makes the image FAKE, and the reason names the source and the generator.
2. An invalid C2PA manifest (its hashes no longer match: the pixels changed
   after signing; or its signature is broken) gives a warning, and none of its
   claims are trusted: the verdict is the model's.
3. A capture claim (``camera_capture``) is shown, but never overrides the
   model: a FAKE face stays FAKE, and an UNCERTAIN one stays UNCERTAIN.
4. Missing metadata says nothing: stripping it is easy, so its absence is
   never evidence that an image is real.
5. Otherwise the verdict is the model's (from its calibrated bands); the
   model's face scores are evidence items too (``source: model``).
"""

from __future__ import annotations

from typing import Iterable

from .evidence import AI_CLAIMS, EvidenceItem

FAKE = "FAKE"


def combine(model_verdict: str | None, items: Iterable[EvidenceItem]) -> tuple[str | None, list[str], list[str]]:
    """(verdict, reasons, warnings) for the model's verdict (None: no face scored) and the evidence items."""
    reasons, warnings = [], []
    for item in items:
        if item.source == "model":
            continue
        if item.valid is False:
            if item.claim in AI_CLAIMS:
                warnings.append(f"{item.source}: the {item.claim} claim is not trusted: the manifest is invalid")
            continue
        if item.claim in AI_CLAIMS:
            reasons.append(f"{item.source} says {item.claim}" + (f" ({item.name})" if item.name else "") + f": {item.detail}")
    if reasons:
        return FAKE, reasons, warnings
    return model_verdict, reasons, warnings


def model_item(what: str, prob_fake: float, label: str | None) -> EvidenceItem:
    """The model's score for one face (or person) as an evidence item: a FAKE face is an AI edit (a swapped or
    re-enacted face), anything else claims nothing."""
    claim = "ai_edited" if label == FAKE else "none"
    return EvidenceItem("model", claim, f"{what}: {label}, fake-likeness {prob_fake:.2f}", None, what)
