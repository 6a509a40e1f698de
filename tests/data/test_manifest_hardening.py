"""Hostile dataset manifests: one clear DataError naming the line, never an AttributeError or _csv.Error."""

import csv

import pytest

from fakelens.errors import DataError
from fakelens.sources import load_samples


def _manifest(tmp_path, folder_dataset, text: str):
    path = tmp_path / "manifest.csv"
    path.write_text(text.format(real=f"{folder_dataset}/real/0000.png", fake=f"{folder_dataset}/fake/0000.png"))
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("path,label\n{real},REAL,extra,fields\n{fake},FAKE\n", "line 2: 4 fields but the header has 2"),
        ("path,label\n{real},REAL\n{fake},FAKE\nx.png,REAL," + "a" * 140_000 + "\n", "line 4: not a readable CSV row"),
        ("path,label,label\n{real},REAL,FAKE\n{fake},FAKE,REAL\n", "column(s) label appear more than once"),
        ("path,label\n{real},REAL\n{fake},\x00FAKE\n", "line 3: unknown label '\\x00FAKE'"),
    ],
)
def test_malformed_manifests_name_the_problem(tmp_path, folder_dataset, text, message):
    path = _manifest(tmp_path, folder_dataset, text)
    with pytest.raises(DataError) as info:
        load_samples(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_field_over_the_csv_limit_is_a_data_error(tmp_path, folder_dataset):
    long_path = "x" * (csv.field_size_limit() + 10)
    path = _manifest(tmp_path, folder_dataset, "path,label\n{real},REAL\n" + long_path + ",FAKE\n")
    with pytest.raises(DataError, match="field larger than field limit"):
        load_samples(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("path,label\ncafé.png,REAL\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_samples(path)


def test_short_rows_and_blank_lines_still_read(tmp_path, folder_dataset):
    path = _manifest(tmp_path, folder_dataset, "path,label,group\n{real},REAL\n\n{fake},FAKE,g1\n")
    samples = load_samples(path)
    assert [s.label for s in samples] == [0, 1] and samples[1].group == "g1" and samples[0].group.endswith("0000.png")


def test_cli_train_on_a_bad_manifest_is_one_line(tmp_path, folder_dataset, capsys):
    from fakelens.cli import main

    path = _manifest(tmp_path, folder_dataset, "path,label\n{real},REAL,extra\n{fake},FAKE\n")
    assert main(["train", "--data", str(path), "--model", "simple_cnn", "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "fields but the header has 2" in err and "Traceback" not in err and len(err.splitlines()) == 1
