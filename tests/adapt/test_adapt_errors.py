"""What ``fakelens adapt`` refuses (one line, exit 2) and warns about, before any fitting."""

import shutil

import numpy as np
import pytest
from PIL import Image

from fakelens.adapt.examples import Examples, check_examples, size_and_format_warnings
from fakelens.cli import main
from fakelens.data.synthetic import make_adapt_folders


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def test_fewer_than_20_examples_per_class_is_one_line_error(tmp_path, capsys):
    fake, real = make_adapt_folders(tmp_path, per_class=19, size=96)
    code, err = _run(["adapt", "--fake", str(fake), "--real", str(real), "--out", str(tmp_path / "new"), "--crops"], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("fakelens: error")]
    assert lines == ["fakelens: error: 19 fake example(s) with a face in --fake; at least 20 are needed"], err
    assert not (tmp_path / "new").exists()


def test_the_same_images_in_both_folders_is_an_error(tmp_path, capsys):
    fake, real = make_adapt_folders(tmp_path, per_class=20, size=96)
    # the same pixels under another name and format: hashed decoded pixels, not names
    Image.open(next(fake.iterdir())).save(real / "copy.png")
    code, err = _run(["adapt", "--fake", str(fake), "--real", str(real), "--out", str(tmp_path / "new"), "--crops"], capsys)
    assert code == 2 and "1 image(s) are in both --fake and --real" in err, err


def test_same_folder_for_both_classes_is_an_error(tmp_path, capsys):
    fake, _ = make_adapt_folders(tmp_path, per_class=20, size=96)
    code, err = _run(["adapt", "--fake", str(fake), "--real", str(fake), "--out", str(tmp_path / "new"), "--crops"], capsys)
    assert code == 2 and "20 image(s) are in both" in err, err


def test_an_existing_output_folder_is_refused(tmp_path, capsys):
    fake, real = make_adapt_folders(tmp_path, per_class=20, size=96)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "x").write_text("mine")
    code, err = _run(["adapt", "--fake", str(fake), "--real", str(real), "--out", str(tmp_path / "new"), "--crops"], capsys)
    assert code == 2 and "already exists" in err
    assert (tmp_path / "new" / "x").read_text() == "mine"


def _examples(sizes_fake, sizes_real, fmt_fake="jpg", fmt_real="jpg"):
    ex = Examples()
    rng = np.random.default_rng(0)
    for label, sizes, fmt in ((1, sizes_fake, fmt_fake), (0, sizes_real, fmt_real)):
        for i, size in enumerate(sizes):
            pixels = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
            ex.add(pixels, label, f"/x/{label}_{i}.{fmt}", "x", size, pixels)
    return ex


def test_warnings_when_the_classes_differ_in_size_or_format():
    assert size_and_format_warnings(_examples([(512, 512)] * 20, [(500, 480)] * 20)) == []
    size = size_and_format_warnings(_examples([(1024, 1024)] * 20, [(256, 256)] * 20))
    assert len(size) == 1 and "median size" in size[0] and "x4.0" in size[0]
    fmt = size_and_format_warnings(_examples([(512, 512)] * 20, [(512, 512)] * 20, "png", "jpg"))
    assert len(fmt) == 1 and "mostly .png" in fmt[0] and "mostly" in fmt[0]
    assert check_examples(_examples([(512, 512)] * 20, [(512, 512)] * 20, "png", "jpg")) == fmt


def test_cli_warns_about_a_format_difference_and_still_adapts(tmp_path, capsys):
    fake, real = make_adapt_folders(tmp_path / "a", per_class=20, size=96, ext="png")
    _, real_jpg = make_adapt_folders(tmp_path / "b", per_class=20, size=96, seed=3, ext="jpg")
    argv = ["adapt", "--fake", str(fake), "--real", str(real_jpg), "--out", str(tmp_path / "new"), "--crops", "--seed", "3"]
    code, err = _run(argv, capsys)
    assert code == 0, err
    assert "fakelens: warning: the fake examples are mostly .png" in err
    assert (tmp_path / "new" / "detector.json").is_file()
    # 20 real examples, about 16 fitted on: too few to check the FAKE band at 3%, said on stderr and in the card
    assert "fakelens: warning: only 1" in err and "real faces were fitted on" in err
    assert "**Few real examples**: only 1" in (tmp_path / "new" / "MODEL_CARD.md").read_text()
    shutil.rmtree(tmp_path / "new")


def test_the_bands_floor_keeps_each_population_of_reals_at_its_share():
    from fakelens.adapt.fit import cut_keeping_share

    reals = np.array([0.1, 0.2, 0.95, 0.99, 0.5])
    assert cut_keeping_share(reals, 0.0) > 0.99  # none may be accused: above the highest
    cut = cut_keeping_share(reals, 0.2)  # one of five may be
    assert (reals >= cut).sum() == 1 and cut > 0.95
    assert cut_keeping_share(reals, 1.0) == 0.0


def test_a_memory_bank_with_pickled_objects_is_refused(tmp_path):
    from fakelens.adapt.bank import MemoryBank
    from fakelens.errors import RunDirError

    path = tmp_path / "memory_bank.npz"
    np.savez(
        path,
        coords=np.zeros((2, 2), np.float16),
        components=np.zeros((2, 4), np.float16),
        mean=np.zeros(4, np.float32),
        base_logits=np.zeros(2, np.float32),
        labels=np.zeros(2, np.int8),
        source_index=np.zeros(2, np.uint8),
        source_names=np.array([{"evil": 1}], dtype=object),
        weights_digest=np.str_("x"),
        tta_views=np.array(["mirror"]),
    )
    with pytest.raises(RunDirError, match="not a readable memory bank"):
        MemoryBank.load(path)


def test_a_detector_without_pooled_features_is_refused_before_the_face_search(untrained_run, tmp_path, capsys):
    fake, real = make_adapt_folders(tmp_path, per_class=20, size=64)
    argv = ["adapt", "--fake", str(fake), "--real", str(real), "--out", str(tmp_path / "new"), "--from", str(untrained_run)]
    code, err = _run(argv, capsys)
    assert code == 2 and "no pooled features" in err, err
    assert not (tmp_path / "new").exists()
