"""End-to-end on the real DFDC crops beside the checkout (skipped when absent)."""
import csv

from fakelens.cli import main


def test_train_then_predict_on_shared_dfdc(shared_dfdc, tmp_path):
    run = tmp_path / "run"
    code = main(["train", "--data", str(shared_dfdc), "--model", "simple_cnn", "--per-class", "300", "--epochs", "1",
                 "--image-size", "64", "--num-workers", "1", "--out", str(run)])
    assert code == 0
    rows = list(csv.DictReader(open(run / "split.csv")))
    assert len(rows) == 600
    sides = {}
    for r in rows:
        sides.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    ten = [r["path"] for r in rows if r["split"] == "test"][:10]
    out = tmp_path / "pred.csv"
    assert main(["predict", *ten, "--run", str(run), "--output", str(out), "--backend", "torch"]) == 0
    pred = list(csv.DictReader(open(out)))
    assert [p["path"] for p in pred] == ten
    assert all(p["label"] in ("REAL", "FAKE") and p["error"] == "" for p in pred)
