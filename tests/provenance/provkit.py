"""Files carrying provenance, made at test time: C2PA-signed images and videos (c2pa's public ES256 test pair, see
fixtures/README.md), generator PNGs, XMP and EXIF JPEGs, and hostile metadata. Shared by the tests and the benchmarks."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

FIXTURES = Path(__file__).resolve().parent / "fixtures"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111_PARAMETERS = (
    "portrait photo of a woman, studio light\nNegative prompt: blurry\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, "
    "Model: v1-5-pruned-emaonly"
)


def face_rgb() -> np.ndarray:
    """A real photo with one face (scikit-image's astronaut)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def encode(rgb: np.ndarray, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **params)
    return buf.getvalue()


def test_signer():
    import c2pa

    certs, key = (FIXTURES / "es256_certs.pem").read_bytes(), (FIXTURES / "es256_private.key").read_bytes()
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certs, key, None))


def intermediate_ca_pem() -> str:
    """The test pair's issuing CA: as a trust anchor it makes the test signer trusted."""
    pem = (FIXTURES / "es256_certs.pem").read_text()
    end = "-----END CERTIFICATE-----"
    return pem.split(end)[1].strip() + "\n" + end + "\n"


def manifest(
    source_type: str = "trainedAlgorithmicMedia",
    generator: str = "ExampleImageGen",
    agent: str = "ExampleImageGen Diffusion 2",
    action: str = "c2pa.created",
) -> dict:
    act = {"action": action, "digitalSourceType": IPTC + source_type, "softwareAgent": {"name": agent}}
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "generated",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [act]}}],
    }


def sign(data: bytes, mime: str, manifest_json: dict | None = None) -> bytes:
    """``data`` with a C2PA manifest embedded and signed by the public test signer."""
    import c2pa

    dst = io.BytesIO()
    with c2pa.Builder(manifest_json or manifest()) as builder:
        builder.sign(test_signer(), mime, io.BytesIO(data), dst)
    return dst.getvalue()


def signed_jpeg(source_type: str = "trainedAlgorithmicMedia", rgb: np.ndarray | None = None, **kw) -> bytes:
    return sign(encode(face_rgb() if rgb is None else rgb, "JPEG", quality=92), "image/jpeg", manifest(source_type, **kw))


def signed_png(source_type: str = "trainedAlgorithmicMedia", rgb: np.ndarray | None = None, **kw) -> bytes:
    return sign(encode(face_rgb() if rgb is None else rgb, "PNG"), "image/png", manifest(source_type, **kw))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_join(chunks) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I4s", len(d), k) + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)


def edit_signed_png(data: bytes) -> bytes:
    """The signed PNG with pixels changed after signing (its IDAT replaced; the manifest kept): its hash no longer matches."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy()
    rgb[100:140, 100:140] = 255 - rgb[100:140, 100:140]
    new_idat = [(k, d) for k, d in png_chunks(encode(rgb, "PNG")) if k == b"IDAT"]
    out, done = [], False
    for kind, body in png_chunks(data):
        if kind == b"IDAT":
            if not done:
                out += new_idat
                done = True
            continue
        out.append((kind, body))
    return png_join(out)


def edit_signed_jpeg(data: bytes) -> bytes:
    """The signed JPEG with its entropy-coded pixels changed after signing (the manifest kept): near the end of the
    scan, so the bottom rows change and the rest of the picture (a face at the top) decodes as before."""
    out = bytearray(data)
    for i in range(len(out) - 1500, len(out) - 300, 97):
        if out[i] not in (0xFF, 0x00) and out[i - 1] != 0xFF:
            out[i] ^= 0x10
    return bytes(out)


def text_png(texts: dict[str, str], rgb: np.ndarray | None = None, compressed: tuple[str, ...] = ()) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value, zip=key in compressed)
    return encode(face_rgb() if rgb is None else rgb, "PNG", pnginfo=info)


def a1111_png(rgb: np.ndarray | None = None) -> bytes:
    return text_png({"parameters": A1111_PARAMETERS}, rgb)


def xmp_packet(source_type: str = "trainedAlgorithmicMedia", form: str = "attribute") -> bytes:
    value = IPTC + source_type
    body = (
        f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{value}"/>'
        if form == "attribute"
        else f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' + body + '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def xmp_jpeg(source_type: str = "trainedAlgorithmicMedia", form: str = "attribute", rgb: np.ndarray | None = None) -> bytes:
    return encode(face_rgb() if rgb is None else rgb, "JPEG", quality=92, xmp=xmp_packet(source_type, form))


def exif_jpeg(software: str | None = None, user_comment: bytes | None = None, rgb: np.ndarray | None = None, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    if software is not None:
        exif[0x0131] = software
    if user_comment is not None:
        exif.get_ifd(0x8769)[0x9286] = user_comment
    return encode(face_rgb() if rgb is None else rgb, fmt, exif=exif.tobytes())


def a1111_user_comment() -> bytes:
    """AUTOMATIC1111's JPEG/WebP form: UserComment with the UNICODE code and UTF-16 (big-endian, as piexif writes)."""
    return b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-be")


