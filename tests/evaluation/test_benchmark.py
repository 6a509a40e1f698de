import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakelens.data.synthetic import make_image
from fakelens.errors import ConfigError


@pytest.fixture
def grouped_manifest(tmp_path):
    """A small held-out set with a group column: group b's real faces get fake-looking patches (a biased detector's victims)."""
    rng = np.random.default_rng(4)
    rows = ["path,label,group"]
    for i in range(48):
        group = "a" if i % 2 else "b"
        fake = i % 3 == 0
        img = make_image(rng, 64, fake=fake or (group == "b" and i % 4 == 0))[0]
        Image.fromarray(img).save(tmp_path / f"{group}_{i}.png")
        rows.append(f"{group}_{i}.png,{'FAKE' if fake else 'REAL'},{group}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "manifest.csv"


def test_benchmark_reports_every_dataset_and_group(trained_run, kaggle_dataset, folder_dataset, grouped_manifest, tmp_path):
    import shutil

    from fakelens.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run[0], run)
    # verdict bands given (the tiny synthetic validation set leaves fitted ones degenerate): no UNCERTAIN zone, the
    # FAKE cut at the run's own balanced threshold, wherever this small model's calibrated scores fall
    cut = float(trained_run[1]["threshold"])
    cfg = json.loads((run / "detector.json").read_text())
    cfg["bands"] = {"real_below": cut, "fake_from": cut}
    (run / "detector.json").write_text(json.dumps(cfg))
    bench = tmp_path / "bench.yaml"
    bench.write_text(f"""datasets:
  - name: synthetic-test
    data: {kaggle_dataset}
    split: test
  - name: folders
    data: {folder_dataset}
  - name: folders-real-only-plus-fakes
    data:
      - {{source: {folder_dataset}, only: real}}
      - {{source: {kaggle_dataset}, only: fake}}
    max_images: 60
  - name: folder-reals-plus-test-fakes
    data:
      - {{source: {folder_dataset}, only: real}}
      - {{source: {kaggle_dataset}, only: fake, split: test}}
  - name: grouped-by-column
    data: {grouped_manifest}
    groups: {{column: group}}
  - name: grouped-by-name
    data: {grouped_manifest}
    groups: {{pattern: '^(?P<group>[ab])_'}}
""")
    out = tmp_path / "out"
    assert main(["benchmark", str(bench), str(run), "--out", str(out)]) == 0
    every = json.loads((out / "benchmark.json").read_text())
    rows = {r["dataset"]: r for r in every if r["detector"] == "run" and not r["dataset"].endswith("(matched)")}
    # each dataset also comes as its size-and-quality-matched copy, and each has a size-only baseline row
    assert {r["dataset"] for r in every} == set(rows) | {f"{name} (matched)" for name in rows}
    assert sum(r["detector"] == "size-only" for r in every) == 2 * len(rows)
    assert set(rows) == {
        "synthetic-test",
        "folders",
        "folders-real-only-plus-fakes",
        "folder-reals-plus-test-fakes",
        "grouped-by-column",
        "grouped-by-name",
    }
    # the test part of the run's own split: the same images `fakelens evaluate` scores
    assert rows["synthetic-test"]["n"] == json.loads((run / "metrics.json").read_text())["test"]["n"]
    assert rows["synthetic-test"]["uncertain"] == 0.0  # the bands are read: no zone, no UNCERTAIN verdict
    assert rows["folders"]["roc_auc"] > 0.85
    # each figure comes with its 95% bootstrap interval; one class has no AUC to bracket
    for r in rows.values():
        assert r["accuracy_ci_low"] <= r["accuracy"] <= r["accuracy_ci_high"]
        if r["roc_auc"] is not None and r["n"] > 20:
            assert r["roc_auc_ci_low"] <= r["roc_auc"] <= r["roc_auc_ci_high"] and r["roc_auc_ci_low"] < r["roc_auc_ci_high"]
    assert "roc_auc_ci_low" in (out / "benchmark.csv").read_text().splitlines()[0]
    assert not (out / "paired.csv").exists()  # one detector: nothing to pair
    assert rows["folders-real-only-plus-fakes"]["n"] == 60
    # a part's own split: only the run's test fakes join the (unsplit) folder's reals
    from fakelens.data.split import read_split_csv

    samples, splits = read_split_csv(run / "split.csv")
    assert rows["folder-reals-plus-test-fakes"]["n_fake"] == sum(s.label == 1 and sp == "test" for s, sp in zip(samples, splits))
    assert rows["folder-reals-plus-test-fakes"]["n_real"] == rows["folders"]["n_real"]
    for name in ("grouped-by-column", "grouped-by-name"):
        r = rows[name]
        assert set(r["group_fpr"]) == {"a", "b"}
        assert r["group_fpr"]["b"] > r["group_fpr"]["a"]  # b's reals carry the fake patch
        assert r["group_fpr_gap"] == pytest.approx(r["group_fpr"]["b"] - r["group_fpr"]["a"])
    assert rows["grouped-by-column"]["group_fpr"] == rows["grouped-by-name"]["group_fpr"]
    # every group's rate comes with its number of real faces and a 95% interval around it
    import csv

    r = rows["grouped-by-name"]
    manifest = list(csv.DictReader(open(grouped_manifest)))
    assert r["group_n"] == {g: sum(m["label"] == "REAL" and m["group"] == g for m in manifest) for g in "ab"}
    for g, (low, high) in r["group_ci"].items():
        assert 0 <= low <= r["group_fpr"][g] <= high <= 1 and high - low > 0.05  # small groups: wide intervals
    table = list(csv.DictReader(open(out / "groups.csv")))
    grouped = ("grouped-by-column", "grouped-by-name", "grouped-by-column (matched)", "grouped-by-name (matched)")
    assert {(t["dataset"], t["group"]) for t in table} == {(d, g) for d in grouped for g in "ab"}
    assert "per group" in (out / "benchmark.md").read_text()
    assert (out / "benchmark.png").stat().st_size > 1000 and "| folders |" in (out / "benchmark.md").read_text()


