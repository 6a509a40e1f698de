"""read_provenance on files made here: C2PA-signed (valid, unverified, edited after signing), XMP, generator text chunks,
EXIF; and nothing from files that carry nothing."""

import json

import numpy as np
import provkit as kit
import pytest

from fakelens.provenance import EvidenceItem, read_provenance, short_evidence
from fakelens.provenance.c2pa_manifest import TRUST_ANCHORS_ENV


def only(items, source):
    found = [i for i in items if i.source == source]
    assert len(found) == 1, items
    return found[0]


@pytest.fixture(scope="module")
def signed():
    return {"jpeg": kit.signed_jpeg(), "png": kit.signed_png()}


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_signed_ai_image_outside_the_trust_list_is_unverified_not_a_failure(signed, fmt, tmp_path):
    path = tmp_path / f"gen.{fmt}"
    path.write_bytes(signed[fmt])
    for source in (str(path), signed[fmt]):  # a path and the bytes read the same
        items, warnings = read_provenance(source)
        item = only(items, "c2pa")
        assert item.claim == "ai_generated" and item.valid is None and warnings == []
        assert "ExampleImageGen 1.0" in item.detail and "ExampleImageGen Diffusion 2" in item.detail
        assert "trainedAlgorithmicMedia" in item.detail and "not on the trust list" in item.detail
        assert item.short() == "c2pa:ai_generated(ExampleImageGen,unverified)"


def test_a_trust_anchor_makes_the_signer_trusted(signed, tmp_path, monkeypatch):
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(kit.intermediate_ca_pem())
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(anchors))
    item = only(read_provenance(signed["jpeg"])[0], "c2pa")
    assert item.valid is True and item.claim == "ai_generated" and "on the trust list" in item.detail


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_pixels_edited_after_signing_make_the_manifest_invalid(signed, fmt):
    edited = (kit.edit_signed_jpeg if fmt == "jpeg" else kit.edit_signed_png)(signed[fmt])
    from fakelens.imaging.imageio import load_image

    assert not np.array_equal(load_image(edited), load_image(signed[fmt]))  # the pixels did change
    items, warnings = read_provenance(edited)
    item = only(items, "c2pa")
    assert item.valid is False and "assertion.dataHash.mismatch" in item.detail
    assert any("invalid" in w and "not trusted" in w for w in warnings)


@pytest.mark.parametrize(
    "source_type, claim",
    [
        ("digitalCapture", "camera_capture"),
        ("compositeWithTrainedAlgorithmicMedia", "ai_edited"),
        ("algorithmicMedia", "ai_generated"),
        ("humanEdits", "none"),
    ],
)
def test_c2pa_source_types_map_to_claims(source_type, claim):
    assert only(read_provenance(kit.signed_jpeg(source_type))[0], "c2pa").claim == claim


def test_c2pa_in_mp4():
    item = only(read_provenance(kit.sign(kit.mp4(), "video/mp4"))[0], "c2pa")
    assert item.claim == "ai_generated" and item.valid is None
    assert read_provenance(kit.mp4()) == ([], [])


def test_a1111_parameters_chunk():
    item = only(read_provenance(kit.a1111_png())[0], "png-text")
    assert item.claim == "ai_generated" and item.valid is None
    assert "AUTOMATIC1111" in item.detail and "v1-5-pruned-emaonly" in item.detail and "Seed 1234" in item.detail
    assert short_evidence([item]) == "png-text:ai_generated(AUTOMATIC1111)"
    # compressed (zTXt) reads the same
    assert (
        only(read_provenance(kit.text_png({"parameters": kit.A1111_PARAMETERS}, compressed=("parameters",)))[0], "png-text").claim
        == "ai_generated"
    )


@pytest.mark.parametrize(
    "texts, name",
    [
        ({"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}})}, "ComfyUI"),
        ({"workflow": json.dumps({"nodes": [{"id": 1, "type": "KSampler"}]})}, "ComfyUI"),
        ({"invokeai_metadata": json.dumps({"positive_prompt": "a face", "seed": 1})}, "InvokeAI"),
        ({"sd-metadata": json.dumps({"model": "stable diffusion"})}, "InvokeAI"),
        ({"Software": "NovelAI", "Comment": json.dumps({"steps": 28, "sampler": "k_euler"})}, "NovelAI"),
    ],
)
def test_generator_text_chunks(texts, name):
    item = only(read_provenance(kit.text_png(texts))[0], "png-text")
    assert item.claim == "ai_generated" and item.name == name


def test_ordinary_text_chunks_say_nothing():
    assert read_provenance(kit.text_png({"Software": "GIMP 2.10", "Comment": "holiday", "prompt": "not json"})) == ([], [])


@pytest.mark.parametrize("form", ["attribute", "element"])
def test_xmp_digital_source_type(form):
    item = only(read_provenance(kit.xmp_jpeg(form=form))[0], "xmp")
    assert item.claim == "ai_generated" and "trainedAlgorithmicMedia" in item.detail
    assert only(read_provenance(kit.xmp_jpeg("digitalCapture", form))[0], "xmp").claim == "camera_capture"


@pytest.mark.parametrize(
    "software, expected",
    [
        ("Midjourney v6", "Midjourney"),
        ("DALL-E 3", "DALL-E"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("NovelAI", "NovelAI"),
        ("Stable Diffusion XL", "Stable Diffusion"),
    ],
)
def test_exif_software_of_known_generators(software, expected):
    item = only(read_provenance(kit.exif_jpeg(software))[0], "exif")
    assert item.claim == "ai_generated" and item.name == expected and software in item.detail


@pytest.mark.parametrize("software", ["GIMP 2.10", "Adobe Photoshop 25.0", "Android 14 camera", "Firefox", "Sorayama Studio"])
def test_exif_software_of_editors_and_cameras_says_nothing(software):
    assert read_provenance(kit.exif_jpeg(software)) == ([], [])


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_a1111_parameters_in_exif_user_comment(fmt):
    item = only(read_provenance(kit.exif_jpeg(user_comment=kit.a1111_user_comment(), fmt=fmt))[0], "exif")
    assert item.claim == "ai_generated" and item.name == "AUTOMATIC1111"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_missing_metadata_says_nothing(fmt):
    assert read_provenance(kit.encode(kit.face_rgb(), fmt)) == ([], [])


def test_unreadable_or_unknown_input_gives_no_evidence(tmp_path):
    assert read_provenance(b"not an image at all") == ([], [])
    items, warnings = read_provenance(tmp_path / "missing.jpg")
    assert items == [] and warnings and "provenance not read" in warnings[0]


def test_evidence_item_shape():
    item = EvidenceItem("c2pa", "ai_generated", "detail", None, "Gen")
    assert item.to_dict() == {"source": "c2pa", "claim": "ai_generated", "detail": "detail", "valid": None}
    with pytest.raises(ValueError):
        EvidenceItem("rumour", "ai_generated", "")
    with pytest.raises(ValueError):
        EvidenceItem("exif", "fake", "")


def test_reading_is_offline_no_certificate_status_is_fetched(signed):
    """The reader's settings skip OCSP (the library records that it skipped it) and remote manifests."""
    import io

    import c2pa

    from fakelens.provenance.c2pa_manifest import _context, _settings

    assert _settings()["verify"]["remote_manifest_fetch"] is False and _settings()["verify"]["ocsp_fetch"] is False
    with c2pa.Reader("image/jpeg", io.BytesIO(signed["jpeg"]), context=_context()) as reader:
        info = reader.get_validation_results()["activeManifest"]["informational"]
    assert "signingCredential.ocsp.skipped" in {i["code"] for i in info}
