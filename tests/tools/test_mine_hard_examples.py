"""tools/mine_hard_examples.py: a source's training images a detector scores most wrongly, as a list `hard:` reads."""
import csv

import numpy as np

import fakelens
from fakelens.labels import FAKE, REAL


def test_hardest_are_the_highest_reals_and_the_lowest_fakes(load_tool):
    tool = load_tool("mine_hard_examples")
    probs = np.array([0.1, 0.9, 0.5, 0.95, 0.2])
    assert tool.hardest(probs, REAL, 0.4).tolist() == [3, 1]
    assert tool.hardest(probs, FAKE, 0.4).tolist() == [0, 4]
    assert tool.hardest(probs, FAKE, 0.01).tolist() == [0]  # at least one


def test_the_list_names_only_training_images_of_the_class_scored_most_wrongly(load_tool, trained_run, kaggle_dataset, tmp_path, capsys):
    tool = load_tool("mine_hard_examples")
    run = trained_run[0]
    rows = list(csv.DictReader(open(run / "split.csv")))
    yaml = tmp_path / "synth.yaml"
    yaml.write_text(f"name: {rows[0]['source']}\npath: {kaggle_dataset}\n")
    out = tmp_path / "hard" / "reals.txt"
    assert tool.main(["--run", str(run), "--data", str(yaml), "--label", "real", "--top", "0.2", "--out", str(out)]) == 0

    lines = out.read_text().splitlines()
    keys = [line for line in lines if not line.startswith("#")]
    train_reals = {r["key"] for r in rows if r["split"] == "train" and r["label"] == str(REAL)}
    assert lines[0].startswith("#") and set(keys) <= train_reals
    assert len(keys) == round(0.2 * len(train_reals))
    det = fakelens.load(run, backend="torch")
    listed = det.predict_proba([str(kaggle_dataset / k) for k in keys])
    others = det.predict_proba([str(kaggle_dataset / k) for k in sorted(train_reals - set(keys))])
    assert listed.min() >= others.max() - 1e-6

    no_split = tmp_path / "nosplit"
    no_split.mkdir()
    for name in ("detector.json", "model.safetensors"):
        (no_split / name).write_bytes((run / name).read_bytes())
    assert tool.main(["--run", str(no_split), "--data", str(yaml), "--label", "fake", "--out", str(tmp_path / "x.txt")]) == 2
    assert "no split.csv" in capsys.readouterr().err and not (tmp_path / "x.txt").exists()
