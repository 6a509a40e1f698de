"""The trainer's parts on their own: the data module, the model module and the finalise step."""

import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from fakelens.errors import ConfigError, RunDirError
from fakelens.training import DetectorModule, FaceDataModule, finalize_run
from tiny_runs import tiny_config


def _config(data, out, **kw):
    return tiny_config(data, out, **{"image_size": 32, **kw})


def _paths(dm):
    return {name: [s.path for s in samples] for name, samples in dm.splits.items()}


def test_datamodule_rereads_its_split_on_resume(tmp_path, kaggle_dataset):
    run = tmp_path / "run"
    run.mkdir()
    first = FaceDataModule(_config(kaggle_dataset, run), run)
    first.setup()
    assert (run / "split.csv").is_file()
    # another split seed splits differently, unless the run's split.csv is re-read
    (tmp_path / "other").mkdir()
    fresh = FaceDataModule(_config(kaggle_dataset, tmp_path / "other", split_seed=1), tmp_path / "other")
    fresh.setup()
    assert _paths(fresh)["val"] != _paths(first)["val"]
    resumed = FaceDataModule(_config(kaggle_dataset, run, split_seed=1), run, resume=True)
    resumed.setup()
    assert _paths(resumed) == _paths(first)
    assert resumed.preprocess.image_size == 32


def test_the_draw_seed_leaves_the_sides_alone(tmp_path, kaggle_dataset):
    # a continuation draws with a new seed; the images no earlier split holds must still land where its parent put them
    sides = []
    for seed in (0, 7):
        run = tmp_path / f"seed{seed}"
        run.mkdir()
        dm = FaceDataModule(_config(kaggle_dataset, run, seed=seed), run)
        dm.setup()
        sides.append(_paths(dm))
    assert sides[0] == sides[1]


def test_what_the_parent_trained_on_stays_in_training_whatever_split_from_says(tmp_path, kaggle_dataset):
    # the leak of session 31: --split-from named a split that held fewer images than the parent's (or other sides),
    # and the parent's training images came back on the child's validation side
    fractions = {"val_fraction": 0.3, "test_fraction": 0.3}
    modules = {}
    for name, changes in (("parent", {}), ("other", {"split_seed": 1})):
        (tmp_path / name).mkdir()
        modules[name] = FaceDataModule(_config(kaggle_dataset, tmp_path / name, **fractions, **changes), tmp_path / name)
        modules[name].setup()
    parent, other = (_paths(modules[n]) for n in ("parent", "other"))
    assert set(parent["train"]) != set(other["train"])
    child_dir = tmp_path / "child"
    child_dir.mkdir()
    config = _config(kaggle_dataset, child_dir, init_weights=str(tmp_path / "parent"), split_from=str(tmp_path / "other"), **fractions)
    child = FaceDataModule(config, child_dir)
    child.setup()
    child_paths = _paths(child)
    held_out = set(child_paths["val"]) | set(child_paths["test"])
    assert held_out and not held_out & (set(parent["train"]) | set(other["train"]))
    assert set(child_paths["val"]) <= set(parent["val"]) | set(other["val"])


def test_datamodule_loaders(tmp_path, kaggle_dataset):
    (tmp_path / "run").mkdir()
    dm = FaceDataModule(_config(kaggle_dataset, tmp_path / "run", samples_per_epoch=40), tmp_path / "run")
    dm.setup()
    train = dm.train_dataloader()
    assert len(train.sampler) == 40 and len(train) == 40 // 16  # drop_last: every step a full batch
    x, y, _, bad = next(iter(train))
    assert x.shape == (16, 3, 32, 32) and not bad
    val = dm.val_dataloader()
    assert sorted(s.path for s in val.dataset.samples) == sorted(_paths(dm)["val"]) and val.batch_size == 32


def test_only_rank_zero_writes_the_split(tmp_path, kaggle_dataset, monkeypatch):
    from fakelens.training import distributed

    monkeypatch.setattr(distributed, "is_main", lambda: False)
    (tmp_path / "run").mkdir()
    dm = FaceDataModule(_config(kaggle_dataset, tmp_path / "run"), tmp_path / "run")
    dm.setup()
    assert dm.splits["train"] and not (tmp_path / "run" / "split.csv").exists()


