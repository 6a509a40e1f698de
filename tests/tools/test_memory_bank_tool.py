"""tools/make_memory_bank.py: which of a detector's training sources it banks."""
import json


def test_pseudo_fake_sources_are_not_banked_their_image_sources_are(load_tool, tmp_path):
    tool = load_tool("make_memory_bank")
    trained_on = [
        {"name": "lfw", "path": str(tmp_path / "lfw" / "manifest.csv")},
        {"name": "rvf10k", "path": str(tmp_path / "rvf10k" / "manifest.csv")},
        {"name": "lfw-sbi", "type": "pseudo_fake", "family": "sbi", "real_from": "lfw"},
        {"name": "rvf10k-xray", "type": "pseudo_fake", "family": "xray", "real_from": "rvf10k"},
    ]
    (tmp_path / "detector.json").write_text(json.dumps({"info": {"trained_on": trained_on}}))
    assert [s.name for s in tool.trained_on(tmp_path)] == ["lfw", "rvf10k", "lfw-sbi", "rvf10k-xray"]
    assert [s.name for s in tool.stored_sources(tmp_path)] == ["lfw", "rvf10k"]
