import pytest

from fakelens.data import FAKE, REAL
from fakelens.errors import DataError
from fakelens.sources import load_samples


def test_kaggle_layout_groups_fakes_with_their_original(kaggle_dataset):
    samples = load_samples(kaggle_dataset)
    assert len(samples) == 240
    by_name = {s.path.rsplit("/", 1)[-1]: s for s in samples}
    assert by_name["fake0003.jpg"].label == FAKE and by_name["fake0003.jpg"].group == "real0003"
    assert by_name["real0003.jpg"].label == REAL and by_name["real0003.jpg"].group == "real0003"


def test_folder_layout(folder_dataset):
    samples = load_samples(folder_dataset)
    assert sum(s.label == REAL for s in samples) == 20 and sum(s.label == FAKE for s in samples) == 20
    assert len({s.group for s in samples}) == 40


def test_manifest(tmp_path, folder_dataset):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label,group\n{folder_dataset}/real/0000.png,REAL,a\n{folder_dataset}/fake/0000.png,1,a\n")
    samples = load_samples(manifest)
    assert [s.label for s in samples] == [0, 1] and {s.group for s in samples} == {"a"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("path\nx.png\n", "missing column(s) label"),
        ("path,label\nnope.png,REAL\n", "missing"),
        ("path,label\n{real},MAYBE\n", "unknown label 'MAYBE'"),
        ("path,label\n{real},REAL\n", "no FAKE images"),
    ],
)
def test_bad_manifests_give_one_clear_error(tmp_path, folder_dataset, content, message):
    manifest = tmp_path / "bad.csv"
    manifest.write_text(content.format(real=f"{folder_dataset}/real/0000.png"))
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_samples(manifest)


def test_kaggle_missing_file_and_column(tmp_path):
    (tmp_path / "faces_224").mkdir()
    (tmp_path / "metadata.csv").write_text("videoname,label,original\nabc.mp4,REAL,\nxyz.mp4,FAKE,abc.mp4\n")
    with pytest.raises(DataError, match="2 image file"):
        load_samples(tmp_path)
    (tmp_path / "metadata.csv").write_text("videoname,label\nabc.mp4,REAL\n")
    with pytest.raises(DataError, match="original"):
        load_samples(tmp_path)


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="not a dataset"):
        load_samples(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load_samples(tmp_path / "absent")


def test_a_manifest_image_without_a_group_is_its_own_named_as_the_manifest_names_it(tmp_path, folder_dataset):
    import shutil

    from fakelens.data.split import split_by_group_hash

    sides = []
    for where in ("here", "there"):  # the same data imported into two places
        root = tmp_path / where / "import"
        shutil.copytree(folder_dataset, root)
        rows = [f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(root.rglob("*.png"))]
        (root / "manifest.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
        samples = load_samples(root / "manifest.csv")
        assert samples[0].path == str(root / "fake" / "0000.png") and samples[0].group == "fake/0000.png"
        sides.append(split_by_group_hash(samples, 0.2, 0.2, seed=0))
    assert sides[0] == sides[1] and len(set(sides[0])) == 3  # the hash split does not depend on where data lives
