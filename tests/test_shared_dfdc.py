"""End-to-end on the real DFDC crops beside the checkout (skipped when absent)."""

import csv
import dataclasses
from pathlib import Path

from fakelens.cli import main


def test_train_then_predict_on_shared_dfdc(shared_dfdc, tmp_path):
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            str(shared_dfdc),
            "--model",
            "simple_cnn",
            "--per-class",
            "300",
            "--epochs",
            "1",
            "--image-size",
            "64",
            "--num-workers",
            "1",
            "--out",
            str(run),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(open(run / "split.csv")))
    train = [r for r in rows if r["split"] == "train"]
    # --per-class draws from the training split only; val and test are the whole split's (as for every run)
    assert len(train) == 600 and sum(r["label"] == "1" for r in train) == 300
    assert sum(r["split"] == "test" for r in rows) == sum(
        r["split"] == "test" for r in csv.DictReader(open(_full_split(shared_dfdc, tmp_path)))
    )
    sides = {}
    for r in rows:
        sides.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    ten = [r["path"] for r in rows if r["split"] == "test"][:10]
    out = tmp_path / "pred.csv"
    assert main(["predict", *ten, "--run", str(run), "--crops", "--output", str(out), "--backend", "torch"]) == 0
    pred = list(csv.DictReader(open(out)))
    assert [p["path"] for p in pred] == ten
    assert all(p["verdict"] in ("REAL", "UNCERTAIN", "FAKE") and p["error"] == "" for p in pred)


def test_default_detector_on_held_out_dfdc_crops(shared_dfdc):
    """The bundled detector on 200 crops of the test split it was never trained or calibrated on."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    import fakelens
    from fakelens.data import split_by_group
    from fakelens.data.multisource import SourceSpec, read_earlier_sides, sample_keys
    from fakelens.sources import load_samples

    samples = load_samples(shared_dfdc)
    # the sides the bundled detector lists for the images it saw (weights/split.csv.gz), matched on this machine
    spec = SourceSpec(name="dfdc", path=str(shared_dfdc))
    bundled = read_earlier_sides(Path(fakelens.__file__).parent / "weights" / "split.csv.gz", [spec])
    splits = [bundled[("dfdc", k)] for k in sample_keys([dataclasses.replace(s, source="dfdc") for s in samples], [spec])]
    assert splits == split_by_group(samples, 0.1, 0.1, seed=0)  # the seed-0 shuffled split its model card states
    test = [s for s, sp in zip(samples, splits) if sp == "test"]
    picked = [test[i] for i in np.random.default_rng(0).choice(len(test), 200, replace=False)]
    det = fakelens.load()
    p = det.predict_proba([s.path for s in picked])
    y = np.array([s.label for s in picked])
    assert roc_auc_score(y, p) > 0.85
    assert ((p >= det.threshold) == y).mean() > 0.75


def _full_split(data, tmp_path):
    """split.csv of the whole dataset with the default seed and fractions, as a full run writes it."""
    from fakelens.data.multisource import SourceSpec, split_sources
    from fakelens.data.split import write_split_csv

    path = tmp_path / "full_split.csv"
    write_split_csv(path, *split_sources([SourceSpec.parse(str(data))], 0.1, 0.1, seed=0, progress=False))
    return path
