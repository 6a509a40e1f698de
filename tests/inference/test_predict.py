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
    assert list(rows[0].keys())[:4] == ["path", "prob_fake", "verdict", "error"]
    assert len(rows) == 8
    bad = {r["path"].rsplit("/", 1)[-1] for r in rows if r["error"]}
    assert bad == {"broken.jpg", "notes.txt"}
    good = [r for r in rows if not r["error"]]
    assert all(r["verdict"] in ("REAL", "UNCERTAIN", "FAKE") and 0 <= float(r["prob_fake"]) <= 1 for r in good)
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


def test_rows_read_back_in_every_format_and_old_label_columns_as_verdicts(tmp_path):
    from fakelens.inference.files import read_rows, write_rows

    rows = [
        {"path": "a.jpg", "prob_fake": 0.91, "verdict": "FAKE", "error": "", "evidence": ""},
        {"path": "b.jpg", "prob_fake": None, "verdict": None, "error": "unreadable", "evidence": ""},
    ]
    for name in ("p.csv", "p.json", "p.parquet"):
        write_rows(rows, tmp_path / name)
        back = read_rows(tmp_path / name)
        assert [r["verdict"] or None for r in back] == ["FAKE", None] and [r["path"] for r in back] == ["a.jpg", "b.jpg"]
    old = tmp_path / "old.csv"  # as fakelens < 0.2 wrote it: the verdict under the label's name
    old.write_text("path,prob_fake,label,error,image_label\na.jpg,0.91,FAKE,,UNCERTAIN\n")
    (row,) = read_rows(old)
    assert row["verdict"] == "FAKE" and row["image_verdict"] == "UNCERTAIN" and "label" not in row
