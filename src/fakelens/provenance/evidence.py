"""One piece of evidence about an image or video: who says what, and whether the saying can be checked."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Where a piece of evidence comes from.
SOURCES = ("c2pa", "xmp", "png-text", "exif", "model")
#: What it says about the pixels.
AI_GENERATED, AI_EDITED, CAMERA_CAPTURE, NO_CLAIM = "ai_generated", "ai_edited", "camera_capture", "none"
CLAIMS = (AI_GENERATED, AI_EDITED, CAMERA_CAPTURE, NO_CLAIM)
AI_CLAIMS = (AI_GENERATED, AI_EDITED)


@dataclass(frozen=True)
class EvidenceItem:
    """``source`` says ``claim`` about the media; ``detail`` for people; ``valid``: True when a signature checks out
    against the trust list, False when it is broken (the claim is not trusted), None when it cannot be verified
    (unsigned metadata, a signer outside the trust list, the model's own score)."""

    source: str
    claim: str
    detail: str
    valid: bool | None = None
    #: A short name for the one-line form (``c2pa:ai_generated(ExampleImageGen)``); not part of the JSON.
    name: str = field(default="", compare=False)

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"unknown evidence source {self.source!r}")
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown evidence claim {self.claim!r}")

    def to_dict(self) -> dict:
        return {"source": self.source, "claim": self.claim, "detail": self.detail, "valid": self.valid}

    def short(self) -> str:
        """``source:claim(name[,invalid|,unverified])``: the CSV form."""
        notes = [
            n
            for n in (
                self.name,
                "invalid" if self.valid is False else "",
                "unverified" if self.valid is None and self.source == "c2pa" else "",
            )
            if n
        ]
        return f"{self.source}:{self.claim}" + (f"({','.join(notes)})" if notes else "")


def short_evidence(items) -> str:
    """The ``;``-joined one-line form of the items that are not the model's (those have their own columns)."""
    return ";".join(i.short() for i in items if i.source != "model")