def mp4(frames: int = 4, size: tuple[int, int] = (128, 96)) -> bytes:
    import av

    buf = io.BytesIO()
    w, h = size
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            rgb = np.full((h, w, 3), 40 + 30 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


# ------------------------------------------------------------------ hostile metadata
def huge_xmp_png(megabytes: int = 50) -> bytes:
    """A PNG whose XMP iTXt chunk is ``megabytes`` MB."""
    chunks = png_chunks(encode(np.zeros((32, 32, 3), np.uint8), "PNG"))
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet() + b" " * (megabytes << 20)
    return png_join(chunks[:1] + [(b"iTXt", body)] + chunks[1:])


def huge_xmp_jpeg(megabytes: int = 50, base: bytes | None = None) -> bytes:
    """A JPEG (``base``, default a small black one) with ``megabytes`` MB of extended-XMP APP1 segments (64 KB each)."""
    base = base or encode(np.zeros((32, 32, 3), np.uint8), "JPEG")
    ident = b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32 + struct.pack(">II", megabytes << 20, 0)
    piece = b"A" * (65_000 - len(ident))
    segment = b"\xff\xe1" + struct.pack(">H", len(ident) + len(piece) + 2) + ident + piece
    n = (megabytes << 20) // len(piece)
    return base[:2] + segment * n + base[2:]


def random_jumbf_jpeg(size: int = 60_000, seed: int = 0) -> bytes:
    """A JPEG with an APP11 JUMBF segment of random bytes where a C2PA manifest store would be."""
    base = encode(np.zeros((32, 32, 3), np.uint8), "JPEG")
    payload = b"JP" + struct.pack(">HI", 1, 1) + np.random.default_rng(seed).bytes(size)
    seg = b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + seg + base[2:]


def looping_manifest_jpeg() -> bytes:
    """A signed JPEG whose manifest lists itself as its own ingredient: an image signed with a parent ingredient,
    then the parent manifest's label replaced by the active one's everywhere (same length), so the active manifest's
    ingredient points back at itself."""
    import json
    import re

    import c2pa

    parent = signed_jpeg()
    child_manifest = manifest("compositeWithTrainedAlgorithmicMedia", action="c2pa.edited")
    dst = io.BytesIO()
    with c2pa.Builder(child_manifest) as builder:
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        builder.add_ingredient(json.dumps({"title": "parent.jpg", "relationship": "parentOf"}), "image/jpeg", io.BytesIO(parent))
        builder.sign(test_signer(), "image/jpeg", io.BytesIO(parent), dst)
    data = dst.getvalue()
    labels = list(dict.fromkeys(re.findall(rb"urn:c2pa:[0-9a-f-]{36}", data)))
    if len(labels) < 2:
        return data
    with c2pa.Reader("image/jpeg", io.BytesIO(data)) as reader:
        active = reader.json() and json.loads(reader.json())["active_manifest"].encode()
    other = next(label for label in labels if label != active)
    return data.replace(other, active)


def many_text_chunks_png(n: int = 5000) -> bytes:
    chunks = png_chunks(encode(np.zeros((32, 32, 3), np.uint8), "PNG"))
    texts = [(b"tEXt", f"Comment{i}".encode() + b"\x00" + b"x" * 200) for i in range(n)]
    return png_join(chunks[:1] + texts + chunks[1:])


def ztxt_bomb_png(megabytes: int = 200) -> bytes:
    """A zTXt chunk that inflates to ``megabytes`` MB (a compression bomb in a text chunk)."""
    chunks = png_chunks(encode(np.zeros((32, 32, 3), np.uint8), "PNG"))
    comp = zlib.compressobj(9)
    bomb = b"".join(comp.compress(b"\x00" * (1 << 20)) for _ in range(megabytes)) + comp.flush()
    return png_join(chunks[:1] + [(b"zTXt", b"parameters\x00\x00" + bomb)] + chunks[1:])


def deep_json_png(depth: int = 200_000) -> bytes:
    """A ComfyUI-looking ``prompt`` chunk nested past any JSON parser's depth."""
    return text_png({"prompt": "[" * depth + '"class_type"'}, np.zeros((32, 32, 3), np.uint8), compressed=("prompt",))


def many_exif_png(n: int = 200, size: int = 60_000) -> bytes:
    """``n`` eXIf chunks of ``size`` bytes each, every one an IFD claiming 19,789 entries: only a few may be parsed."""
    chunks = png_chunks(encode(np.zeros((32, 32, 3), np.uint8), "PNG"))
    return png_join(chunks[:1] + [(b"eXIf", b"MM\x00\x2a" + bytes(size - 4))] * n + chunks[1:])


HOSTILE = {
    "huge XMP in a PNG (50 MB)": huge_xmp_png,
    "huge extended XMP in a JPEG (50 MB)": huge_xmp_jpeg,
    "random JUMBF bytes as a C2PA store": random_jumbf_jpeg,
    "manifest that is its own ingredient": looping_manifest_jpeg,
    "5,000 PNG text chunks": many_text_chunks_png,
    "zTXt compression bomb in a PNG (200 MB)": ztxt_bomb_png,
    "JSON text chunk nested 200,000 deep in a PNG": deep_json_png,
    "200 hostile eXIf chunks of 60 KB in a PNG": many_exif_png,
}
