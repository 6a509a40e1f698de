"""Provenance: what an image or video says about itself (C2PA, XMP, generator metadata), as evidence.

The light runtime: no PyTorch, no OpenCV; ``c2pa-python`` is imported only for
files that carry a C2PA manifest. :func:`read_provenance` reads the evidence,
:func:`~.policy.combine` turns it and the model's verdict into one verdict
(the policy is written down in :mod:`.policy`).
"""

from .evidence import AI_CLAIMS, CLAIMS, SOURCES, EvidenceItem, short_evidence
from .policy import combine, model_item
from .reader import NO_PROVENANCE, Provenance, read_provenance

__all__ = [
    "AI_CLAIMS",
    "CLAIMS",
    "NO_PROVENANCE",
    "SOURCES",
    "EvidenceItem",
    "Provenance",
    "combine",
    "model_item",
    "read_provenance",
    "short_evidence",
]
