import csv

from fakelens.evaluation.compare import compare_runs


def test_leaderboard_sorted_by_auc(tmp_path, trained_run):
    import json
    import shutil

    run, _ = trained_run
    worse = tmp_path / "worse"
    shutil.copytree(run, worse)
    metrics = json.loads((worse / "eval" / "metrics.json").read_text())
    metrics["roc_auc"] = 0.51
    (worse / "eval" / "metrics.json").write_text(json.dumps(metrics))
    rows = compare_runs([worse, run], tmp_path / "board")
    assert [r["name"] for r in rows] == [run.name, "worse"]
    assert (tmp_path / "board" / "leaderboard.png").stat().st_size > 1000
    table = list(csv.DictReader(open(tmp_path / "board" / "leaderboard.csv")))
    assert table[1]["roc_auc"] == "0.51"
    assert "| 1 | " + run.name in (tmp_path / "board" / "leaderboard.md").read_text()