def test_module_optimiser_and_schedule(tmp_path, kaggle_dataset):
    module = DetectorModule(_config(kaggle_dataset, tmp_path, lr=1e-2, weight_decay=0.1, warmup_epochs=0.5))
    optimizer, scheduler = module.configure_optimizers(steps_per_epoch=10)  # 20 steps, the first 5 warming up
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(module.model.parameters()))
    lrs = []
    for _ in range(20):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-2 / 5) and lrs[4] == pytest.approx(1e-2) and lrs[5] == pytest.approx(1e-2)
    assert lrs[5:] == sorted(lrs[5:], reverse=True)
    assert scheduler.get_last_lr()[0] == pytest.approx(1e-4)  # cosine down to 1% of the peak
    # the same config gives the same initial weights
    again = DetectorModule(_config(kaggle_dataset, tmp_path, lr=1e-2))
    fresh = DetectorModule(_config(kaggle_dataset, tmp_path, lr=1e-2))
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), fresh.model.state_dict().values()))


def test_module_training_step_smooths_the_labels(tmp_path, kaggle_dataset):
    module = DetectorModule(_config(kaggle_dataset, tmp_path, label_smoothing=0.2))
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0.0, 1.0, 1.0, 0.0])
    loss, logits = module.training_step((x, y))
    assert logits.shape == (4,)
    assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, torch.tensor([0.1, 0.9, 0.9, 0.1])).item())


