from collections import Counter

from fakelens.data import load_samples, sample_per_class, split_by_group
from fakelens.data.sources import Sample


def _groups_by_split(samples, splits):
    out = {}
    for s, sp in zip(samples, splits):
        out.setdefault(sp, set()).add(s.group)
    return out


def test_no_group_on_two_sides(kaggle_dataset):
    samples = load_samples(kaggle_dataset)
    splits = split_by_group(samples, 0.2, 0.2, seed=3)
    g = _groups_by_split(samples, splits)
    assert not (g["train"] & g["val"]) and not (g["train"] & g["test"]) and not (g["val"] & g["test"])
    counts = Counter(splits)
    assert abs(counts["test"] / len(samples) - 0.2) < 0.05 and abs(counts["val"] / len(samples) - 0.2) < 0.05


def test_split_is_seeded(kaggle_dataset):
    samples = load_samples(kaggle_dataset)
    assert split_by_group(samples, seed=1) == split_by_group(samples, seed=1)
    assert split_by_group(samples, seed=1) != split_by_group(samples, seed=2)


def test_big_groups_stay_whole():
    samples = [Sample(f"{g}-{i}.jpg", i % 2, f"g{g}") for g in range(30) for i in range(g % 5 + 1)]
    splits = split_by_group(samples, 0.2, 0.2, seed=0)
    g = _groups_by_split(samples, splits)
    assert sum(len(v) for v in g.values()) == 30


def test_per_class_is_balanced_and_seeded(kaggle_dataset):
    samples = load_samples(kaggle_dataset)
    sub = sample_per_class(samples, 25, seed=0)
    assert Counter(s.label for s in sub) == {0: 25, 1: 25}
    assert sub == sample_per_class(samples, 25, seed=0)
    assert sub != sample_per_class(samples, 25, seed=1)
    # pairs (a fake and its original) are drawn together
    groups = Counter(s.group for s in sub)
    assert sum(1 for c in groups.values() if c == 2) >= 20
