"""Pseudo-fake families as training sources: YAML, draws, and the on-the-fly blends in the training dataset."""

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from draw_shares import draw_share
from fakelens.data.multisource import SourceSpec, pseudo_fake_donors, split_sources, training_draws
from fakelens.data.synthetic import make_image
from fakelens.errors import DataError
from fakelens.labels import FAKE, REAL


def _real_only(root, n=30, seed=5, size=96):
    rng = np.random.default_rng(seed)
    (root / "real").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(make_image(rng, size)[0]).save(root / "real" / f"{i:03d}.jpg", quality=95)
    return root


def _pseudo(name, family, real_from="photos", weight=1.0, **changes):
    return SourceSpec(name=name, type="pseudo_fake", family=family, real_from=real_from, weight=weight, **changes)


def test_a_pseudo_fake_source_yaml(tmp_path):
    good = tmp_path / "lfw-xray.yaml"
    good.write_text("type: pseudo_fake\nfamily: xray\nreal_from: lfw\nweight: 2\n")
    spec = SourceSpec.parse(str(good))
    assert spec.name == "lfw-xray" and spec.is_pseudo_fake and spec.family == "xray" and spec.real_from == "lfw"
    for text, problem in [
        ("type: pseudo_fake\nfamily: xray\n", "needs a family.*real_from"),
        ("type: pseudo_fake\nfamily: warp\nreal_from: lfw\n", "family"),
        ("type: pseudo_fake\nfamily: sbi\nreal_from: lfw\npath: x\n", "no path"),
        ("path: x\nfamily: sbi\n", "for sources of type pseudo_fake"),
        ("name: x\n", "needs a path"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(DataError, match=problem):
            SourceSpec.parse(str(bad))


def test_pseudo_fake_sources_get_their_weight_half_reals_half_blends(tmp_path, kaggle_dataset):
    photos = _real_only(tmp_path / "photos")
    specs = [
        SourceSpec(name="dfdc", path=str(kaggle_dataset), weight=2.0, sbi=0.0),
        SourceSpec(name="photos", path=str(photos), sbi=0.0),
        _pseudo("photos-sbi", "sbi"),
        _pseudo("photos-xray", "xray", weight=3.0),
        _pseudo("photos-region", "region", weight=2.0),
    ]
    samples, splits = split_sources(specs, 0.1, 0.1, 0, progress=False)
    assert {s.source for s in samples} == {"dfdc", "photos"}  # pseudo-fake sources hold no images of their own
    train = [s for s, sp in zip(samples, splits) if sp == "train"]
    items, p = training_draws(train, specs)
    share = draw_share(items, p)
    total = 2 + 1 + 1 + 3 + 2
    for name, kind, weight in [("photos-sbi", "pf:sbi", 1), ("photos-xray", "pf:xray", 3), ("photos-region", "pf:region", 2)]:
        assert share(lambda it, name=name: it.source == name) == pytest.approx(weight / total / 2)
        assert share(lambda it, kind=kind: it.kind == kind and it.label == FAKE) == pytest.approx(weight / total / 2)
    photo_reals = {s.path for s in train if s.source == "photos"}
    assert {it.path for it in items if it.kind.startswith("pf:")} == photo_reals  # blends of the real_from source's training reals
    # photos' reals: all of its own weight (sbi: 0, no stored fakes) and half of each pseudo-fake source's
    assert share(lambda it: it.source == "photos" and it.label == REAL) == pytest.approx((1 + (1 + 3 + 2) / 2) / total)
    assert share(lambda it: it.label == REAL) == pytest.approx((1 + 1 + (1 + 3 + 2) / 2) / total)
    donors = pseudo_fake_donors(train, specs)
    assert {d.path for d in donors["photos-xray"]} == photo_reals


def test_real_share_of_a_pseudo_fake_source_splits_its_draws_between_the_reals_and_their_blends(tmp_path, kaggle_dataset):
    photos = _real_only(tmp_path / "photos")
    specs = [
        SourceSpec(name="dfdc", path=str(kaggle_dataset), weight=2.0, sbi=0.0),
        SourceSpec(name="photos", path=str(photos), sbi=0.0),
        _pseudo("photos-xray", "xray", weight=3.0, real_share=0.75),
    ]
    samples, splits = split_sources(specs, 0.1, 0.1, 0, progress=False)
    items, p = training_draws([s for s, sp in zip(samples, splits) if sp == "train"], specs)
    share = draw_share(items, p)
    total = 2 + 1 + 3
    assert share(lambda it: it.kind == "pf:xray") == pytest.approx(3 / total * 0.25)
    # the pseudo-fake source's reals are photos' own: its weight plus 0.75 of the pseudo-fake source's
    assert share(lambda it: it.source == "photos" and it.label == REAL) == pytest.approx((1 + 3 * 0.75) / total)
    assert share(lambda it: it.source == "dfdc") == pytest.approx(2 / total)


def test_a_blends_only_specialist_trains_on_no_stored_fake(tmp_path, kaggle_dataset):
    specs = [SourceSpec(name="dfdc", path=str(kaggle_dataset), sbi=0.0, train_fakes=False), _pseudo("dfdc-xray", "xray", real_from="dfdc")]
    samples, splits = split_sources(specs, 0.2, 0.2, 0, progress=False)
    assert {s.label for s, sp in zip(samples, splits) if sp == "val"} == {REAL, FAKE}  # validation keeps the stored fakes
    train = [s for s, sp in zip(samples, splits) if sp == "train"]
    items, p = training_draws(train, specs)
    assert all(it.kind == "pf:xray" for it in items if it.label == FAKE)
    assert float(sum(pi for it, pi in zip(items, p) if it.label == FAKE)) == pytest.approx(0.25)


def test_real_from_must_name_an_image_source_of_the_run(tmp_path, kaggle_dataset):
    specs = [SourceSpec(name="dfdc", path=str(kaggle_dataset)), _pseudo("x", "xray", real_from="lfw")]
    with pytest.raises(DataError, match="real_from 'lfw' is not an image source"):
        split_sources(specs, 0.1, 0.1, 0, progress=False)


def test_the_training_dataset_serves_each_family_as_a_fake(tmp_path, kaggle_dataset):
    pytest.importorskip("dlib")
    import torch

    from fakelens.data.dataset import TrainingDataset
    from fakelens.data.pseudofake import PseudoFakeMaker

    photos = _real_only(tmp_path / "photos", n=12)
    specs = [SourceSpec(name="photos", path=str(photos), sbi=0.0)] + [_pseudo(f"p-{f}", f) for f in ("sbi", "xray", "region")]
    reals = [
        s
        for s in split_sources([SourceSpec(name="dfdc", path=str(kaggle_dataset))] + specs, 0.0, 0.0, 0, progress=False)[0]
        if s.source == "photos"
    ]
    items, _ = training_draws(reals, specs)
    seen = []
    maker = PseudoFakeMaker(pseudo_fake_donors(reals, specs), candidates=4)
    original = maker.__call__

    def spy(sample, rgb, rng):
        out = original(sample, rgb, rng)
        seen.append((sample.kind, np.abs(out.astype(int) - rgb.astype(int)).sum() > 0, out.shape == rgb.shape))
        return out

    ds = TrainingDataset(items, lambda rgb, rng: rgb.transpose(2, 0, 1).astype(np.float32), seed=0, pseudo_fakes=spy)
    labels = Counter()
    for i, it in enumerate(items):
        x, label, _ = ds[i]
        assert isinstance(x, torch.Tensor)
        labels[(it.kind, label)] += 1
        if it.kind:
            np.testing.assert_array_equal(x.numpy(), ds[i][0].numpy())  # the same item in the same epoch: the same blend
    assert {k for k, _ in labels} == {"", "pf:sbi", "pf:xray", "pf:region"}
    assert all(label == FAKE for (k, label) in labels if k) and all(label == REAL for (k, label) in labels if not k)
    assert {k for k, changed, same_size in seen if changed and same_size} == {"pf:sbi", "pf:xray", "pf:region"}
    with pytest.raises(ValueError, match="pseudo_fakes maker"):
        TrainingDataset(items, lambda rgb, rng: rgb, seed=0)[next(i for i, it in enumerate(items) if it.kind)]


def test_the_shipped_pseudo_fake_configs_parse():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "configs" / "data").glob("pseudo_*.yaml"))
    specs = [SourceSpec.parse(str(p)) for p in configs]
    # each family made from LFW's reals and from FFHQ's (rvf10k's real side), under distinct source names
    assert sorted((s.family, s.real_from) for s in specs) == [(f, r) for f in ("region", "sbi", "xray") for r in ("lfw", "rvf10k")]
    assert len({s.name for s in specs}) == len(specs)
    assert all(s.is_pseudo_fake for s in specs)


