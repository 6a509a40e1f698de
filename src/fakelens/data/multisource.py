"""Several training sources at once: each described by a small YAML, split by its own groups.

A source is a folder or manifest in any layout :func:`~fakelens.sources.load_samples`
reads, plus how to use it (``configs/data/*.yaml``)::

    name: lfw                       # shown in split.csv's source column and in reports
    path: ${FAKELENS_DATA:-~/fakelens-data}/crops/lfw
    layout: auto                    # auto | kaggle | folders | manifest
    labels: {Real: REAL, Fake: FAKE}  # folders layout: sub-folder name -> label (default real/ + fake/)
    group: auto                     # auto | layout | phash | file
    weight: 1.0                     # share of each epoch's draws, relative to the other sources
    real_share: 0.5                 # of those draws, the share that are its reals (the rest fakes)
    sbi: 0.5                        # share of the fakes drawn from this source that are self-blended reals
    train_fakes: true               # false: train on its reals only (its fakes stay in validation and test)
    hard: hard_reals.txt            # images to draw more often (keys inside the source's folder, one a line;
    hard_share: 0.3                 #   a relative path is read from the YAML's folder): this share of the draws of
                                    #   each class of the source goes to its listed images (0.3 when unset)

A pseudo-fake source has no images of its own: it turns another source's training
reals into fakes of one family (:mod:`fakelens.data.pseudofake`) on the fly, and
gets its own ``weight`` of the draws (half those reals, half their pseudo-fakes)::

    name: lfw-xray
    type: pseudo_fake
    family: xray                    # sbi | xray | region
    real_from: lfw                  # an image source listed in the same run
    weight: 1.0

Groups: ``layout`` keeps the layout's own groups (DFDC: the source video);
``phash`` also merges near-duplicate images (perceptual hash) into one group;
``file`` makes each image its own group; ``auto`` is ``layout`` for the Kaggle
layout and ``phash`` otherwise. Every source is then split on its own, so a
source's val and test parts hold none of its training groups, and the split of
a source does not depend on which other sources are trained beside it, with one
exception: an exact copy (pHash distance 0) of an image of an earlier source is
dropped from the later source (rvf10k and headshots share about 190 FFHQ photos),
so the same photo cannot be trained on in one source and tested on in another.
Only exact copies: for aligned faces, a few bits of pHash also pair different people.

A run continued from an earlier one (``--init-weights RUN``) inherits RUN's
sides: images are matched by their path inside their source's folder (the
``key`` column of ``split.csv``), so the earlier run's validation and test images
stay out of training even where the data was re-imported on another machine.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import DataError
from ..labels import FAKE, REAL
from ..sources import PSEUDO_FAKE_KIND, Sample, load_samples, parse_label
from ..utils.unionfind import UnionFind, near_duplicate_groups
from .dedup import phashes
from .split import keep_earlier_sides, sample_per_class, split_by

logger = logging.getLogger(__name__)

_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_path(text: str) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from the environment, then ``~``."""

    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1)) or m.group(2)
        if value is None:
            raise DataError(f"{text}: the environment variable {m.group(1)} is not set")
        return value

    return os.path.expanduser(_VAR.sub(sub, text))


