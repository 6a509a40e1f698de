import csv
import json

import numpy as np
import pytest

import fakelens
from fakelens.cli import main
from fakelens.data.synthetic import make_image
from fakelens.errors import RunDirError


@pytest.fixture
def crops(crops_with_bad_items):
    return crops_with_bad_items(6, seed=7)


def test_cli_predict_csv_reports_bad_items_and_keeps_going(trained_run, crops, tmp_path, capsys):
    run, _ = trained_run
    folder, notes = crops
    out = tmp_path / "pred.csv"
    code = main(["predict", str(folder), str(notes), "--run", str(run), "--output", str(out), "--backend", "torch", "--crops"])
    assert code == 3  # some items failed
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0].keys())[:4] == ["path", "prob_fake", "label", "error"]
    assert len(rows) == 8
    bad = {r["path"].rsplit("/", 1)[-1] for r in rows if r["error"]}
    assert bad == {"broken.jpg", "notes.txt"}
    good = [r for r in rows if not r["error"]]
    assert all(r["label"] in ("REAL", "UNCERTAIN", "FAKE") and 0 <= float(r["prob_fake"]) <= 1 for r in good)
    assert "2 of 8 item(s) failed" in capsys.readouterr().err


def test_cli_predict_json_and_exit_zero(trained_run, crops, tmp_path):
    run, _ = trained_run
    folder, _ = crops
    (folder / "broken.jpg").unlink()
    out = tmp_path / "pred.json"
    assert main(["predict", str(folder), "--run", str(run), "-o", str(out), "--backend", "torch", "--crops"]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and all(r["error"] == "" for r in rows)


def test_python_api_matches_cli_and_separates_classes(trained_run):
    run, _ = trained_run
    det = fakelens.load(run, backend="torch")
    rng = np.random.default_rng(11)
    reals = [make_image(rng, 64)[0] for _ in range(20)]
    fakes = [make_image(rng, 64, fake=True)[0] for _ in range(20)]
    p = det.predict_proba(reals + fakes)
    assert p.shape == (40,) and ((p >= 0) & (p <= 1)).all()
    from sklearn.metrics import roc_auc_score

    truth = [0] * 20 + [1] * 20
    assert roc_auc_score(truth, p) > 0.9
    labels = det.predict(reals + fakes)
    assert list(labels) == [int(x >= det.threshold) for x in p]
    assert (labels == truth).mean() > 0.75


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--run", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    with pytest.raises(RunDirError):
        fakelens.load(tmp_path)
