"""The split list bundled with the default detector: a run continued from it never trains on its held-out images."""
import json
import shutil

from fakelens.data.multisource import SourceSpec, split_sources
from fakelens.data.split import write_split_csv
from fakelens.training import FaceDataModule, TrainConfig


def _sides(samples, splits):
    return {s.path: sp for s, sp in zip(samples, splits)}


def test_a_run_continued_from_the_bundled_folder_on_a_new_machine_keeps_its_sides(load_tool, tmp_path, kaggle_dataset):
    old_run = tmp_path / "old_run"
    old_run.mkdir()
    spec = SourceSpec.parse(str(kaggle_dataset))  # named after its folder, as a run's --data path is
    samples, splits = split_sources([spec], 0.1, 0.1, seed=0, progress=False, method="shuffle")
    write_split_csv(old_run / "split.csv", samples, splits)  # an old split.csv: no key column
    (old_run / "config.json").write_text(json.dumps({"data": [str(kaggle_dataset)]}))
    bundled = tmp_path / "weights"
    bundled.mkdir()
    n = load_tool("make_default_detector").write_bundled_split(old_run, bundled / "split.csv.gz")
    assert n == len(samples)
    # the data imported again somewhere else on another machine
    moved = tmp_path / "elsewhere" / kaggle_dataset.name
    shutil.copytree(kaggle_dataset, moved)
    cfg = TrainConfig(data=[str(moved)], model="simple_cnn", out=str(tmp_path / "next"), image_size=32, init_weights=str(bundled))
    (tmp_path / "next").mkdir()
    dm = FaceDataModule(cfg, tmp_path / "next", quiet=True)
    dm.setup()
    before = {p.replace(str(kaggle_dataset), str(moved)): sp for p, sp in _sides(samples, splits).items()}
    after = {s.path: name for name, part in dm.splits.items() for s in part}
    assert after == before
