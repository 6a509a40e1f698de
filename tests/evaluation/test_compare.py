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
    cfg = json.loads((worse / "config.json").read_text())
    (worse / "config.json").write_text(json.dumps({**cfg, "init_weights": str(run)}))
    rows = compare_runs([worse, run], tmp_path / "board")
    assert [r["name"] for r in rows] == [run.name, "worse"]
    assert (tmp_path / "board" / "leaderboard.png").stat().st_size > 1000
    table = list(csv.DictReader(open(tmp_path / "board" / "leaderboard.csv")))
    assert table[1]["roc_auc"] == "0.51"
    # each row states the compute behind it: where the weights started, input size, epochs, images
    assert table[0]["init"] == "scratch" and table[1]["init"] == f"continued from {run.name}"
    assert table[0]["image_size"] == "64" and table[0]["epochs_run"] == "8" and int(table[0]["train_images"]) > 0
    assert "| 1 | " + run.name in (tmp_path / "board" / "leaderboard.md").read_text()