@pytest.fixture
def twin_runs(trained_run, folder_dataset, tmp_path):
    """Two copies of one run ("first", "twin") and a benchmark YAML of the folder dataset."""
    import shutil

    first, twin = tmp_path / "first", tmp_path / "twin"
    shutil.copytree(trained_run[0], first)
    shutil.copytree(trained_run[0], twin)
    bench = tmp_path / "bench.yaml"
    bench.write_text(f"datasets:\n  - name: folders\n    data: {folder_dataset}\n")
    return first, twin, bench


def test_a_second_detector_is_compared_with_the_first_on_the_same_images(twin_runs, tmp_path):
    import csv

    from fakelens.evaluation.benchmark import run_benchmark

    first, twin, bench = twin_runs
    run_benchmark(bench, [first, twin], tmp_path / "out", bootstrap=50)
    row, matched = list(csv.DictReader(open(tmp_path / "out" / "paired.csv")))
    assert (row["dataset"], row["detector"], row["against"]) == ("folders", "twin", "first")
    assert matched["dataset"] == "folders (matched)"
    # the same weights on the same images: no difference on any draw
    assert all(float(row[k]) == 0 for k in ("accuracy_diff", "roc_auc_diff", "roc_auc_diff_ci_low", "roc_auc_diff_ci_high"))
    assert "Against the first detector" in (tmp_path / "out" / "benchmark.md").read_text()


def test_every_image_score_is_written_under_the_path_the_user_gave(twin_runs, folder_dataset, tmp_path):
    import csv

    from sklearn.metrics import roc_auc_score

    from fakelens.evaluation.benchmark import run_benchmark
    from fakelens.sources import load_samples

    first, twin, bench = twin_runs
    rows = run_benchmark(bench, [first, twin], tmp_path / "out", bootstrap=0)
    scores = list(csv.DictReader(open(tmp_path / "out" / "scores.csv")))
    given = {s.path: s.label for s in load_samples(folder_dataset)}
    for row in rows:
        if row["detector"] == "size-only":
            continue
        mine = [s for s in scores if (s["dataset"], s["detector"]) == (row["dataset"], row["detector"])]
        assert len(mine) == row["n"]
        # the matched copy's files are gone: its scores name the images they were made from
        assert {s["path"] for s in mine} == set(given)
        assert all(int(s["label"]) == given[s["path"]] for s in mine)
        auc = roc_auc_score([int(s["label"]) for s in mine], [float(s["prob_fake"]) for s in mine])
        assert auc == pytest.approx(row["roc_auc"])
    copy = {s["path"]: s["prob_fake"] for s in scores if s["dataset"] == "folders (matched)" and s["detector"] == "first"}
    as_given = {s["path"]: s["prob_fake"] for s in scores if s["dataset"] == "folders" and s["detector"] == "first"}
    assert copy != as_given  # each row is its own image's score, not the dataset's scores twice