def test_a_run_trains_with_pseudo_fake_sources(tmp_path, kaggle_dataset):
    pytest.importorskip("dlib")
    import json

    from fakelens.training import TrainConfig, train

    photos = _real_only(tmp_path / "photos", n=16, size=64)
    families = []
    for family in ("sbi", "xray", "region"):
        (tmp_path / f"{family}.yaml").write_text(f"name: photos-{family}\ntype: pseudo_fake\nfamily: {family}\nreal_from: photos\n")
        families.append(str(tmp_path / f"{family}.yaml"))
    cfg = TrainConfig(
        data=[str(kaggle_dataset), str(photos), *families],
        model="simple_cnn",
        out=str(tmp_path / "run"),
        epochs=1,
        batch_size=16,
        image_size=64,
        num_workers=0,
        patience=0,
        samples_per_epoch=32,
        max_val_batches=1,
        cue_chain=0.5,
    )
    metrics = train(cfg, quiet=True)
    assert metrics["val"]["n"] > 0
    det = json.loads((tmp_path / "run" / "detector.json").read_text())
    trained_on = {s["name"]: s for s in det["info"]["trained_on"]}
    assert trained_on["photos-xray"]["family"] == "xray" and trained_on["photos-xray"]["real_from"] == "photos"
    assert (tmp_path / "run" / "landmarks68.npz").is_file()  # found once, kept for --resume


def test_landmarks_are_found_once_per_run_and_read_back(tmp_path):
    pytest.importorskip("dlib")
    from fakelens.data.pseudofake import PseudoFakeMaker

    photos = _real_only(tmp_path / "photos", n=6, size=64)
    paths = sorted(str(p) for p in (photos / "real").glob("*.jpg"))
    (photos / "real" / "broken.jpg").write_bytes(b"not a jpeg")
    cache = tmp_path / "run" / "landmarks68.npz"
    first = PseudoFakeMaker()
    first.warm(paths + [str(photos / "real" / "broken.jpg")], cache)
    assert cache.is_file()

    second = PseudoFakeMaker()
    second._landmarks = None  # nothing may be computed: every path comes from the file
    second.warm(paths, cache)
    for p in paths:
        np.testing.assert_array_equal(second._cache[p], first._cache[p])
        assert second._cache[p].shape == (68, 2)
