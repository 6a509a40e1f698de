import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from draw_shares import draw_share
from fakelens.data.dedup import phash_groups
from fakelens.data.multisource import SourceSpec, load_source, read_earlier_sides, sample_keys, split_sources, training_draws
from fakelens.data.split import read_split_csv, split_by_group, write_split_csv
from fakelens.data.synthetic import make_image
from fakelens.errors import DataError
from fakelens.labels import FAKE, REAL
from fakelens.utils.unionfind import near_duplicate_groups
from tiny_runs import tiny_config


def _real_only(root, n=40, seed=5, size=64):
    rng = np.random.default_rng(seed)
    (root / "real").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(make_image(rng, size)[0]).save(root / "real" / f"{i:03d}.jpg", quality=95)
    return root


def test_near_duplicate_groups_join_close_hashes_transitively():
    a = 0x0F0F_0F0F_0F0F_0F0F
    hashes = [a, a ^ 0b111, a ^ 0b111 ^ (0b11 << 40), 0xFFFF_0000_FFFF_0000, None]
    groups = near_duplicate_groups(hashes, max_distance=4)
    assert groups[0] == groups[1] == groups[2]  # 3 bits apart, then 2 more: one chain
    assert len({groups[0], groups[3], groups[4]}) == 3


def test_phash_groups_catch_resaved_and_resized_copies(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):  # structured pictures: random 8x8 colour blocks, smoothly enlarged
        img = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((128, 128), Image.BICUBIC)
        img.save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    Image.open(paths[2]).resize((96, 96)).save(tmp_path / "copy_of_2.jpg", quality=70)
    paths.append(str(tmp_path / "copy_of_2.jpg"))
    groups = phash_groups(paths, progress=False)
    assert groups[2] == groups[6]
    assert len(set(groups)) == 6


def test_dfdc_split_is_unchanged_by_the_source_prefix(kaggle_dataset):
    from fakelens.sources import load_samples

    plain = load_samples(kaggle_dataset)
    spec = SourceSpec(name="dfdc", path=str(kaggle_dataset), group="layout")
    prefixed = load_source(spec)
    assert [s.path for s in plain] == [s.path for s in prefixed]
    assert split_by_group(plain, 0.1, 0.1, 0) == split_by_group(prefixed, 0.1, 0.1, 0)
    assert all(s.source == "dfdc" and s.group.startswith("dfdc:") for s in prefixed)


def test_each_source_is_split_by_its_own_groups_and_a_copy_never_straddles(tmp_path, kaggle_dataset):
    lfw = _real_only(tmp_path / "photos")
    # a near-copy of one photo inside the same source: the two must land on one side
    Image.open(lfw / "real" / "000.jpg").save(lfw / "real" / "000_resaved.jpg", quality=60)
    specs = [SourceSpec(name="dfdc", path=str(kaggle_dataset)), SourceSpec(name="photos", path=str(lfw), sbi=1.0)]
    samples, splits = split_sources(specs, 0.2, 0.2, seed=0, progress=False)
    by_path = {s.path: sp for s, sp in zip(samples, splits)}
    assert by_path[str(lfw / "real" / "000.jpg")] == by_path[str(lfw / "real" / "000_resaved.jpg")]
    for source in ("dfdc", "photos"):
        own = [(s, sp) for s, sp in zip(samples, splits) if s.source == source]
        assert {sp for _, sp in own} == {"train", "val", "test"}
        sides = {}
        for s, sp in own:
            assert sides.setdefault(s.group, sp) == sp, f"group {s.group} on two sides"
    write_split_csv(tmp_path / "split.csv", samples, splits)
    assert (tmp_path / "split.csv").read_text().splitlines()[0] == "path,label,group,split,source"
    back, back_splits = read_split_csv(tmp_path / "split.csv")
    assert back == samples and back_splits == splits


def test_an_exact_copy_in_a_later_source_is_dropped_not_split_apart(tmp_path, kaggle_dataset):
    first = _real_only(tmp_path / "first", seed=5)
    second = _real_only(tmp_path / "second", seed=6)
    shutil.copy(first / "real" / "003.jpg", second / "real" / "copy_of_first_003.jpg")  # the same photo in both
    specs = [
        SourceSpec(name="dfdc", path=str(kaggle_dataset)),
        SourceSpec(name="first", path=str(first)),
        SourceSpec(name="second", path=str(second)),
    ]
    samples, splits = split_sources(specs, 0.2, 0.2, seed=0, progress=False)
    paths = {s.path for s in samples}
    assert str(first / "real" / "003.jpg") in paths
    assert str(second / "real" / "copy_of_first_003.jpg") not in paths
    assert sum(s.source == "second" for s in samples) == 40  # only the copy went
    # the first source is split exactly as when alone
    alone, alone_splits = split_sources(specs[:2], 0.2, 0.2, seed=0, progress=False)
    assert [(s.path, sp) for s, sp in zip(samples, splits) if s.source == "first"] == [
        (s.path, sp) for s, sp in zip(alone, alone_splits) if s.source == "first"
    ]


