import os

import pytest

from fakelens.errors import UnsafePathError
from fakelens.utils.paths import safe_child, safe_name


@pytest.mark.parametrize(
    "name, expected",
    [
        (".", "input"),
        ("..", "input"),
        ("", "input"),
        ("  ", "input"),
        ("...", "input"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("line\nbreak", "line_break"),
        ("face", "face"),
        (".hidden", ".hidden"),
    ],
)
def test_safe_name_is_one_plain_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["..", "../x.jpg", "real/../../x/face.jpg", "/etc/passwd", ".", "real/.."])
def test_names_leading_outside_or_onto_the_folder_are_refused(tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsafePathError, match="leads outside"):
        safe_child(out, name)


def test_names_inside_the_folder_are_resolved(tmp_path):
    out = tmp_path / "out"
    assert safe_child(out, "real/a/face.jpg") == (out / "real" / "a" / "face.jpg").resolve()
    assert safe_child(out, "real/../fake/x.jpg") == (out / "fake" / "x.jpg").resolve()
    assert safe_child(out, "...jpg").name == "...jpg"


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "real")
    with pytest.raises(UnsafePathError):
        safe_child(out, "real/face.jpg")
