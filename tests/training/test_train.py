import json
import shutil

import pytest

from fakelens.errors import RunDirError
from fakelens.evaluation.evaluate import evaluate_run
from fakelens.training import Callback, Trainer, train
from tiny_runs import tiny_config


def _config(data, out, model, **kw):
    return tiny_config(data, out, **{"model": model, "epochs": 4, **kw})


@pytest.mark.parametrize(
    "model, extra",
    [
        ("simple_cnn", {}),
        ("meso4", {"epochs": 8, "lr": 5e-3}),
        ("mesoinception4", {"epochs": 8, "lr": 5e-3}),
        ("efficientnet_lite0", {"epochs": 3, "lr": 1e-3, "freeze_epochs": 1}),
    ],
)
def test_models_learn_synthetic_fakes(tmp_path, kaggle_dataset, folder_dataset, model, extra):
    metrics = train(_config(kaggle_dataset, tmp_path / model, model, **extra), quiet=True)
    assert metrics["test"]["n"] > 20
    # judged on images the model never saw, made with another seed
    held_out = evaluate_run(tmp_path / model, data=str(folder_dataset), num_workers=0)
    assert held_out["roc_auc"] > 0.85, held_out
    assert held_out["accuracy"] > 0.7, held_out


def test_run_folder_has_everything(trained_run):
    run, metrics = trained_run
    for name in (
        "split.csv",
        "history.csv",
        "metrics.json",
        "config.json",
        "detector.json",
        "model.safetensors",
        "plots/history.png",
        "eval/roc.png",
        "eval/confusion.png",
        "eval/metrics.json",
    ):
        assert (run / name).is_file(), name
    assert (run / "split.csv").read_text().splitlines()[0] == "path,label,group,split,source,key"
    from fakelens.data.split import read_split_csv

    samples, splits = read_split_csv(run / "split.csv")
    sides = {}
    for s, split in zip(samples, splits):
        sides.setdefault(s.group, set()).add(split)
    assert all(len(s) == 1 for s in sides.values()) and set(splits) == {"train", "val", "test"}
    det = json.loads((run / "detector.json").read_text())
    assert 0 < det["threshold"] < 1 and det["temperature"] > 0
    assert len((run / "history.csv").read_text().splitlines()) == 9


class _KillAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, logs):
        if logs["epoch"] == self.epoch:
            raise KeyboardInterrupt  # like a kill in the middle of epoch bookkeeping


def test_resume_after_interruption_loses_at_most_one_epoch(tmp_path, kaggle_dataset):
    cfg = _config(kaggle_dataset, tmp_path / "run", "meso4", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, callbacks=[_KillAfter(2)], quiet=True).fit()
    assert (tmp_path / "run" / "checkpoints" / "LATEST").read_text().strip() == "epoch-001"
    assert not (tmp_path / "run" / "detector.json").exists()
    with pytest.raises(Exception, match="--resume"):
        Trainer(cfg, quiet=True).fit()
    trainer = Trainer(cfg, resume=True, quiet=True)
    trainer.fit()
    assert [h["epoch"] for h in trainer.state["history"]] == [1, 2, 3]
    assert (tmp_path / "run" / "detector.json").is_file()


def test_cli_resume_without_epochs_reaches_the_runs_own_end(tmp_path, kaggle_dataset):
    # `fakelens train --out RUN --resume` after a kill: the saved config, not the defaults (10 epochs), says how long
    from fakelens.cli import main

    cfg = _config(kaggle_dataset, tmp_path / "run", "meso4", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, callbacks=[_KillAfter(2)], quiet=True).fit()
    assert main(["train", "--out", str(tmp_path / "run"), "--resume"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 2
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 1 + 2
    assert (tmp_path / "run" / "detector.json").is_file()


def test_python_resume_reaches_the_runs_own_end_and_takes_changes(tmp_path, kaggle_dataset):
    # fakelens.training.resume(RUN) is the CLI's --resume: the saved config's 2 epochs, not TrainConfig's default
    from fakelens.training import resume

    cfg = _config(kaggle_dataset, tmp_path / "run", "meso4", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, callbacks=[_KillAfter(2)], quiet=True).fit()
    resume(tmp_path / "run", quiet=True)
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 1 + 2
    resume(tmp_path / "run", quiet=True, epochs=3)  # a change that may be made: train one epoch more
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 3
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 1 + 3
    with pytest.raises(RunDirError, match="nothing to resume"):
        resume(tmp_path / "elsewhere", quiet=True)


def test_unreadable_training_images_are_skipped_and_counted(tmp_path, kaggle_dataset):
    data = tmp_path / "data"
    shutil.copytree(kaggle_dataset, data)
    for name in ("real0001.jpg", "fake0002.jpg", "fake0005.jpg"):
        (data / "faces_224" / name).write_bytes(b"not a jpeg")
    trainer = Trainer(_config(data, tmp_path / "run", "meso4", epochs=1, val_fraction=0.01, test_fraction=0.0), quiet=True)
    trainer.fit()
    assert trainer.state["skipped_images"] == 3
    assert json.loads((tmp_path / "run" / "detector.json").read_text())["info"]["skipped_unreadable"] == 3


def test_per_class_subsets_only_the_training_split(tmp_path, kaggle_dataset, trained_run):
    """Runs of any budget are validated and tested on the same groups, so their leaderboard rows compare."""
    from fakelens.data.split import read_split_csv

    full_run, _ = trained_run  # the same data and seed, no subset
    train(_config(kaggle_dataset, tmp_path / "small", "simple_cnn", per_class=30, epochs=1), quiet=True)
    samples, splits = read_split_csv(tmp_path / "small" / "split.csv")
    full_samples, full_splits = read_split_csv(full_run / "split.csv")
    for part in ("val", "test"):
        assert sorted(s.path for s, sp in zip(samples, splits) if sp == part) == sorted(
            s.path for s, sp in zip(full_samples, full_splits) if sp == part
        )
    train_labels = [s.label for s, sp in zip(samples, splits) if sp == "train"]
    assert train_labels.count(0) == 30 and train_labels.count(1) == 30
