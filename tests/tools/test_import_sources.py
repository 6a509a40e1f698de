"""The maintainers' import tool: seeded subsets and audit sources whose labels travel in the file name."""
import csv
import json

import numpy as np
import pytest
from PIL import Image


def test_per_class_subset_is_seeded_balanced_and_order_free(load_tool):
    tool = load_tool("import_sources")
    items = [(f"Dataset/Train/{c}/{i}.jpg", c.upper(), "", "train") for c in ("Real", "Fake") for i in range(30)]
    a = tool.per_class_subset(items, 10, seed=0)
    assert sorted(x[1] for x in a) == ["FAKE"] * 10 + ["REAL"] * 10
    assert a == tool.per_class_subset(items[::-1], 10, seed=0)  # listing order does not change the draw
    assert a != tool.per_class_subset(items, 10, seed=1)
    assert tool.per_class_subset(items, None, seed=0) == items
    assert len(tool.per_class_subset(items, 100, seed=0)) == 60  # fewer than asked: all of them
    with pytest.raises(SystemExit):  # a subset of a source imported whole is refused, not silently ignored
        tool.main(["lfw", "--src", ".", "--out", "unused", "--per-class", "10"])


def test_fairface_labels_go_into_the_file_name_and_cfd_groups_by_person(load_tool, tmp_path):
    tool = load_tool("import_sources")
    src = tmp_path / "checkout"
    (src / "fairface").mkdir(parents=True)
    rng = np.random.default_rng(0)
    truth = []
    for i, (gender, age) in enumerate([("Male", "50-59"), ("Female", "70+")], start=1):
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(src / "fairface" / f"fairface_{i:04d}.png")
        truth.append({"id": f"fairface_{i:04d}", "filename": f"fairface_{i:04d}.png", "age": age, "gender": gender})
    (src / "fairface" / "ground_truth.json").write_text(json.dumps(truth))
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(src / "fairface" / "ig_0001.png")  # not FairFace
    for folder, name in (("female", "CFD-AF-200-228-N.jpg"), ("female", "CFD-AF-200-229-HC.jpg"), ("male", "CFD-WM-251-002-N.jpg")):
        (src / "images" / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (900, 800, 3), dtype=np.uint8)).save(src / "images" / folder / name)
    out = tmp_path / "raw"
    for source in ("fairface540", "cfd"):
        assert tool.main([source, "--src", str(src), "--out", str(out)]) == 0
    fair = list(csv.DictReader(open(out / "fairface540" / "manifest.csv")))
    assert [r["path"] for r in fair] == ["real/fairface_0001_Male_50-59.jpg", "real/fairface_0002_Female_70plus.jpg"]
    cfd = {r["path"]: r["group"] for r in csv.DictReader(open(out / "cfd" / "manifest.csv"))}
    assert cfd == {"real/CFD-AF-200-228-N.jpg": "CFD-AF-200", "real/CFD-AF-200-229-HC.jpg": "CFD-AF-200",
                   "real/CFD-WM-251-002-N.jpg": "CFD-WM-251"}
    with Image.open(out / "cfd" / "real" / "CFD-WM-251-002-N.jpg") as im:  # re-encoded like every source
        assert im.format == "JPEG" and max(im.size) == tool.MAX_SIDE


def test_a_grown_openforensics_import_keeps_the_names_its_subset_had(load_tool, tmp_path):
    tool = load_tool("import_sources")
    src = tmp_path / "checkout"
    rng = np.random.default_rng(0)
    for split in ("Train", "Validation"):  # the same stems in both split folders, as in the source
        for cls in ("Real", "Fake"):
            (src / "Dataset" / split / cls).mkdir(parents=True)
            for i in range(6):
                im = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)
                Image.fromarray(im).save(src / "Dataset" / split / cls / f"{cls.lower()}_{i}.png")

    def imported(out, *options):
        assert tool.main(["openforensics", "--src", str(src), "--out", str(out), *options]) == 0
        rows = list(csv.DictReader(open(out / "openforensics" / "manifest.csv")))
        return {r["path"]: np.asarray(Image.open(out / "openforensics" / r["path"])) for r in rows}

    subset = imported(tmp_path / "subset", "--per-class", "4")
    grown = imported(tmp_path / "grown", "--per-class", "4", "--grow")
    whole = imported(tmp_path / "whole")
    assert len(subset) == 8 and len(grown) == len(whole) == 24
    # every name of the subset is in the grown import, and holds the same picture there
    assert all(np.array_equal(grown[name], image) for name, image in subset.items())
    # a plain full import names colliding stems by listing order, so some subset names would hold other pictures
    assert any(name not in whole or not np.array_equal(whole[name], image) for name, image in subset.items())
    with pytest.raises(SystemExit):
        tool.main(["openforensics", "--src", str(src), "--out", str(tmp_path / "x"), "--grow"])