def _draw_share(tmp_path, kaggle_dataset, **dfdc_changes):
    """The draws of a DFDC-like source (weight 3, sbi 0.5, ``dfdc_changes`` over it) beside a real-only one:
    share(cond) sums their probabilities."""
    photos = _real_only(tmp_path / "photos")
    specs = [
        SourceSpec(name="dfdc", path=str(kaggle_dataset), weight=3.0, sbi=0.5, **dfdc_changes),
        SourceSpec(name="photos", path=str(photos)),
    ]
    samples, splits = split_sources(specs, 0.1, 0.1, 0, progress=False)
    train = [s for s, sp in zip(samples, splits) if sp == "train"]
    items, p = training_draws(train, specs)
    assert p.sum() == pytest.approx(1.0)
    return items, draw_share(items, p)


def test_training_draws_give_each_source_its_weight_and_balance_classes(tmp_path, kaggle_dataset):
    items, share = _draw_share(tmp_path, kaggle_dataset)
    assert share(lambda it: it.source == "dfdc") == pytest.approx(0.75)
    # dfdc: half real, half fake, and half of the fakes self-blended
    assert share(lambda it: it.source == "dfdc" and it.kind == "sbi") == pytest.approx(0.75 * 0.25)
    # a real-only source gets its fakes from self-blending alone (sbi unset: still 0.5 of its draws)
    assert share(lambda it: it.source == "photos" and it.kind == "sbi") == pytest.approx(0.25 * 0.5)
    assert all(it.label == FAKE for it in items if it.kind == "sbi")
    assert share(lambda it: it.label == REAL and it.kind != "sbi") == pytest.approx(0.5)


def test_real_share_moves_a_sources_draws_to_its_reals_and_keeps_the_others(tmp_path, kaggle_dataset):
    _, share = _draw_share(tmp_path, kaggle_dataset, real_share=0.75)
    assert share(lambda it: it.source == "dfdc") == pytest.approx(0.75)  # the source's weight is unchanged
    assert share(lambda it: it.source == "dfdc" and it.label == REAL and it.kind != "sbi") == pytest.approx(0.75 * 0.75)
    # its fakes keep their split between stored fakes and self-blends
    assert share(lambda it: it.source == "dfdc" and it.kind == "sbi") == pytest.approx(0.75 * 0.25 * 0.5)
    assert share(lambda it: it.source == "photos" and it.label == REAL) == pytest.approx(0.25 * 0.5)
    with pytest.raises(ValueError, match="real_share"):
        SourceSpec(name="x", path="p", real_share=1.0)


def test_hard_examples_get_their_share_of_their_class_and_leave_the_rest_as_it_was(tmp_path, kaggle_dataset):
    plain_items, plain = _draw_share(tmp_path / "plain", kaggle_dataset)
    train_reals = [it.path for it in plain_items if it.source == "dfdc" and it.label == REAL and it.kind != "sbi"]
    hard_paths = set(train_reals[:12])
    listed = tmp_path / "hard.txt"
    # keys inside the source's folder; a comment, a blank line and a key of no training image are skipped
    keys = [Path(p).relative_to(kaggle_dataset).as_posix() for p in sorted(hard_paths)]
    listed.write_text("# the highest-scored reals\n\n" + "\n".join(keys) + "\nfaces_224/not-there.jpg\n")
    _, share = _draw_share(tmp_path / "hard", kaggle_dataset, hard=str(listed), hard_share=0.4)

    is_hard_real = lambda it: it.path in hard_paths and it.kind != "sbi"  # noqa: E731
    dfdc_reals = lambda it: it.source == "dfdc" and it.label == REAL and it.kind != "sbi"  # noqa: E731
    # 0.4 of the source's real draws go to the listed reals on top of their even share of the other 0.6
    assert share(is_hard_real) == pytest.approx(0.75 * 0.5 * (0.4 + 0.6 * len(hard_paths) / len(train_reals)))
    assert share(is_hard_real) > 3 * plain(is_hard_real)
    # nothing else moves: the source's reals, its stored fakes, its self-blends (even over all its reals), the other source
    for cond in (
        dfdc_reals,
        lambda it: it.source == "dfdc" and it.label == FAKE and it.kind != "sbi",
        lambda it: it.kind == "sbi" and it.path in hard_paths,
        lambda it: it.source == "photos",
    ):
        assert share(cond) == pytest.approx(plain(cond))

    with pytest.raises(ValueError, match="hard_share needs hard"):
        SourceSpec(name="x", path="p", hard_share=0.5)
    with pytest.raises(ValueError, match="no path, labels, sbi, train_fakes or hard"):
        SourceSpec(name="x", type="pseudo_fake", family="sbi", real_from="y", hard=str(listed))
    with pytest.raises(DataError, match="hard-examples file is unreadable"):
        _draw_share(tmp_path / "missing", kaggle_dataset, hard=str(tmp_path / "nope.txt"))


