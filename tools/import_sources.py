"""Import public face sets as plain, uniformly encoded image folders (maintainers' tool).

    python tools/import_sources.py SOURCE --git-dir DIR [--commit C] --out /work/data/raw
    python tools/import_sources.py SOURCE --src CHECKOUT_DIR --out /work/data/raw
    python tools/import_sources.py dups --out /work/data/raw     # near-duplicates within/across sources

Get each source yourself by cloning its public GitHub repository (a bare clone, ``git clone --bare``,
works too; pass it as ``--git-dir``).  The commit below is the one the import was made from and is the
default with ``--git-dir``; with ``--src`` check that commit out first (``git checkout COMMIT``).

  name           repository @ commit                                      what
  lfw            jkruse8848/imageStore @ e4a9f71                          LFW, real only, lfw/<person>/
  openforensics  TaherPanbiharwala/Deepfake-Detection @ a9942d8           OpenForensics crops, Dataset/{Train,Validation}/{Real,Fake}
  rvf10k         ApolloPhantom/Real_vs_Fake_Faces_with_CNNs @ 1051cba     FFHQ vs StyleGAN (images were deleted later: use this OLD commit)
  headshots      bhunakit/HeadshotClassification @ d9c8a26                FFHQ vs thispersondoesnotexist; data/, data_crossval/
  sdfd           gebaltso/SDFD @ 3b44460                                  Stable Diffusion 2.1 faces, fake only
  cvface         chrisiu/CVFaceAnalysis @ ab524ac                         hand-made Photoshop composites
  cfd            Isaac-Crane/opacity-cpt @ 295d3da                        Chicago Face Database portraits, race + gender in the name (audit only)
  fairface540    thlaiquid-ai/demographic-test-images @ 3225e93           540 FairFace photos, age + gender (audit only)
  appa           DannyFGitHub/age_faces @ 3ad4ccc                         APPA-REAL face crops, real age (audit only)

The OpenForensics repository marks ``Dataset/*`` as Git LFS; with ``git lfs`` installed a clone
fetches the images, without it you get pointer files (which this tool skips and counts).

Output: ``OUT/<name>/{real,fake}/<stem>.jpg`` and ``OUT/<name>/manifest.csv`` with columns
``path,label,group,orig_split`` (path relative to ``OUT/<name>``; label REAL/FAKE; group: LFW's person,
OpenForensics' near-duplicate cluster, else empty; orig_split: the source's own split folder, else empty).

Every image of every source is re-encoded the same way, so no source and no class can be told apart
by its file format (HeadshotClassification: every real is PNG, every fake JPEG): decoded with Pillow,
EXIF orientation applied, converted to RGB, downscaled (Lanczos) only if its longer side exceeds 768
px, saved as JPEG quality 95 with 4:4:4 chroma and no metadata.  Unreadable files are skipped and
counted.  None of these sources states a licence: research use only.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

MAX_SIDE = 768
JPEG_OPTS = dict(format="JPEG", quality=95, subsampling=0)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
DEFAULT_COMMIT = {
    "lfw": "e4a9f71", "openforensics": "a9942d8", "rvf10k": "1051cba",
    "headshots": "d9c8a26", "sdfd": "3b44460", "cvface": "ab524ac",
    "cfd": "295d3da", "fairface540": "3225e93", "appa": "3ad4ccc",
}
DUP_DISTANCE = 4  # pHash bits, as in fakelens.data.dedup


# --------------------------------------------------------------------------- reading a source

class Repo:
    """Files of a bare git dir at one commit (``git ls-tree`` + one ``git cat-file --batch``),
    or of a plain folder (a checkout)."""

    def __init__(self, git_dir: str | None = None, commit: str | None = None, folder: str | None = None):
        self.git_dir, self.folder, self._cat = git_dir, folder, None
        if git_dir:
            self.commit = self._git("rev-parse", "--verify", f"{commit or 'HEAD'}^{{commit}}").strip()
            out = self._git("ls-tree", "-r", "-z", self.commit)
            self._blobs = {}
            for entry in out.split("\0"):
                if entry:
                    meta, path = entry.split("\t", 1)
                    _mode, kind, sha = meta.split()
                    if kind == "blob":
                        self._blobs[path] = sha

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.git_dir}", *args], check=True,
                              capture_output=True, text=True).stdout

    def files(self, prefix: str) -> list[str]:
        """Sorted image paths (POSIX, relative to the repo root) under ``prefix``."""
        prefix = prefix.rstrip("/") + "/"
        if self.git_dir:
            paths = [p for p in self._blobs if p.startswith(prefix)]
        else:
            root = Path(self.folder)
            paths = [p.relative_to(root).as_posix() for p in (root / prefix).rglob("*") if p.is_file()]
        return sorted(p for p in paths if PurePosixPath(p).suffix.lower() in IMAGE_EXTS)

    def read(self, path: str) -> bytes:
        if not self.git_dir:
            return (Path(self.folder) / path).read_bytes()
        if self._cat is None:
            self._cat = subprocess.Popen(["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._cat.stdin.write(self._blobs[path].encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()
        if header[-1] == b"missing":  # a partial snapshot (large files absent)
            raise FileNotFoundError(path)
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)  # the newline after the content
        return data

    def close(self) -> None:
        if self._cat is not None:
            self._cat.stdin.close()
            self._cat.wait()


# --------------------------------------------------------------------------- images

def decode(data: bytes) -> Image.Image:
    """Pillow-decoded RGB image, upright, longer side at most MAX_SIDE (raises if unreadable)."""
    im = Image.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im).convert("RGB")
    w, h = im.size
    if max(w, h) > MAX_SIDE:
        s = MAX_SIDE / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return im


_N = 32
_DCT = np.cos(np.pi * np.outer(np.arange(_N), 2 * np.arange(_N) + 1) / (2 * _N))


def phash(im: Image.Image) -> int:
    """64-bit perceptual hash, the same bits as ``imagehash.phash``."""
    g = np.asarray(im.convert("L").resize((_N, _N), Image.LANCZOS), dtype=np.float64)
    low = (_DCT @ g @ _DCT.T)[:8, :8]
    bits = (low > np.median(low)).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def near_dup_pairs(hashes: np.ndarray, max_distance: int = DUP_DISTANCE, chunk: int = 256):
    """(i, j, distance) with i < j for every pair of uint64 hashes within ``max_distance`` bits."""
    out = []
    for a in range(0, len(hashes), chunk):
        d = np.bitwise_count(hashes[a:a + chunk, None] ^ hashes[None, :])
        ii, jj = np.nonzero(d <= max_distance)
        keep = jj > ii + a
        out += [(int(i + a), int(j), int(d[i, j])) for i, j in zip(ii[keep], jj[keep])]
    return out


def clusters(n: int, pairs) -> list[int]:
    """Union-find: a root index per item, items linked by ``pairs`` share it."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    return [root(i) for i in range(n)]


