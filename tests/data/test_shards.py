import json
import tarfile

import pytest

from fakelens.cli import main
from fakelens.data.dataset import make_loader
from fakelens.data.shards import INDEX_FILE, ShardDataset, iter_tar_samples, write_shards
from fakelens.data.split import read_split_csv
from fakelens.data.transforms import train_transform
from fakelens.errors import ConfigError, DataError
from fakelens.imaging.preprocess import PreprocessConfig
from tiny_runs import tiny_config


@pytest.fixture(scope="module")
def shards(tmp_path_factory, kaggle_dataset):
    out = tmp_path_factory.mktemp("shards") / "s"
    # the shuffled split cuts exactly 192 training images: four full shards of 48
    assert main(["shard", str(kaggle_dataset), "--out", str(out), "--samples-per-shard", "48", "--split-method", "shuffle"]) == 0
    return out


def _train_paths(shards):
    samples, splits = read_split_csv(shards / "split.csv")
    return {s.path: s for s, sp in zip(samples, splits) if sp == "train"}


def test_shards_hold_the_training_split_in_the_webdataset_layout(shards):
    index = json.loads((shards / INDEX_FILE).read_text())
    train = _train_paths(shards)
    assert index["train_samples"] == len(train) == sum(s["samples"] for s in index["shards"]) == 192
    assert [s["name"] for s in index["shards"]][:2] == ["train-000000.tar", "train-000001.tar"]
    with tarfile.open(shards / "train-000000.tar") as tar:
        names = tar.getnames()
    assert names[:3] == ["000000000.jpg", "000000000.cls", "000000000.group"]
    # every training image is in the shards once, with its bytes, label and group unchanged
    by_bytes = {open(p, "rb").read(): s for p, s in train.items()}
    seen = []
    for shard in index["shards"]:
        for _key, fields in iter_tar_samples(shards / shard["name"]):
            s = by_bytes[fields["jpg"]]
            assert int(fields["cls"]) == s.label and fields["group"].decode() == s.group
            seen.append(s.path)
    assert sorted(seen) == sorted(train)


def test_ranks_and_workers_read_disjoint_parts_of_equal_length(shards, monkeypatch):
    transform = train_transform(PreprocessConfig(32, (0.5,) * 3, (0.5,) * 3), 0.0, 0.0)
    total = json.loads((shards / INDEX_FILE).read_text())["train_samples"]
    keys_by_rank = []
    for rank in (0, 1):
        monkeypatch.setattr(ShardDataset, "_rank_world", staticmethod(lambda r=rank: (r, 2)))
        ds = ShardDataset(shards, transform, seed=3)
        ds.set_epoch(1)
        assert len(ds) == total // 2
        keys = [int(k) for _, _, idx, _ in make_loader(ds, 8, False, num_workers=2) for k in idx]
        assert len(keys) == len(set(keys)) == total // 2  # each worker its own shard; no sample twice
        keys_by_rank.append(set(keys))
    assert not keys_by_rank[0] & keys_by_rank[1]  # no image read by both ranks
    # 4 shards over 3 ranks: the same number of samples on every rank all the same (DDP steps
    # together); the ranks with one shard go round it again
    for rank in (0, 1, 2):
        monkeypatch.setattr(ShardDataset, "_rank_world", staticmethod(lambda r=rank: (r, 3)))
        assert sum(1 for _ in ShardDataset(shards, transform)) == total // 3
    monkeypatch.setattr(ShardDataset, "_rank_world", staticmethod(lambda: (0, 1)))
    one = ShardDataset(shards, transform, seed=3)
    x, y, idx, bad = next(iter(make_loader(one, 16, False, num_workers=0)))
    assert x.shape == (16, 3, 32, 32) and not bad and set(y.tolist()) <= {0.0, 1.0}
    epoch1 = [int(k) for k in idx]
    one.set_epoch(2)
    assert [int(k) for k in next(iter(make_loader(one, 16, False, num_workers=0)))[2]] != epoch1  # reshuffled per epoch


def test_train_reads_shards_and_validates_on_the_same_split(shards, tmp_path):
    from fakelens.training import TrainConfig, train

    cfg = tiny_config(shards, tmp_path / "run", num_workers=1)
    metrics = train(cfg, quiet=True)

    def rows(split_csv):  # the run names the source after the shard folder; the samples and sides are the shards'
        samples, splits = read_split_csv(split_csv)
        return [(s.path, s.label, s.group, sp) for s, sp in zip(samples, splits)]

    assert rows(tmp_path / "run" / "split.csv") == rows(shards / "split.csv")
    _, splits = read_split_csv(shards / "split.csv")
    assert metrics["val"]["n"] == splits.count("val") and metrics["test"]["n"] == splits.count("test") > 20
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # two epochs streamed from the tars
    with pytest.raises(DataError, match="per-class"):
        train(TrainConfig(**{**cfg.to_dict(), "out": str(tmp_path / "other"), "per_class": 10}), quiet=True)
    # a teacher needs each image's source, which the tars do not carry: refused before any training
    with pytest.raises(ConfigError, match="tar shards"):
        train(TrainConfig(**{**cfg.to_dict(), "out": str(tmp_path / "taught"), "distill_from": str(tmp_path / "run")}), quiet=True)


def test_existing_shard_folder_is_not_overwritten(shards, kaggle_dataset):
    with pytest.raises(DataError, match="already holds shards"):
        write_shards(kaggle_dataset, shards)