def test_source_yaml_is_validated(tmp_path, kaggle_dataset, monkeypatch):
    monkeypatch.setenv("MY_DATA", str(kaggle_dataset.parent))
    good = tmp_path / "good.yaml"
    good.write_text(f"name: synth\npath: ${{MY_DATA}}/{kaggle_dataset.name}\nlayout: kaggle\nweight: 2\nsbi: 0.25\n")
    spec = SourceSpec.parse(str(good))
    assert spec.resolved_path == kaggle_dataset and spec.weight == 2 and spec.sbi == 0.25
    beside = tmp_path / "configs" / "with_hard.yaml"
    beside.parent.mkdir()
    beside.write_text(f"path: {kaggle_dataset}\nhard: lists/hard.txt\n")
    assert SourceSpec.parse(str(beside)).hard == str(beside.parent / "lists" / "hard.txt")  # read from the YAML's folder
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npath: somewhere\nweight: -1\nshuffle: yes\n")
    with pytest.raises(DataError, match="weight.*greater than 0.*shuffle.*[Ee]xtra"):
        SourceSpec.parse(str(bad))
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(f"name: x\npath: {kaggle_dataset}\nlayout: folders\n")
    with pytest.raises(DataError, match="says layout folders but it is a kaggle dataset"):
        load_source(SourceSpec.parse(str(wrong)))


def test_sources_need_both_classes_together(tmp_path):
    photos = _real_only(tmp_path / "photos", n=10)
    with pytest.raises(DataError, match="no FAKE images"):
        split_sources([SourceSpec(name="p", path=str(photos))], 0.1, 0.1, 0, progress=False)


def test_train_on_two_sources_with_self_blending(tmp_path, kaggle_dataset):
    from fakelens.training import train

    photos = _real_only(tmp_path / "photos", n=30)
    cfg = tiny_config([kaggle_dataset, photos], tmp_path / "run", epochs=1, sbi=0.5, samples_per_epoch=64)
    metrics = train(cfg, quiet=True)
    samples, _ = read_split_csv(tmp_path / "run" / "split.csv")
    assert Counter(s.source for s in samples) == {kaggle_dataset.name: 240, "photos": 30}
    assert metrics["val"]["n"] > 0
    import json

    det = json.loads((tmp_path / "run" / "detector.json").read_text())
    assert [s["name"] for s in det["info"]["trained_on"]] == [kaggle_dataset.name, "photos"]
    assert det["bands"]["real_below"] <= det["bands"]["fake_from"]


def test_a_reimported_source_keeps_an_earlier_runs_sides(tmp_path, kaggle_dataset):
    photos = _real_only(tmp_path / "photos")
    specs = [SourceSpec(name="dfdc", path=str(kaggle_dataset)), SourceSpec(name="photos", path=str(photos))]
    samples, splits = split_sources(specs, 0.2, 0.2, seed=0, progress=False, method="shuffle")
    write_split_csv(tmp_path / "split.csv", samples, splits, sample_keys(samples, specs))
    # the same images imported again elsewhere, one more photo added: matched by their path inside the source
    shutil.copytree(photos, tmp_path / "moved")
    Image.fromarray(make_image(np.random.default_rng(99), 64)[0]).save(tmp_path / "moved" / "real" / "new.jpg")
    moved = [specs[0], SourceSpec(name="photos", path=str(tmp_path / "moved"))]
    earlier = read_earlier_sides(tmp_path / "split.csv", moved)
    again, again_splits = split_sources(moved, 0.2, 0.2, seed=0, progress=False, method="hash", earlier=earlier)
    before = {(s.source, k): sp for s, k, sp in zip(samples, sample_keys(samples, specs), splits)}
    after = {(s.source, k): sp for s, k, sp in zip(again, sample_keys(again, moved), again_splits)}
    assert set(after) - set(before) == {("photos", "real/new.jpg")}
    assert all(after[k] == before[k] for k in before)
    # without the earlier split, the hash method puts some of them elsewhere
    plain = split_sources(moved, 0.2, 0.2, seed=0, progress=False, method="hash")
    assert sum(sp != before.get((s.source, k), sp) for s, k, sp in zip(plain[0], sample_keys(plain[0], moved), plain[1])) > 0


def test_a_rewritten_split_file_is_read_again(tmp_path):
    # the split file's rows are kept between calls (one read for many sources); a new version must not be served stale
    photos = _real_only(tmp_path / "photos", n=6)
    spec = SourceSpec(name="photos", path=str(photos))
    samples = load_source(spec)
    keys = sample_keys(samples, [spec])
    split = tmp_path / "split.csv"
    write_split_csv(split, samples, ["train"] * len(samples), keys)
    assert set(read_earlier_sides(split, [spec]).values()) == {"train"}
    write_split_csv(split, samples, ["test"] * (len(samples) - 1) + ["val"], keys)
    assert sorted(read_earlier_sides(split, [spec]).values()) == ["test"] * (len(samples) - 1) + ["val"]
    split.write_text("not,a\nsplit,file\n")
    with pytest.raises(DataError, match="not a readable split.csv"):
        read_earlier_sides(split, [spec])