class SourceSpec(BaseModel):
    """One training source and how to use it (validated: unknown keys and bad values are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    type: Literal["images", "pseudo_fake"] = "images"
    path: str | None = None  # an image source's folder or manifest
    family: Literal["sbi", "xray", "region"] | None = None  # a pseudo-fake source's family
    real_from: str | None = None  # the image source whose training reals a pseudo-fake source blends
    layout: Literal["auto", "kaggle", "folders", "manifest"] = "auto"
    labels: dict[str, Literal["REAL", "FAKE", "real", "fake"]] = Field(default_factory=dict)
    group: Literal["auto", "layout", "phash", "file"] = "auto"
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    # Above 0.5 the model sees more of this source's reals than of its fakes: for a source whose real faces a
    # detector tends to accuse (OpenForensics' sharp group-photo crops set the shipped FAKE band), without
    # drawing fewer of its fakes when ``weight`` is raised with it.
    real_share: float = Field(0.5, gt=0, lt=1, allow_inf_nan=False)
    sbi: float | None = Field(None, ge=0, le=1)
    # False: train on this source's reals only (validation and test keep its fakes), e.g. for a blends-only specialist
    train_fakes: bool = True
    # Hard examples: a file of keys (paths inside the source's folder), e.g. the training reals a detector scores
    # highest (tools/mine_hard_examples.py), and the share of each class's draws they get on top of their even share.
    hard: str | None = None
    hard_share: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _fields_of_the_type(self) -> "SourceSpec":
        if self.type == "images":
            if not self.path:
                raise ValueError("an image source needs a path")
            if self.family or self.real_from:
                raise ValueError("family and real_from are for sources of type pseudo_fake")
        else:
            if not self.family or not self.real_from:
                raise ValueError("a pseudo_fake source needs a family (sbi, xray or region) and real_from (an image source's name)")
            if self.path or self.sbi is not None or self.labels or not self.train_fakes or self.hard:
                raise ValueError(
                    "a pseudo_fake source has no path, labels, sbi, train_fakes or hard of its own: it blends real_from's reals"
                )
        if self.hard_share is not None and not self.hard:
            raise ValueError("hard_share needs hard (the file of the images to draw more often)")
        return self

    @property
    def is_pseudo_fake(self) -> bool:
        return self.type == "pseudo_fake"

    @classmethod
    def parse(cls, arg: str | os.PathLike) -> "SourceSpec":
        """A ``--data`` argument: a source YAML, or a dataset path (named after its folder)."""
        arg = str(arg)
        if arg.endswith((".yaml", ".yml")):
            import yaml

            try:
                raw = yaml.safe_load(Path(arg).read_text())
            except FileNotFoundError:
                raise DataError(f"{arg}: no such source config") from None
            except yaml.YAMLError as exc:
                from ..utils.yaml_text import yaml_error_line

                raise DataError(f"{arg}: not valid YAML: {yaml_error_line(exc)}") from None
            if not isinstance(raw, dict):
                raise DataError(f"{arg}: a source config is a mapping (name, path, layout, ...)")
            raw.setdefault("name", Path(arg).stem)
            if isinstance(raw.get("hard"), str):  # a hard-examples file beside the YAML is found from anywhere
                raw["hard"] = str(Path(arg).parent / expand_path(raw["hard"]))
            try:
                return cls(**raw)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
                raise DataError(f"{arg}: {problems}") from None
        return cls(name=re.sub(r"[^\w.-]", "_", Path(arg).name or "data"), path=arg)

    @property
    def resolved_path(self) -> Path:
        if self.path is None:
            raise DataError(f"source {self.name!r} is a pseudo_fake source: it has no images of its own")
        return Path(expand_path(self.path))


def image_sources(specs: list[SourceSpec]) -> list[SourceSpec]:
    """The sources with images on disk (pseudo-fake sources only blend theirs)."""
    return [s for s in specs if not s.is_pseudo_fake]


def check_pseudo_fake_sources(specs: list[SourceSpec]) -> None:
    """Each pseudo-fake source must take its reals from an image source of the same run."""
    images = {s.name for s in image_sources(specs)}
    for spec in specs:
        if spec.is_pseudo_fake and spec.real_from not in images:
            raise DataError(
                f"source {spec.name!r}: real_from {spec.real_from!r} is not an image source of this run "
                f"(image sources: {', '.join(sorted(images)) or 'none'})"
            )


def load_source(spec: SourceSpec, progress: bool = True) -> list[Sample]:
    """The source's samples, with ``source`` set and groups made unique to the source."""
    return _load_source_hashed(spec, progress)[0]


def _load_source_hashed(spec: SourceSpec, progress: bool) -> tuple[list[Sample], list[int | None] | None]:
    """:func:`load_source`, plus each sample's pHash where the group rule computed them (else None)."""
    path = spec.resolved_path
    if spec.labels:
        samples = _read_labelled_folders(path, spec.labels)
    else:
        samples = load_samples(path, require_both=False)
        if spec.layout != "auto":
            detected = "kaggle" if (path / "metadata.csv").is_file() else "manifest" if path.is_file() else "folders"
            if detected != spec.layout:
                raise DataError(f"{path}: source {spec.name!r} says layout {spec.layout} but it is a {detected} dataset")
    rule = spec.group if spec.group != "auto" else ("layout" if (path / "metadata.csv").is_file() else "phash")
    hashes = None
    if rule == "file":
        groups = [s.path for s in samples]
    elif rule == "phash":
        hashes = phashes([s.path for s in samples], progress)
        groups = _merge_near_duplicates(samples, hashes)
    else:
        groups = [s.group for s in samples]
    # A shared prefix keeps the groups' sort order, so a source alone splits exactly as before.
    return [Sample(s.path, s.label, f"{spec.name}:{g}", spec.name) for s, g in zip(samples, groups)], hashes