# --------------------------------------------------------------------------- writing

class Writer:
    """Writes OUT/<name>/{real,fake}/*.jpg and the manifest; counts what it skipped."""

    def __init__(self, out: Path, name: str, repo: Repo, want_hashes: bool = False,
                 per_class: int | None = None, seed: int = 0, grow: bool = False):
        self.dir, self.repo, self.name = out / name, repo, name
        self.per_class, self.seed, self.grow = per_class, seed, grow
        for sub in ("real", "fake"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
            (self.dir / sub).mkdir(parents=True)
        self.rows, self.hashes, self.skipped, self.taken = [], [], [], set()
        self.want_hashes = want_hashes

    def add_all(self, items, drop_exact_duplicates: bool = False):
        """items: (repo_path, label 'REAL'/'FAKE', group, orig_split[, stem]); the stem defaults to the file's.
        ``drop_exact_duplicates``: a file whose bytes repeat an earlier item's is skipped and counted."""
        seen: set[bytes] = set()
        for path, label, group, split, *stem in tqdm(items, desc=self.name, unit="img", mininterval=5):
            try:
                data = self.repo.read(path)
                im = decode(data)
            except Exception as e:  # noqa: BLE001 - any unreadable file is skipped and counted
                self.skipped.append((path, f"{type(e).__name__}: {e}"))
                continue
            if drop_exact_duplicates:
                digest = hashlib.sha256(data).digest()
                if digest in seen:
                    self.skipped.append((path, "exact duplicate of an earlier file"))
                    continue
                seen.add(digest)
            sub = "real" if label == "REAL" else "fake"
            stem = stem[0] if stem else PurePosixPath(path).stem
            rel = f"{sub}/{stem}.jpg"
            k = 1
            while rel.lower() in self.taken:  # same stem in another split / folder
                rel = f"{sub}/{stem}__{split or 'dup'}{'' if k == 1 else k}.jpg"
                k += 1
            self.taken.add(rel.lower())
            im.save(self.dir / rel, **JPEG_OPTS)
            self.rows.append([rel, label, group, split])
            if self.want_hashes:
                self.hashes.append(phash(im))

    def finish(self) -> None:
        with open(self.dir / "manifest.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "label", "group", "orig_split"])
            w.writerows(sorted(self.rows))
        for sub in ("real", "fake"):  # no empty class folder for a one-class source
            if not any((self.dir / sub).iterdir()):
                (self.dir / sub).rmdir()
        counts = Counter(r[1] for r in self.rows)
        print(f"{self.name}: REAL {counts['REAL']}  FAKE {counts['FAKE']}  skipped {len(self.skipped)}"
              f"  -> {self.dir}  (commit {self.repo.commit if self.repo.git_dir else 'checkout'})")
        for path, why in self.skipped[:20]:
            print(f"  skipped {path}: {why}")


# --------------------------------------------------------------------------- one function per source

def per_class_subset(items: list, per_class: int | None, seed: int, grow: bool = False) -> list:
    """At most ``per_class`` items of each label, drawn with a seeded generator (all of them when None);
    the draw depends only on the sorted repository paths, so it is the same on every machine.

    ``grow``: every item, the drawn ones first and in the same order. The writer names files in the order it
    gets them (a stem taken already gets a suffix), so the drawn images keep the names, and so the keys, that a
    plain ``per_class`` import gave them: runs and split files made on the subset still find their sides."""
    if not per_class:
        return items
    rng = np.random.default_rng(seed)
    chosen = []
    for label in ("REAL", "FAKE"):
        of_label = sorted(i for i in items if i[1] == label)
        keep = rng.permutation(len(of_label))[:per_class]
        chosen += [of_label[k] for k in sorted(keep)]
    if grow:
        drawn = set(chosen)
        chosen += sorted(i for i in items if i not in drawn)
    return chosen


def import_lfw(repo: Repo, w: Writer) -> None:
    """jkruse8848/imageStore: lfw/<Person_Name>/<Person_Name>_0001.jpg; group = person."""
    w.add_all([(p, "REAL", PurePosixPath(p).parent.name, "") for p in repo.files("lfw")])


def import_openforensics(repo: Repo, w: Writer) -> None:
    """TaherPanbiharwala/Deepfake-Detection: Dataset/{Train,Validation}/{Real,Fake}.  The same
    stems appear in Train and Validation, copies cross the splits and fakes can be edited copies of
    reals: group = near-duplicate (pHash) cluster, empty for an image with no near-duplicate."""
    items = []
    for split in ("Train", "Validation"):
        for cls in ("Real", "Fake"):
            items += [(p, cls.upper(), "", split.lower()) for p in repo.files(f"Dataset/{split}/{cls}")]
    w.want_hashes = True
    w.add_all(per_class_subset(items, w.per_class, w.seed, w.grow))
    h = np.array(w.hashes, dtype=np.uint64)
    root = clusters(len(h), near_dup_pairs(h))
    size = Counter(root)
    ids = {r: f"dup{k:05d}" for k, r in enumerate(sorted(r for r, c in size.items() if c > 1))}
    for row, r in zip(w.rows, root):
        row[2] = ids.get(r, "")
    print(f"openforensics: {sum(c for c in size.values() if c > 1)} images in {len(ids)} "
          f"near-duplicate groups (pHash <= {DUP_DISTANCE} bits)")


def import_rvf10k(repo: Repo, w: Writer) -> None:
    """ApolloPhantom/Real_vs_Fake_Faces_with_CNNs @ 1051cba:
    RealvsFake_Face/rvf10k/{train,valid}/{real,fake}/*.jpg (the CSVs there list the same files)."""
    items = []
    for split in ("train", "valid"):
        for cls in ("real", "fake"):
            items += [(p, cls.upper(), "", split) for p in repo.files(f"RealvsFake_Face/rvf10k/{split}/{cls}")]
    w.add_all(items)


def import_headshots(repo: Repo, w: Writer) -> None:
    """bhunakit/HeadshotClassification: {data,data_crossval}/{real,fake}.  Format trap: the
    data_crossval reals are PNG and every fake JPEG; the re-encode removes it.  Stems repeat
    across the two folders (f0.jpg in both), so the second gets a __data_crossval suffix."""
    items = []
    for split in ("data", "data_crossval"):
        for cls in ("real", "fake"):
            items += [(p, cls.upper(), "", split) for p in repo.files(f"{split}/{cls}")]
    w.add_all(items)


def import_sdfd(repo: Repo, w: Writer) -> None:
    """gebaltso/SDFD: allImages/*.jpg, 1,000 Stable Diffusion 2.1 faces (prompts in finalPrompts.csv)."""
    w.add_all([(p, "FAKE", "", "") for p in repo.files("allImages")])


def import_cvface(repo: Repo, w: Writer) -> None:
    """chrisiu/CVFaceAnalysis: real_and_fake_face/training_{real,fake}/*.jpg (the *_example
    folders are a 10+10 subset and are left out)."""
    w.add_all([(p, "REAL", "", "") for p in repo.files("real_and_fake_face/training_real")]
              + [(p, "FAKE", "", "") for p in repo.files("real_and_fake_face/training_fake")])


def import_cfd(repo: Repo, w: Writer) -> None:
    """Isaac-Crane/opacity-cpt: images/{female,male}/CFD-<race><gender>-<id>-<n>-<expr>.jpg, the Chicago
    Face Database (one studio portrait per person; race A/B/I/L/M/W = Asian, Black, Indian, Latino,
    multiracial, White; gender F/M).  Real only; kept for the per-group audit (never trained on).
    group = the person (CFD-<race><gender>-<id>)."""
    w.add_all([(p, "REAL", "-".join(PurePosixPath(p).stem.split("-")[:3]), "")
               for p in repo.files("images/female") + repo.files("images/male")
               if PurePosixPath(p).name.startswith("CFD-")])


def import_fairface540(repo: Repo, w: Writer) -> None:
    """thlaiquid-ai/demographic-test-images: fairface/fairface_NNNN.jpg + fairface/ground_truth.json,
    30 FairFace photos per age band x gender.  Real only, for the per-group audit (never trained on).
    The labels go into the file name (fairface_0001_Male_50-59.jpg) so a benchmark's file-name rule
    reads them; the few ig_* files beside them are not FairFace and are left out."""
    import json

    truth = json.loads(repo.read("fairface/ground_truth.json"))
    items = []
    for row in truth:
        age = row["age"].replace("+", "plus")
        items.append((f"fairface/{row['filename']}", "REAL", row["id"], "", f"{row['id']}_{row['gender']}_{age}"))
    w.add_all(items)


#: FairFace's age groups, used to bin an exact age (upper bounds, inclusive; above the last: 70plus).
AGE_GROUPS = [(2, "0-2"), (9, "3-9"), (19, "10-19"), (29, "20-29"), (39, "30-39"), (49, "40-49"), (59, "50-59"), (69, "60-69")]


def age_group(age: int) -> str:
    """An exact age in years -> FairFace's group name (``70plus`` for 70 and over)."""
    if age < 0:
        raise ValueError(f"negative age {age}")
    return next((name for top, name in AGE_GROUPS if age <= top), "70plus")


def import_appa(repo: Repo, w: Writer) -> None:
    """DannyFGitHub/age_faces: APPA-REAL's face crops (ChaLearn LAP 2016), {train,val,test}/NNNNNN.jpg with
    {split}_labels.csv (``NNNNNN.jpg,AGE``, no header; the person's real age).  Real only, for the per-age-group
    audit (never trained on).  The three splits are pooled (no single one has 200 faces in every age group); a
    file whose bytes repeat an earlier one is left out (one such pair is known); the age group goes into the
    file name (appa_000123_20-29.jpg) so a benchmark's file-name rule reads it."""
    items = []
    for split in ("train", "val", "test"):
        for line in repo.read(f"{split}_labels.csv").decode().splitlines():
            if not line.strip():
                continue
            name, age = line.strip().split(",")
            stem = PurePosixPath(name).stem
            items.append((f"{split}/{name}", "REAL", stem, split, f"appa_{stem}_{age_group(int(age))}"))
    w.add_all(items, drop_exact_duplicates=True)


IMPORTERS = {
    "lfw": import_lfw, "openforensics": import_openforensics, "rvf10k": import_rvf10k,
    "headshots": import_headshots, "sdfd": import_sdfd, "cvface": import_cvface,
    "cfd": import_cfd, "fairface540": import_fairface540, "appa": import_appa,
}


# --------------------------------------------------------------------------- near-duplicates across sources

def find_dups(out: Path, max_distance: int) -> None:
    """pHash every imported image; write OUT/near_duplicates.csv (pairs within ``max_distance``
    bits) and print counts per pair of sources."""
    paths, where = [], []
    for name in IMPORTERS:
        man = out / name / "manifest.csv"
        if man.is_file():
            with open(man, newline="") as f:
                for row in csv.DictReader(f):
                    paths.append(out / name / row["path"])
                    where.append((name, row["path"], row["label"]))
    hashes = np.array([phash(Image.open(p)) for p in tqdm(paths, desc="phash", mininterval=5)], dtype=np.uint64)
    pairs = near_dup_pairs(hashes, max_distance)
    counts = Counter()
    with open(out / "near_duplicates.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["source_a", "path_a", "label_a", "source_b", "path_b", "label_b", "distance"])
        for i, j, d in pairs:
            wr.writerow([*where[i], *where[j], d])
            counts[(where[i][0], where[j][0], "same label" if where[i][2] == where[j][2] else "REAL/FAKE")] += 1
    for (a, b, kind), c in sorted(counts.items()):
        print(f"{a:>13} ~ {b:<13} {kind:<10} {c} pairs")
    print(f"{len(pairs)} pairs within {max_distance} bits -> {out / 'near_duplicates.csv'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", choices=[*IMPORTERS, "dups"])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--git-dir", help="a (bare) git dir of the source's repository")
    src.add_argument("--src", help="a checkout folder of the source's repository, at the right commit")
    ap.add_argument("--commit", help="commit to read with --git-dir (default: the one in this docstring)")
    ap.add_argument("--out", required=True, type=Path, help="data folder, outside the repository")
    ap.add_argument("--max-distance", type=int, default=DUP_DISTANCE, help="pHash bits, for dups")
    ap.add_argument("--per-class", type=int, help="openforensics: a seeded subset of at most N images per class "
                    "(configs/data/openforensics.yaml uses 4000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --per-class draw")
    ap.add_argument("--grow", action="store_true", help="with --per-class N: every image, the N a class of that "
                    "draw first, so that they keep the names (keys) a --per-class N import gave them")
    a = ap.parse_args(argv)
    if a.source == "dups":
        find_dups(a.out, a.max_distance)
        return 0
    if not (a.git_dir or a.src):
        ap.error("give --git-dir or --src")
    if a.per_class and a.source != "openforensics":
        ap.error("--per-class is for openforensics only (the other sources are imported whole)")
    if a.grow and not a.per_class:
        ap.error("--grow keeps the names of a --per-class N import: give that N")
    repo = Repo(git_dir=a.git_dir, commit=a.commit or DEFAULT_COMMIT[a.source], folder=a.src)
    try:
        w = Writer(a.out, a.source, repo, per_class=a.per_class, seed=a.seed, grow=a.grow)
        IMPORTERS[a.source](repo, w)
        w.finish()
    finally:
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
