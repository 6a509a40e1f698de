"""Unsigned metadata that generators write: XMP DigitalSourceType, PNG text chunks, EXIF Software and UserComment.

None of it is signed, so ``valid`` is None; but a photo does not carry an
AUTOMATIC1111 ``parameters`` block by accident, so an AI claim from here counts
(the policy in :mod:`.policy`). Absence says nothing: stripping is easy.
"""

from __future__ import annotations

import json
import re
import warnings

from .c2pa_manifest import source_type_claim
from .containers import Blocks
from .evidence import AI_GENERATED, EvidenceItem

#: EXIF/PNG ``Software`` values of image generators (case-insensitive, whole words).
GENERATOR_SOFTWARE = (
    "Midjourney",
    "DALL-E",
    "DALL·E",
    "DALLE",
    "Stable Diffusion",
    "StableDiffusion",
    "SDXL",
    "NovelAI",
    "Adobe Firefly",
    "Firefly",
    "Imagen",
    "Ideogram",
    "Leonardo.Ai",
    "Flux.1",
    "FLUX",
    "Bing Image Creator",
    "Microsoft Designer",
    "Image Creator",
    "Runway",
    "Sora",
    "ChatGPT",
    "GPT-4o",
    "Craiyon",
    "DreamStudio",
    "ComfyUI",
    "AUTOMATIC1111",
    "InvokeAI",
    "Fooocus",
    "Playground AI",
    "NightCafe",
    "Stability AI",
    "Kandinsky",
    "DeepAI",
    "Artbreeder",
)
_SOFTWARE_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(s) for s in GENERATOR_SOFTWARE) + r")(?![\w])", re.IGNORECASE)
#: XMP: ``prefix:DigitalSourceType="..."``, ``<prefix:DigitalSourceType rdf:resource="..."/>`` or an element's text.
_XMP_ATTR = re.compile(rb"\w{1,40}:DigitalSourceType\s*=\s*[\"']([^\"'<>]{1,300})[\"']")
_XMP_ELEM = re.compile(rb"<\w{1,40}:DigitalSourceType(?:\s+[\w:]{1,40}\s*=\s*[\"']([^\"'<>]{1,300})[\"'])?\s*/?>([^<]{0,300})")
_A1111_KEYS = ("Steps:", "Sampler:", "CFG scale:", "Seed:", "Negative prompt:", "Model hash:")
_TEXT_KEYS_INVOKEAI = ("invokeai_metadata", "invokeai_graph", "sd-metadata", "Dream")
_EXIF_SOFTWARE, _EXIF_IFD, _EXIF_USER_COMMENT, _EXIF_DESCRIPTION = 0x0131, 0x8769, 0x9286, 0x010E


def generator_evidence(blocks: Blocks) -> list[EvidenceItem]:
    return _xmp_items(blocks.xmp) + _text_items(blocks.texts, blocks.warn) + _exif_items(blocks)


def _xmp_items(packets: list[bytes]) -> list[EvidenceItem]:
    items, seen = [], set()
    for packet in packets:
        values = []
        # The patterns run only around each mention (a megabyte of filler would make them slow everywhere else).
        start = packet.find(b"DigitalSourceType")
        while start >= 0 and len(values) < 16:
            window = packet[max(0, start - 42) : start + 400]
            values += [m.group(1) for m in _XMP_ATTR.finditer(window)]
            values += [(m.group(1) or m.group(2)).strip() for m in _XMP_ELEM.finditer(window)]
            start = packet.find(b"DigitalSourceType", start + 17)
        for raw in values:
            claim, term = source_type_claim(raw.decode("utf-8", "replace"))
            if term and term not in seen:
                seen.add(term)
                items.append(EvidenceItem("xmp", claim, f"XMP Iptc4xmpExt:DigitalSourceType {term}", None, term))
    return items