def test_module_freezes_the_backbone_of_a_transfer_model(tmp_path, kaggle_dataset):
    module = DetectorModule(_config(kaggle_dataset, tmp_path, model="efficientnet_lite0", pretrained=False, freeze_epochs=1))
    assert module.on_train_epoch_start(1) is True
    trainable = [p for p in module.model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in module.model.get_classifier().parameters()}
    assert not any(m.training for m in module.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    module.on_train_epoch_end()
    assert all(p.requires_grad for p in module.model.parameters())
    assert module.on_train_epoch_start(2) is False and module.model.training
    assert all(m.training for m in module.model.modules())
    assert not DetectorModule(_config(kaggle_dataset, tmp_path, freeze_epochs=1)).is_frozen(1)  # trained from scratch: never


def test_finalize_run_alone_ships_what_the_trainer_shipped(trained_run, tmp_path):
    import fakelens

    original, _ = trained_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    for name in ("detector.json", "model.safetensors", "metrics.json"):
        (run / name).unlink()
    shutil.rmtree(run / "eval")
    metrics = finalize_run(run)
    before = json.loads((original / "metrics.json").read_text())
    for m in (before, metrics):
        m["test"].pop("dataset")  # the path of the run's split.csv
    assert metrics == before
    assert json.loads((run / "metrics.json").read_text())["test"]["roc_auc"] == before["test"]["roc_auc"]
    shipped, best = load_file(str(run / "model.safetensors")), load_file(str(run / "best.safetensors"))
    assert shipped.keys() == best.keys() and all(torch.equal(shipped[k], best[k]) for k in best)
    info = json.loads((run / "detector.json").read_text())["info"]
    assert info == json.loads((original / "detector.json").read_text())["info"]
    assert fakelens.load(run).temperature == metrics["temperature"]


def test_a_resumed_run_stops_when_its_source_yaml_or_hard_examples_file_changed(tmp_path, kaggle_dataset):
    hard = tmp_path / "hard.txt"
    hard.write_text("real/a.jpg\n")
    source = tmp_path / "synth.yaml"
    source.write_text(f"path: {kaggle_dataset}\nweight: 2\nhard: hard.txt\n")
    run = tmp_path / "run"
    run.mkdir()
    config = _config([source], run)
    FaceDataModule(config, run).setup()
    assert json.loads((run / "sources.json").read_text())[0]["weight"] == 2
    FaceDataModule(config, run, resume=True).setup()  # nothing changed: it resumes
    hard.write_text("# mined again\nreal/a.jpg\n\n")
    FaceDataModule(config, run, resume=True).setup()  # comments and blank lines draw nothing
    hard.write_text("real/a.jpg\nreal/b.jpg\n")
    with pytest.raises(ConfigError, match="synth: the keys of its hard-examples file"):
        FaceDataModule(config, run, resume=True).setup()
    hard.write_text("real/a.jpg\n")
    source.write_text(f"path: {kaggle_dataset}\nweight: 3\nhard: hard.txt\n")
    with pytest.raises(ConfigError, match="sources changed since it started \\(synth: weight\\)"):
        FaceDataModule(config, run, resume=True).setup()
    # a run from before sources.json resumes as it is, and is kept to its sources from then on
    (run / "sources.json").unlink()
    FaceDataModule(config, run, resume=True).setup()
    assert json.loads((run / "sources.json").read_text())[0]["weight"] == 3


def test_finalize_run_needs_a_run(tmp_path, kaggle_dataset):
    with pytest.raises(RunDirError, match="config.json"):
        finalize_run(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(_config(kaggle_dataset, run).to_dict()))
    FaceDataModule(_config(kaggle_dataset, run), run).setup()  # split.csv, but no epoch trained
    with pytest.raises(RunDirError, match="no checkpoint"):
        finalize_run(run)


def test_a_run_continued_from_another_keeps_its_validation_and_test_images_out_of_training(tmp_path, kaggle_dataset):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    first = FaceDataModule(_config(kaggle_dataset, earlier, split_method="shuffle", seed=3), earlier)
    first.setup()
    (tmp_path / "next").mkdir()
    # a new run with another method and seed that starts from the earlier run's weights folder
    continued = FaceDataModule(_config(kaggle_dataset, tmp_path / "next", init_weights=str(earlier)), tmp_path / "next")
    continued.setup()
    assert _paths(continued) == _paths(first)
    header = (tmp_path / "next" / "split.csv").read_text().splitlines()[0]
    assert header == "path,label,group,split,source,key"
    (tmp_path / "fresh").mkdir()
    fresh = FaceDataModule(_config(kaggle_dataset, tmp_path / "fresh"), tmp_path / "fresh")
    fresh.setup()
    assert _paths(fresh) != _paths(first)


def test_a_run_continued_with_its_parents_seed_sources_and_draws_is_found_to_replay_them(tmp_path, kaggle_dataset):
    from fakelens.training.datamodule import replays_draws_of

    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "config.json").write_text(json.dumps(_config(kaggle_dataset, parent, samples_per_epoch=64).to_dict()))
    child = tmp_path / "child"
    assert replays_draws_of(_config(kaggle_dataset, child, init_weights=str(parent), samples_per_epoch=64)) == parent
    # the same source written as a YAML somewhere else is the same source
    spec = tmp_path / "cfg" / "faces.yaml"
    spec.parent.mkdir()
    spec.write_text(f"name: {kaggle_dataset.name}\npath: {kaggle_dataset}\n")
    assert replays_draws_of(_config(spec, child, init_weights=str(parent), samples_per_epoch=64)) == parent
    # a new seed, another draw count or another sampling weight draws other faces
    assert replays_draws_of(_config(kaggle_dataset, child, init_weights=str(parent), samples_per_epoch=64, seed=1)) is None
    assert replays_draws_of(_config(kaggle_dataset, child, init_weights=str(parent), samples_per_epoch=128)) is None
    spec.write_text(f"name: {kaggle_dataset.name}\npath: {kaggle_dataset}\nweight: 2\n")
    assert replays_draws_of(_config(spec, child, init_weights=str(parent), samples_per_epoch=64)) is None
    # what the parent recorded in sources.json it trained on counts, not what its YAMLs say now
    from fakelens.data.multisource import SourceSpec, source_record

    (parent / "sources.json").write_text(json.dumps(source_record([SourceSpec.parse(str(spec))])))
    assert replays_draws_of(_config(spec, child, init_weights=str(parent), samples_per_epoch=64)) == parent
    assert replays_draws_of(_config(kaggle_dataset, child, init_weights=str(parent), samples_per_epoch=64)) is None
    # nothing to compare with: no parent, or a parent folder without its training config
    assert replays_draws_of(_config(kaggle_dataset, child)) is None
    (parent / "config.json").unlink()
    assert replays_draws_of(_config(kaggle_dataset, child, init_weights=str(parent), samples_per_epoch=64)) is None


def test_the_trainer_warns_when_a_continued_run_replays_its_parents_draws(tmp_path, kaggle_dataset, capsys):
    from fakelens.training import Trainer

    parent = tmp_path / "parent"
    Trainer(_config(kaggle_dataset, parent, epochs=1, samples_per_epoch=32), quiet=True).fit()
    Trainer(_config(kaggle_dataset, tmp_path / "child", epochs=1, samples_per_epoch=32, init_weights=str(parent))).fit()
    assert "replays its draws; pass --seed" in capsys.readouterr().out
    Trainer(_config(kaggle_dataset, tmp_path / "other", epochs=1, samples_per_epoch=32, init_weights=str(parent), seed=2)).fit()
    assert "replays its draws" not in capsys.readouterr().out