def test_groups_are_listed_in_natural_order():
    from fakelens.evaluation.benchmark import natural_key

    assert sorted(["10-19", "3-9", "70plus", "0-2", "B", "A"], key=natural_key) == ["0-2", "3-9", "10-19", "70plus", "A", "B"]


def test_benchmark_config_is_validated(tmp_path):
    from fakelens.evaluation.benchmark import BenchConfig

    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  - name: x\n    data: somewhere\n    split: holdout\n")
    with pytest.raises(ConfigError, match="split"):
        BenchConfig.read(bad)
    with pytest.raises(ConfigError, match="no such benchmark file"):
        BenchConfig.read(tmp_path / "missing.yaml")


def test_robustness_table_and_plot(trained_run, folder_dataset, tmp_path):
    from fakelens.cli import main
    from fakelens.imaging.perturb import ROBUSTNESS_PERTURBATIONS

    run, _ = trained_run
    out = tmp_path / "rob"
    assert main(["robustness", str(run), "--data", str(folder_dataset), "--out", str(out), "--max-images", "30"]) == 0
    lines = (out / "robustness.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == list(ROBUSTNESS_PERTURBATIONS)
    rows = [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]
    assert float(rows[0]["mean_abs_prob_change"]) == 0.0
    assert max(float(r["mean_abs_prob_change"]) for r in rows) > 0.001  # the perturbations reach the model
    assert (out / "robustness.png").is_file()
    # --split test: only the run's test images of a source it trained on
    from fakelens.data.split import read_split_csv

    samples, splits = read_split_csv(run / "split.csv")
    n_test = sum(sp == "test" for sp in splits)
    data = json.loads((run / "config.json").read_text())["data"][0]
    assert main(["robustness", str(run), "--data", data, "--split", "test", "--out", str(tmp_path / "rob-test")]) == 0
    lines = (tmp_path / "rob-test" / "robustness.csv").read_text().splitlines()
    assert int(dict(zip(lines[0].split(","), lines[1].split(",")))["n"]) == n_test


def test_group_rows_come_in_natural_order_even_from_an_unordered_record():
    from fakelens.evaluation.benchmark import group_rows

    row = {
        "dataset": "d",
        "detector": "x",
        "group_fpr": {"10-19": 0.1, "70plus": 0.0, "3-9": 0.2},
        "group_ci": {g: (0.0, 0.5) for g in ("10-19", "70plus", "3-9")},
        "group_n": {"10-19": 5, "70plus": 6, "3-9": 7},
    }
    rows = group_rows([row])
    assert [r["group"] for r in rows] == ["3-9", "10-19", "70plus"]
    assert rows[0]["n_real"] == 7 and rows[0]["real_called_fake"] == 0.2


@pytest.mark.parametrize("bench", sorted((Path(__file__).parents[2] / "configs" / "bench").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_benchmark_configs_are_valid_and_name_shipped_data_configs(bench):
    from fakelens.data.multisource import SourceSpec
    from fakelens.evaluation.benchmark import BenchConfig, DataPart

    root = Path(__file__).parents[2]
    config = BenchConfig.read(bench)
    names = [ds.name for ds in config.datasets]
    assert len(set(names)) == len(names), "two datasets share a name"
    for ds in config.datasets:
        parts = [ds.data] if isinstance(ds.data, str) else [p.source if isinstance(p, DataPart) else p for p in ds.data]
        for source in parts:
            SourceSpec.parse(str(root / source))  # exists and validates


@pytest.fixture
def sized_by_class(tmp_path):
    """Real faces stored small as JPEG, fakes large as PNG: size and format alone tell the classes apart."""
    rng = np.random.default_rng(5)
    rows = ["path,label,group"]
    for i in range(30):
        fake = i % 2 == 1
        img = Image.fromarray(make_image(rng, 64)[0])
        name = f"{i}.png" if fake else f"{i}.jpg"
        (img.resize((128 + i, 128 + i)) if fake else img.resize((60 + i % 5, 60 + i % 5))).save(tmp_path / name)
        rows.append(f"{name},{'FAKE' if fake else 'REAL'},g{i // 2}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "manifest.csv"


def test_the_size_only_baseline_reads_size_and_the_matched_copy_removes_it(sized_by_class, untrained_run, tmp_path):
    from sklearn.metrics import roc_auc_score

    from fakelens.evaluation.benchmark import image_sizes, matched_copy, run_benchmark, size_baseline_scores
    from fakelens.sources import load_samples

    samples = load_samples(sized_by_class)
    probs, labels = size_baseline_scores(samples)

    assert roc_auc_score(labels, probs) > 0.99  # out of fold, across groups
    (tmp_path / "copy").mkdir()
    copy = matched_copy(samples, tmp_path / "copy")
    sizes = image_sizes(copy)
    real_sides = sorted(max(Image.open(s.path).size) for s in samples if s.label == 0)
    assert (sizes == sizes[0]).all() and sizes[0][0] == real_sides[len(real_sides) // 2]  # the median real size, both classes
    assert all(Image.open(s.path).format == "JPEG" for s in copy) and [s.label for s in copy] == [s.label for s in samples]
    probs, labels = size_baseline_scores(copy)
    assert roc_auc_score(labels, probs) == pytest.approx(0.5, abs=0.05)

    bench = tmp_path / "bench.yaml"
    bench.write_text(
        f"datasets:\n  - name: sized\n    data: {sized_by_class}\n  - name: unmatched\n    data: {sized_by_class}\n    matched: false\n"
    )
    rows = run_benchmark(bench, [untrained_run], tmp_path / "out", bootstrap=0)
    by = {(r["dataset"], r["detector"]): r for r in rows}
    assert set(by) == {(d, k) for d in ("sized", "sized (matched)", "unmatched") for k in (untrained_run.name, "size-only")}
    assert by[("sized", "size-only")]["roc_auc"] > 0.99
    assert by[("sized (matched)", "size-only")]["roc_auc"] == pytest.approx(0.5, abs=0.05)
    assert by[("sized (matched)", untrained_run.name)]["n"] == 30
    assert "size-only" in (tmp_path / "out" / "benchmark.md").read_text()


def test_benchmark_reads_the_sides_a_bundled_detector_carries(trained_run, kaggle_dataset, tmp_path):
    """A detector folder with only ``split.csv.gz`` (source, key, split: no paths), as the bundled one ships."""
    import csv
    import gzip
    import shutil

    from fakelens.cli import main

    run = tmp_path / "bundled-like"
    shutil.copytree(trained_run[0], run)
    with open(run / "split.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with gzip.open(run / "split.csv.gz", "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "key", "split"])
        writer.writerows([r["source"], r["key"], r["split"]] for r in rows)
    (run / "split.csv").unlink()
    bench = tmp_path / "bench.yaml"
    bench.write_text(f"datasets:\n  - name: val\n    data: {kaggle_dataset}\n    split: val\n    matched: false\n")
    assert main(["benchmark", str(bench), str(run), "--out", str(tmp_path / "out")]) == 0
    row = next(r for r in json.loads((tmp_path / "out" / "benchmark.json").read_text()) if r["detector"] == "bundled-like")
    assert row["n"] == sum(r["split"] == "val" for r in rows) > 0
    # robustness --split reads the same sides
    assert main(["robustness", str(run), "--data", str(kaggle_dataset), "--split", "val", "--out", str(tmp_path / "rob")]) == 0
    lines = (tmp_path / "rob" / "robustness.csv").read_text().splitlines()
    assert int(dict(zip(lines[0].split(","), lines[1].split(",")))["n"]) == row["n"]


def test_detectors_from_folders_of_the_same_name_keep_a_row_each(tmp_path):
    from fakelens.errors import ConfigError
    from fakelens.evaluation.benchmark import detector_names

    a, b = tmp_path / "lite2" / "all-last", tmp_path / "lite0" / "all-last"
    assert detector_names([a, b, tmp_path / "fusion", None]) == ["lite2/all-last", "lite0/all-last", "fusion", "default"]
    with pytest.raises(ConfigError, match="twice"):
        detector_names([a, tmp_path / "lite2" / ".." / "lite2" / "all-last"])