def _read_labelled_folders(root: Path, labels: dict[str, str]) -> list[Sample]:
    from ..imaging.imageio import is_image_path

    samples = []
    for folder_name, word in labels.items():
        folder = root / folder_name
        if not folder.is_dir():
            raise DataError(f"{root}: the labels mapping names {folder_name}/, which does not exist")
        label = parse_label(word, f"{root} labels")
        samples += [
            Sample(str(p), label, str(p.relative_to(root).with_suffix("")))
            for p in sorted(folder.rglob("*"))
            if p.is_file() and is_image_path(p)
        ]
    if not samples:
        raise DataError(f"{root}: no images in {', '.join(labels)}")
    return samples


def _merge_near_duplicates(samples: list[Sample], hashes: list[int | None]) -> list[str]:
    """The layout's groups, with groups that share a near-duplicate image merged (named by their first group)."""
    dup = near_duplicate_groups(hashes)
    # Union the layout groups with the duplicate groups: images linked by either end up together.
    sets = UnionFind()
    first_of_dup: dict[int, str] = {}
    for s, d in zip(samples, dup):
        sets.union(first_of_dup.setdefault(d, s.group), s.group)
    return [sets.find(s.group) for s in samples]


def source_root(spec: SourceSpec) -> Path:
    """The folder a source's images are named from (a manifest's folder)."""
    path = spec.resolved_path
    return path if path.is_dir() else path.parent


def _relative(path: str, root: Path | None) -> str:
    if root is None:
        return path
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else Path(rel).as_posix()


def sample_keys(samples: list[Sample], specs: list[SourceSpec]) -> list[str]:
    """Each sample's path inside its source's folder: the name the same image has on any machine."""
    roots = {spec.name: source_root(spec) for spec in image_sources(specs)}
    return [_relative(s.path, roots.get(s.source)) for s in samples]


def read_earlier_sides(split_csv: str | os.PathLike, specs: list[SourceSpec]) -> dict[tuple[str, str], str]:
    """``(source, key) -> side`` from an earlier run's ``split.csv``.

    A file from before the ``key`` column is matched by its paths, which holds
    on the machine that wrote it (the paths are made relative to these sources' folders).
    """
    roots = {spec.name: source_root(spec) for spec in image_sources(specs)}
    try:
        stat = os.stat(split_csv)
        rows = _split_rows(os.path.abspath(split_csv), stat.st_mtime_ns, stat.st_size)
    except (OSError, KeyError, csv.Error) as exc:
        raise DataError(f"{split_csv}: not a readable split.csv ({exc})") from None
    return {(source, key or _relative(path, roots.get(source))): side for source, key, path, side in rows}


@functools.lru_cache(maxsize=4)
def _split_rows(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, str, str, str], ...]:
    """A split file's rows as (source, key, path, split), read once per version of the file: a benchmark or a
    calibration asks for one source's side at a time, and the bundled split has some 60,000 rows."""
    with _open_text(path) as fh:
        return tuple(
            (row.get("source") or "", row.get("key") or "", "" if row.get("key") else row["path"], row["split"])
            for row in csv.DictReader(fh)
        )


def on_side(samples: list[Sample], spec: SourceSpec, split_csv: str | os.PathLike, side: str) -> list[Sample]:
    """The samples of source ``spec`` that ``split_csv`` (a run's split.csv or a bundled detector's split.csv.gz) puts on ``side``.

    Matched by each image's key inside its source, so it holds on any machine.
    """
    sides = read_earlier_sides(split_csv, [spec])
    return [s for s, key in zip(samples, sample_keys(samples, [spec])) if sides.get((spec.name, key)) == side]