def _text_items(texts: list[tuple[str, str]], warn) -> list[EvidenceItem]:
    items = []
    keys = {k: v for k, v in reversed(texts)}  # the first chunk of a keyword wins
    params = keys.get("parameters", "")
    if params.strip():
        items.append(
            EvidenceItem("png-text", AI_GENERATED, "AUTOMATIC1111 'parameters' text chunk" + _a1111_summary(params), None, "AUTOMATIC1111")
        )
    if _looks_like_json(keys.get("prompt"), '"class_type"', warn) or _looks_like_json(keys.get("workflow"), '"nodes"', warn):
        items.append(EvidenceItem("png-text", AI_GENERATED, "ComfyUI 'prompt'/'workflow' text chunk (a node graph)", None, "ComfyUI"))
    invoke = [k for k in _TEXT_KEYS_INVOKEAI if keys.get(k, "").strip()]
    if invoke:
        items.append(EvidenceItem("png-text", AI_GENERATED, f"InvokeAI '{invoke[0]}' text chunk", None, "InvokeAI"))
    software = keys.get("Software", "")
    comment = keys.get("Comment", "")
    if "novelai" in software.lower() or ("novelai" in keys.get("Source", "").lower() and _looks_like_json(comment, '"sampler"', warn)):
        items.append(EvidenceItem("png-text", AI_GENERATED, f"NovelAI text chunks (Software: {software[:60]})", None, "NovelAI"))
    elif software and (m := _SOFTWARE_RE.search(software[:300])):
        items.append(EvidenceItem("png-text", AI_GENERATED, f"PNG Software text chunk: {software[:80]}", None, m.group(1)))
    return items


def _a1111_summary(params: str) -> str:
    fields = dict(re.findall(r"(Model|Sampler|Steps|Seed):\s*([^,\n]{1,60})", params[-4000:]))
    return f" ({', '.join(f'{k} {v.strip()}' for k, v in fields.items())})" if fields else ""


def _looks_like_json(text: str | None, marker: str, warn) -> bool:
    if not text or marker not in text:
        return False
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False
    except RecursionError:  # "[[[[..." nested past the parser's depth
        warn("a JSON text chunk is nested too deeply to read: it was ignored")
        return False


def _exif_items(blocks: Blocks) -> list[EvidenceItem]:
    from PIL import Image

    items = []
    for tiff in blocks.exif:
        exif = Image.Exif()
        try:
            with warnings.catch_warnings():  # Pillow's "Corrupt EXIF data" on hostile blocks: the block is reported below
                warnings.simplefilter("ignore")
                exif.load(b"Exif\x00\x00" + tiff)
                software = str(exif.get(_EXIF_SOFTWARE) or "")
                comment = _user_comment(exif.get_ifd(_EXIF_IFD).get(_EXIF_USER_COMMENT))
        except Exception:  # noqa: BLE001 - a malformed IFD in untrusted metadata is skipped, never fatal
            blocks.warn("an EXIF block is malformed: it was not read")
            continue
        if software and (m := _SOFTWARE_RE.search(software[:300])):
            items.append(EvidenceItem("exif", AI_GENERATED, f"EXIF Software: {software[:80]}", None, m.group(1)))
        if sum(key in comment for key in _A1111_KEYS) >= 2:
            items.append(
                EvidenceItem(
                    "exif", AI_GENERATED, "AUTOMATIC1111 parameters in EXIF UserComment" + _a1111_summary(comment), None, "AUTOMATIC1111"
                )
            )
    return items


def _user_comment(value) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text (A1111 writes UNICODE, UTF-16)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, bytearray)):
        return ""
    code, body = bytes(value[:8]), bytes(value[8 : 8 + (1 << 20)])
    if code.startswith(b"UNICODE"):
        texts = [body.decode(enc, "replace") for enc in ("utf-16-be", "utf-16-le")]
        return max(texts, key=lambda t: sum(ch.isascii() for ch in t))
    return body.decode("utf-8", "replace")
