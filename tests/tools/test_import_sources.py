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


def test_appa_pools_its_splits_bins_the_age_into_the_name_and_keeps_one_copy_of_a_repeated_file(load_tool, tmp_path):
    tool = load_tool("import_sources")
    src = tmp_path / "checkout"
    rng = np.random.default_rng(1)
    faces = {name: rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for name in ("000000", "000001", "000002")}
    labels = {"train": [("000000", 2), ("000001", 70)], "val": [("000002", 19)], "test": [("000003", 3)]}
    for split, rows in labels.items():
        (src / split).mkdir(parents=True)
        for stem, _ in rows:
            # the test file repeats a train file byte for byte (one such pair is in the source)
            face = faces["000000"] if stem == "000003" else faces[stem]
            Image.fromarray(face).save(src / split / f"{stem}.jpg", format="PNG")  # lossless: equal faces, equal bytes
        (src / f"{split}_labels.csv").write_text("\n".join(f"{stem}.jpg,{age}" for stem, age in rows))
    assert tool.main(["appa", "--src", str(src), "--out", str(tmp_path / "raw")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "raw" / "appa" / "manifest.csv")))
    assert [(r["path"], r["orig_split"]) for r in rows] == [
        ("real/appa_000000_0-2.jpg", "train"),
        ("real/appa_000001_70plus.jpg", "train"),
        ("real/appa_000002_10-19.jpg", "val"),
    ]
    assert [tool.age_group(a) for a in (0, 2, 3, 9, 10, 69, 70, 100)] == ["0-2", "0-2", "3-9", "3-9", "10-19", "60-69", "70plus", "70plus"]
