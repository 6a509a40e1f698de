"""Learning without Forgetting: the teacher's P(FAKE) in the target, on the chosen sources' stored images."""

import csv

import numpy as np
import pytest
import torch
import torch.nn as nn

from fakelens.data.multisource import SourceSpec, split_sources
from fakelens.data.split import read_split_csv
from fakelens.data.synthetic import make_folder_dataset
from fakelens.errors import ConfigError
from fakelens.evaluation.evaluate import evaluate_run
from fakelens.imaging.preprocess import PreprocessConfig
from fakelens.sources import Sample, load_samples
from fakelens.training import DetectorModule, TrainConfig, train
from fakelens.training.distill import Distiller
from tiny_runs import tiny_config


class ConstantLogit(nn.Module):
    def __init__(self, logit: float):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(float(logit)))

    def forward(self, x):
        return self.logit.expand(len(x), 1)


def _batch():
    samples = [
        Sample("a.jpg", 1, "g1", "dfdc"),
        Sample("b.jpg", 0, "g2", "dfdc"),
        Sample("b.jpg", 1, "g2", "dfdc", "sbi"),
        Sample("c.jpg", 1, "g3", "rvf10k"),
    ]
    return torch.zeros(4, 3, 8, 8), torch.tensor([1.0, 0.0, 1.0, 1.0]), samples


def test_only_stored_images_of_the_chosen_sources_are_distilled():
    x, y, samples = _batch()
    distiller = Distiller(ConstantLogit(0.0), sources=["dfdc"], weight=0.5)
    assert distiller.mask(samples).tolist() == [True, True, False, False]
    # the teacher says 0.5: half-way from each label; the self-blended and the other source's items keep theirs
    assert distiller.targets(x, y, samples).tolist() == pytest.approx([0.75, 0.25, 1.0, 1.0])
    everywhere = Distiller(ConstantLogit(2.0), weight=1.0)
    assert everywhere.mask(samples).tolist() == [True, True, False, True]
    assert everywhere.targets(x, y, samples)[[0, 1, 3]].tolist() == pytest.approx([torch.sigmoid(torch.tensor(2.0)).item()] * 3)
    assert not any(p.requires_grad for p in everywhere.teacher.parameters())


def test_a_share_outside_zero_to_one_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        Distiller(ConstantLogit(0.0), weight=1.5)
    with pytest.raises(ConfigError, match="distill_weight"):
        TrainConfig.from_dict({"data": "x", "distill_weight": -0.1})


def test_a_teacher_with_another_input_is_refused(trained_run):
    run, _ = trained_run
    with pytest.raises(ConfigError, match="differs"):
        Distiller.from_run(str(run), PreprocessConfig(image_size=48, mean=(0.5,) * 3, std=(0.5,) * 3))


def test_a_student_that_agrees_with_its_teacher_gets_no_push_on_distilled_items(tmp_path, trained_run, kaggle_dataset):
    run, _ = trained_run
    cfg = TrainConfig(
        data=str(kaggle_dataset),
        model="simple_cnn",
        out=str(tmp_path),
        image_size=64,
        label_smoothing=0.0,
        init_weights=str(run),
        distill_from=str(run),
        distill_weight=1.0,
    )
    module = DetectorModule(cfg)
    module.model.eval()  # the same network as the teacher, in the same mode
    x, y = torch.rand(2, 3, 64, 64), torch.tensor([1.0, 0.0])
    stored = [Sample("a.jpg", 1, "g", "kaggle"), Sample("b.jpg", 0, "g", "kaggle")]
    loss, _ = module.training_step((x, y), samples=stored)
    loss.backward()
    assert max(p.grad.abs().max().item() for p in module.model.parameters() if p.grad is not None) < 1e-5
    module.model.zero_grad()
    # a self-blended item keeps its label: the student is pushed towards it
    loss, _ = module.training_step((x, y), samples=[stored[0], Sample("b.jpg", 1, "g", "kaggle", "sbi")])
    loss.backward()
    assert max(p.grad.abs().max().item() for p in module.model.parameters() if p.grad is not None) > 1e-4
    with pytest.raises(ValueError, match="sample"):
        module.training_step((x, y))


def test_a_student_learns_from_its_teacher_where_the_labels_are_noise(tmp_path, trained_run, kaggle_dataset):
    """Training labels shuffled at random: alone they teach nothing; with the teacher's targets the student still learns.

    Only the training part's labels are shuffled: validation (which picks the epoch and fits the calibration) keeps
    the true ones, as it would in a real run.
    """
    run, _ = trained_run
    labels = {s.path: s.label for s in load_samples(kaggle_dataset)}
    clean = tmp_path / "clean.csv"
    _write_manifest(clean, labels)
    samples, sides = split_sources([SourceSpec.parse(str(clean))], 0.1, 0.1, 0, progress=False)
    train_paths = [s.path for s, side in zip(samples, sides) if side == "train"]
    shuffled = np.random.default_rng(0).permutation([labels[p] for p in train_paths])
    noisy = tmp_path / "noisy" / "clean.csv"  # the same file name: the same source name, so the same split
    noisy.parent.mkdir()
    _write_manifest(noisy, {**labels, **dict(zip(train_paths, shuffled.tolist()))})
    train(tiny_config([noisy], tmp_path / "taught", epochs=12, distill_from=str(run), distill_weight=1.0), quiet=True)
    run_samples, run_sides = read_split_csv(tmp_path / "taught" / "split.csv")
    assert sorted(s.path for s, side in zip(run_samples, run_sides) if side == "train") == sorted(train_paths)
    # 200 unseen images: the shared 40-image folder set moved this AUC by 0.05 between machines (0.80 and 0.85 in CI)
    unseen = make_folder_dataset(tmp_path / "unseen", per_class=100, size=64, seed=3)
    taught = evaluate_run(tmp_path / "taught", data=str(unseen), num_workers=0)
    assert taught["roc_auc"] > 0.75, taught  # clearly above chance; the untaught student is the sharper check below
    train(tiny_config([noisy], tmp_path / "alone", epochs=12), quiet=True)
    alone = evaluate_run(tmp_path / "alone", data=str(unseen), num_workers=0)
    assert alone["roc_auc"] < taught["roc_auc"] - 0.15, (alone, taught)


def _write_manifest(path, labels):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label"])
        writer.writerows([p, "FAKE" if label else "REAL"] for p, label in labels.items())
