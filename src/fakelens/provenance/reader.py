"""``read_provenance``: every provenance claim an image or MP4 carries, as evidence items, with warnings."""

from __future__ import annotations

from .c2pa_manifest import read_c2pa
from .containers import BMFF, MAX_C2PA_BYTES, Source, open_source, scan
from .evidence import EvidenceItem
from .generators import generator_evidence

#: What a file says about itself: (evidence items, warnings).
Provenance = tuple[list[EvidenceItem], list[str]]
NO_PROVENANCE: Provenance = ([], [])


def read_provenance(source: Source) -> Provenance:
    """(evidence items, warnings) for a file path or its bytes; never raises on bad metadata.

    Images (JPEG, PNG, WebP): C2PA, XMP DigitalSourceType, generator text
    chunks, EXIF Software/UserComment. MP4: C2PA only. A file that cannot be
    opened gives no items and a warning (decoding it reports the error).
    """
    try:
        fh = open_source(source)
    except OSError as exc:
        return [], [f"provenance not read: {exc.strerror or exc}"]
    with fh:
        blocks = scan(fh)
        items: list[EvidenceItem] = []
        warnings = blocks.warnings
        if blocks.c2pa_bytes > MAX_C2PA_BYTES:
            warnings.append(f"a C2PA manifest store of {blocks.c2pa_bytes / 2**20:.0f} MB (over {MAX_C2PA_BYTES >> 20} MB) was not read")
        elif blocks.c2pa_bytes:
            found, more = read_c2pa(fh, blocks.mime)
            items += found
            warnings += more
        if blocks.format != BMFF:
            items += generator_evidence(blocks)
    return items, list(dict.fromkeys(warnings))
