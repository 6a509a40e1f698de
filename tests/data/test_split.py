from collections import Counter

from fakelens.data import sample_per_class, split_by_group
from fakelens.data.split import keep_earlier_sides, split_by_group_hash
from fakelens.sources import Sample, load_samples


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


def _many_groups(n_groups, start=0):
    return [Sample(f"g{g}-{i}.jpg", i % 2, f"g{g}") for g in range(start, start + n_groups) for i in range(2)]


def test_hash_split_keeps_groups_whole_and_holds_the_fractions_in_groups():
    samples = _many_groups(2000)
    splits = split_by_group_hash(samples, 0.1, 0.2, seed=0)
    g = _groups_by_split(samples, splits)
    assert sum(len(v) for v in g.values()) == 2000  # no group on two sides
    assert abs(len(g["val"]) / 2000 - 0.1) < 0.03 and abs(len(g["test"]) / 2000 - 0.2) < 0.03
    assert split_by_group_hash(samples, 0.1, 0.2, seed=0) == splits
    assert split_by_group_hash(samples, 0.1, 0.2, seed=1) != splits


def test_hash_split_moves_only_the_groups_that_changed():
    before = _many_groups(300)
    after = [s for s in before if not s.group.startswith("g1")] + _many_groups(40, start=1000)  # a re-import: some gone, some new
    side_before = dict(zip((s.path for s in before), split_by_group_hash(before, seed=0)))
    side_after = dict(zip((s.path for s in after), split_by_group_hash(after, seed=0)))
    assert all(side_after[p] == side_before[p] for p in side_after if p in side_before)
    # the shuffled split, by contrast, reshuffles everything after such a change
    shuffled_before = dict(zip((s.path for s in before), split_by_group(before, seed=0)))
    shuffled_after = dict(zip((s.path for s in after), split_by_group(after, seed=0)))
    assert sum(shuffled_after[p] != shuffled_before[p] for p in shuffled_after if p in shuffled_before) > 20


def test_earlier_sides_win_and_training_wins_over_held_out():
    samples = [
        Sample("a1", 0, "A"),
        Sample("a2", 1, "A"),
        Sample("b1", 0, "B"),
        Sample("b2", 1, "B"),
        Sample("c1", 0, "C"),
        Sample("d1", 0, "D"),
    ]
    now = ["test", "test", "train", "train", "train", "val"]
    earlier = {"a1": "train", "a2": "test", "b1": "val", "b2": "test", "c1": "test"}
    kept = keep_earlier_sides(samples, now, [s.path for s in samples], earlier)
    # A: one image was trained on, so the whole group is training; B: val beats test; C: as before; D: unseen, unchanged
    assert kept == ["train", "train", "val", "val", "test", "val"]


def test_earliest_sides_puts_each_image_where_the_earliest_run_had_it():
    from fakelens.data.split import earliest_sides

    a = {"x": "val", "y": "test", "z": "train"}
    b = {"x": "train", "y": "val", "w": "test"}
    assert earliest_sides([a, b]) == {"x": "train", "y": "val", "z": "train", "w": "test"}
    assert earliest_sides([b, a]) == earliest_sides([a, b])