def source_side(spec: SourceSpec, split_csv: str | os.PathLike, side: str) -> list[Sample]:
    """The images of source ``spec`` on this machine that ``split_csv`` puts on ``side``; [] when its data is absent.

    With a bundled detector's ``split.csv.gz`` (sides by key, no paths) and the sources its ``detector.json`` lists
    (``info.trained_on``), this finds its validation or test faces wherever the sources were imported.
    """
    if spec.is_pseudo_fake or not spec.resolved_path.exists():
        return []
    samples = [Sample(s.path, s.label, s.group, spec.name) for s in load_samples(spec.resolved_path, require_both=False)]
    return on_side(samples, spec, split_csv, side)


def _open_text(path: str | os.PathLike):
    if str(path).endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return open(path, newline="", encoding="utf-8")


def split_sources(
    specs: list[SourceSpec],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    per_class: int | None = None,
    progress: bool = True,
    method: str = "hash",
    earlier: dict[tuple[str, str], str] | None = None,
) -> tuple[list[Sample], list[str]]:
    """All sources' samples and their split (train/val/test), each source split by its own groups.

    ``method`` puts groups on sides (see :mod:`fakelens.data.split`);
    ``earlier`` (:func:`read_earlier_sides`) moves the groups an earlier run saw
    to that run's sides. ``per_class`` draws at most that many images of each
    class from each source's training part (val and test are kept whole, so runs compare).
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise DataError(f"two sources share a name: {', '.join(n for n, k in Counter(names).items() if k > 1)}")
    check_pseudo_fake_sources(specs)
    samples, splits = [], []
    hashed_in: dict[int, str] = {}  # pHash -> the source that has it
    for spec in image_sources(specs):
        own, hashes = _load_source_hashed(spec, progress)
        if hashes is not None:
            keep = [h is None or h not in hashed_in for h in hashes]
            if not all(keep):
                dropped = Counter(hashed_in[h] for h, k in zip(hashes, keep) if not k)
                logger.info(
                    "%s: dropped %d exact copies of images in %s",
                    spec.name,
                    len(keep) - sum(keep),
                    ", ".join(f"{n} ({c})" for n, c in dropped.items()),
                )
            for h, k in zip(hashes, keep):
                if k and h is not None:
                    hashed_in.setdefault(h, spec.name)
            own = [s for s, k in zip(own, keep) if k]
        own_splits = split_by(method, own, val_fraction, test_fraction, seed)
        if earlier:
            keys = [(spec.name, k) for k in sample_keys(own, [spec])]
            fresh = own_splits
            own_splits = keep_earlier_sides(own, own_splits, keys, earlier)
            logger.info(
                "%s: %d of %d images were in the earlier split; %d keep a side the split alone would not give them",
                spec.name,
                sum(k in earlier for k in keys),
                len(own),
                sum(a != b for a, b in zip(fresh, own_splits)),
            )
        if per_class:
            train = [s for s, sp in zip(own, own_splits) if sp == "train"]
            kept = {s.path for s in sample_per_class(train, per_class, seed)}
            pairs = [(s, sp) for s, sp in zip(own, own_splits) if sp != "train" or s.path in kept]
            own, own_splits = [s for s, _ in pairs], [sp for _, sp in pairs]
        samples += own
        splits += own_splits
    counts = Counter(s.label for s in samples)
    if not counts[REAL] or not counts[FAKE]:
        missing = "REAL" if not counts[REAL] else "FAKE"
        raise DataError(f"the sources together have no {missing} images; both classes are needed")
    return samples, splits


def training_draws(train: list[Sample], specs: list[SourceSpec], default_sbi: float = 0.0) -> tuple[list[Sample], np.ndarray]:
    """The training items (stored images plus self-blended reals) and the probability of drawing each.

    Each source gets ``weight`` of every epoch's draws (relative to the others):
    ``real_share`` (by default half) to its reals and the rest to its fakes, and of the fakes a share ``sbi`` are
    self-blended reals (all of them for a source without stored fakes; a source
    of reals only gets self-blended fakes unless its ``sbi`` is set to 0).
    A pseudo-fake source's fakes are ``real_from``'s training reals of kind
    ``pf:<family>`` (:class:`~fakelens.data.pseudofake.PseudoFakeMaker`), its reals
    (``real_share``) those reals as they are, so every source is balanced on its own
    unless its ``real_share`` says otherwise.
    """
    check_pseudo_fake_sources(specs)
    cells: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in train:
        cells[(s.source, "real" if s.label == REAL else "fake")].append(s)
    present = {s.source for s in train}
    used = [spec for spec in specs if (spec.real_from if spec.is_pseudo_fake else spec.name) in present]
    total = sum(spec.weight for spec in used)
    items: list[Sample] = []
    weights: list[float] = []
    for spec in used:
        share = spec.weight / total
        if spec.is_pseudo_fake:
            reals = cells[(spec.real_from, "real")]
            blends = [Sample(s.path, FAKE, s.group, spec.name, PSEUDO_FAKE_KIND + spec.family) for s in reals]
            parts = {"real": (reals, spec.real_share), "pseudo": (blends, 1 - spec.real_share)}
        else:
            reals, fakes = cells[(spec.name, "real")], cells[(spec.name, "fake")] if spec.train_fakes else []
            # A source of real photos only is paired with self-blended fakes unless its YAML says sbi: 0.
            sbi = spec.sbi if spec.sbi is not None else (default_sbi if fakes else 1.0)
            blends = [Sample(s.path, FAKE, s.group, s.source, "sbi") for s in reals] if sbi > 0 else []
            fake_share = 1 - spec.real_share
            parts = {
                "real": (reals, spec.real_share),
                "fake": (fakes, fake_share * (1 - sbi) if blends else fake_share),
                "sbi": (blends, fake_share * sbi if fakes else fake_share),
            }
        live = {k: v for k, v in parts.items() if v[0] and v[1] > 0}
        norm = sum(p for _, p in live.values())
        hard = _hard_keys(spec) if spec.hard else frozenset()
        for kind, (members, p) in live.items():
            items += members
            within = _even_or_hard(members, hard if kind in ("real", "fake") else frozenset(), spec)
            weights += list(share * p / norm * within)
    w = np.asarray(weights, dtype=np.float64)
    return items, w / w.sum()


def _hard_keys(spec: SourceSpec) -> frozenset[str]:
    """The keys listed in a source's ``hard`` file (blank lines and ``#`` comments skipped)."""
    try:
        lines = Path(expand_path(spec.hard)).read_text().splitlines()
    except OSError as exc:
        raise DataError(f"source {spec.name!r}: its hard-examples file is unreadable ({exc})") from None
    return frozenset(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def source_record(specs: list[SourceSpec]) -> list[dict]:
    """What a run's draws depend on in its source YAMLs: each spec as parsed, and a digest of its ``hard`` file's keys.

    A run keeps this as ``sources.json``, since its ``config.json`` names the YAMLs but holds none of what they say:
    a YAML or hard-examples file edited under a run that is later resumed would change its draws without a word.
    """
    records = []
    for spec in specs:
        record = spec.model_dump(mode="json")
        if spec.hard:
            record["hard_keys_sha256"] = hashlib.sha256("\n".join(sorted(_hard_keys(spec))).encode()).hexdigest()
        records.append(record)
    return records


def source_record_changes(before: list[dict], now: list[dict]) -> list[str]:
    """How ``now`` differs from ``before`` (two :func:`source_record` lists): ``"source: field"`` per change."""
    names = lambda records: [r.get("name") for r in records]  # noqa: E731
    if names(before) != names(now):
        return [f"sources {', '.join(map(str, names(before)))} are now {', '.join(map(str, names(now)))}"]
    changes = []
    for old, new in zip(before, now):
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                what = "the keys of its hard-examples file" if field == "hard_keys_sha256" else field
                changes.append(f"{old.get('name')}: {what}")
    return changes


def _even_or_hard(members: list[Sample], hard: frozenset[str], spec: SourceSpec) -> np.ndarray:
    """Each member's share of its cell's draws: even, or ``hard_share`` of them spread over the listed members."""
    even = np.full(len(members), 1.0 / len(members))
    if not hard:
        return even
    root = source_root(spec)
    listed = np.array([_relative(s.path, root) in hard for s in members])
    if not listed.any():
        return even
    h = spec.hard_share if spec.hard_share is not None else 0.3
    return (1 - h) * even + h * listed / listed.sum()


def pseudo_fake_donors(train: list[Sample], specs: list[SourceSpec]) -> dict[str, list[Sample]]:
    """Each pseudo-fake source's donor faces: the training reals of its ``real_from`` source."""
    return {spec.name: [s for s in train if s.source == spec.real_from and s.label == REAL] for spec in specs if spec.is_pseudo_fake}
