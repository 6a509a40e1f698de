"""The verdict policy (fakelens.provenance.policy.combine), case by case."""

import pytest

from fakelens.provenance import EvidenceItem, combine, model_item

AI_VALID = EvidenceItem("c2pa", "ai_generated", "by ExampleImageGen", True, "ExampleImageGen")
AI_UNVERIFIED = EvidenceItem("c2pa", "ai_generated", "by ExampleImageGen", None, "ExampleImageGen")
AI_INVALID = EvidenceItem("c2pa", "ai_generated", "hash mismatch", False, "ExampleImageGen")
AI_EDIT = EvidenceItem("xmp", "ai_edited", "compositeWithTrainedAlgorithmicMedia", None)
GENERATOR = EvidenceItem("png-text", "ai_generated", "AUTOMATIC1111 parameters", None, "AUTOMATIC1111")
CAPTURE = EvidenceItem("c2pa", "camera_capture", "digitalCapture", True, "Camera")
NOTHING = EvidenceItem("exif", "none", "nothing")


@pytest.mark.parametrize("item", [AI_VALID, AI_UNVERIFIED, AI_EDIT, GENERATOR])
@pytest.mark.parametrize("model", ["REAL", "UNCERTAIN", "FAKE", None])
def test_an_ai_claim_makes_the_image_fake_and_names_the_reason(item, model):
    verdict, reasons, warnings = combine(model, [item])
    assert verdict == "FAKE" and len(reasons) == 1 and warnings == []
    assert reasons[0].startswith(f"{item.source} says {item.claim}") and item.detail in reasons[0]


@pytest.mark.parametrize("model", ["REAL", "UNCERTAIN", "FAKE", None])
def test_an_invalid_manifest_is_not_trusted_and_warns(model):
    verdict, reasons, warnings = combine(model, [AI_INVALID])
    assert verdict == model and reasons == [] and len(warnings) == 1 and "not trusted" in warnings[0]


@pytest.mark.parametrize("model", ["REAL", "UNCERTAIN", "FAKE", None])
def test_a_capture_claim_never_changes_the_model_verdict(model):
    assert combine(model, [CAPTURE, NOTHING]) == (model, [], [])


def test_an_invalid_manifest_does_not_hide_other_ai_evidence():
    verdict, reasons, warnings = combine("REAL", [AI_INVALID, GENERATOR, CAPTURE])
    assert verdict == "FAKE" and len(reasons) == 1 and "AUTOMATIC1111" in reasons[0] and len(warnings) == 1


def test_the_model_items_are_shown_but_do_not_vote_twice():
    fake_face = model_item("face 0", 0.99, "FAKE")
    assert fake_face.source == "model" and fake_face.claim == "ai_edited" and "0.99" in fake_face.detail
    assert combine("REAL", [fake_face]) == ("REAL", [], [])
    assert model_item("face 1", 0.1, "REAL").claim == "none"


def test_no_evidence_keeps_the_model_verdict():
    assert combine("UNCERTAIN", []) == ("UNCERTAIN", [], [])
