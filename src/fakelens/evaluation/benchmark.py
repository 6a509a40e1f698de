"""Cross-dataset benchmark: several detectors on several datasets, with the figures people care about.

``fakelens benchmark BENCH.yaml RUN...`` reads a small YAML::

    datasets:
      - name: dfdc-test                 # the test part of a source in a run's split.csv
        data: configs/data/dfdc.yaml
        split: test                     # needs runs that share the split (read from the first run that has one; the bundled detector carries its own)
      - name: stylegan2-vs-ffhq         # a whole held-out source
        data: configs/data/headshots.yaml
      - name: sd-vs-ffhq                # several sources combined, each filtered to one class (and split)
        data:
          - {source: configs/data/sdfd.yaml}
          - {source: configs/data/headshots.yaml, only: real, split: test}
      - name: in-the-wild
        data: my/manifest.csv
        groups: {column: group}          # per-group false-positive rates (a manifest column) ...
        # groups: {pattern: '^(?P<group>[a-z]+)_'}   # ... or a regular expression on the file name

and writes, per dataset and detector (plus two rows that test the data itself, below): n, accuracy and ROC-AUC (each with a 95%
bootstrap interval that draws a source's groups whole), the share of
real faces called FAKE and of fakes caught (at the binary threshold and at the
FAKE verdict band), the share UNCERTAIN, ECE, and the false-positive rate per
group. Results go to ``benchmark.md``, ``benchmark.csv``, ``benchmark.json``
and ``benchmark.png``, and every image's score to ``scores.csv``; per-group rates, each with its number of real faces and a
95% Wilson interval (a group of 50 faces cannot show a 3-point gap), go to
``groups.csv`` and a second table in ``benchmark.md``. With several detectors,
each one after the first is compared with the first on the same images
(accuracy and ROC-AUC differences with paired bootstrap intervals: an interval
that excludes 0 is a difference, even where the two rows' own intervals
overlap) in ``paired.csv`` and a third table.

Cue hygiene: a detector may have learnt image size or compression instead of
faces. Every dataset therefore also gets

* a **size-only baseline** (detector ``size-only``): a logistic regression on
  the image's pixel area alone, fitted and scored across groups (out-of-fold,
  5 group folds), reported as ROC-AUC. Near 0.5: size says nothing about the
  label here; near 1: a detector can score well on this dataset by reading size;
* a **size-and-quality-matched copy** (dataset ``NAME (matched)``): every
  image of both classes scaled (aspect kept) so its longer side is the median
  of the real images' longer sides, and saved at JPEG quality 90, then scored
  by every detector (and by the size-only baseline, which should fall to 0.5).
  ``matched: false`` in a dataset's entry skips it (it doubles the scoring time).
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..data.multisource import SourceSpec, load_source, on_side
from ..errors import ConfigError, DataError
from ..labels import REAL
from ..sources import Sample
from ..stats.metrics import bootstrap_intervals, compute_metrics, paired_bootstrap_intervals, verdict_metrics
from ..utils.atomic import write_csv, write_json, write_text
from ..utils.markdown import markdown_text
from ..utils.rundir import RunDir


class DataPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    only: Literal["real", "fake"] | None = None
    # this part's split in the runs' split.csv (default: the dataset's): a held-out source of fakes
    # can be paired with the test reals of a trained source
    split: Literal["train", "val", "test"] | None = None


class GroupRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    pattern: str | None = None


class BenchDataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    data: str | list[DataPart | str]
    split: Literal["train", "val", "test"] | None = None
    groups: GroupRule | None = None
    max_images: int | None = Field(None, ge=1)
    matched: bool = True  # also score the size-and-quality-matched copy


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    datasets: list[BenchDataset] = Field(min_length=1)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "BenchConfig":
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
            return cls(**(raw or {}))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such benchmark file") from None
        except yaml.YAMLError as exc:
            from ..utils.yaml_text import yaml_error_line

            raise ConfigError(f"{path}: not valid YAML: {yaml_error_line(exc)}") from None
        except (TypeError, ValidationError) as exc:
            problems = (
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            raise ConfigError(f"{path}: {problems}") from None


GROUP_COLUMNS = ["dataset", "detector", "group", "n_real", "real_called_fake", "ci_low", "ci_high"]

COLUMNS = [
    "dataset",
    "detector",
    "n",
    "n_real",
    "n_fake",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "roc_auc",
    "roc_auc_ci_low",
    "roc_auc_ci_high",
    "real_called_fake",
    "fakes_caught",
    "real_called_fake_verdict",
    "fakes_caught_verdict",
    "uncertain",
    "ece",
    "worst_group_fpr",
    "group_fpr_gap",
]


def dataset_samples(ds: BenchDataset, split_csv: Path | None) -> list[Sample]:
    """The dataset's samples (a group label per sample in ``Sample.group`` when a group rule is given)."""
    parts = (
        [DataPart(source=ds.data)] if isinstance(ds.data, str) else [p if isinstance(p, DataPart) else DataPart(source=p) for p in ds.data]
    )
    samples: list[Sample] = []
    for part in parts:
        spec = SourceSpec.parse(part.source)
        spec = spec.model_copy(update={"group": "file"} if spec.group == "phash" else {})  # no pHash pass: groups are not split here
        own = load_source(spec, progress=False)
        split = part.split or ds.split
        if split:
            if split_csv is None or not split_csv.is_file():
                raise ConfigError(f"dataset {ds.name}: 'split: {split}' needs runs with a split.csv")
            own = on_side(own, spec, split_csv, split)
        if part.only:
            own = [s for s in own if (s.label == REAL) == (part.only == "real")]
        samples += own
    if ds.groups is not None:
        samples = [Sample(s.path, s.label, _group_of(s, ds.groups), s.source) for s in samples]
    if ds.max_images and len(samples) > ds.max_images:
        keep = np.random.default_rng(0).choice(len(samples), ds.max_images, replace=False)
        samples = [samples[i] for i in sorted(keep)]
    if not samples:
        raise DataError(f"dataset {ds.name}: no images")
    return samples


def _group_of(sample: Sample, rule: GroupRule) -> str:
    if rule.pattern:
        m = re.search(rule.pattern, Path(sample.path).name)
        return (m.group("group") if m and "group" in m.groupdict() else m.group(0) if m else "") or "unknown"
    if rule.column:
        return _manifest_column(sample.path, rule.column) or "unknown"
    return "unknown"


_COLUMN_CACHE: dict[tuple[str, str], dict[str, str]] = {}


def _manifest_column(path: str, column: str) -> str | None:
    """A manifest's column for an image (the manifest beside or above it), read once per manifest."""
    for folder in Path(path).parents:
        manifest = folder / "manifest.csv"
        if manifest.is_file():
            key = (str(manifest), column)
            if key not in _COLUMN_CACHE:
                with open(manifest, newline="", encoding="utf-8") as fh:
                    _COLUMN_CACHE[key] = {str((folder / r["path"])): r.get(column, "") for r in csv.DictReader(fh)}
            return _COLUMN_CACHE[key].get(path)
    return None


def score(detector, samples: list[Sample], num_workers: int = 1) -> tuple[np.ndarray, np.ndarray, list[Sample]]:
    from .evaluate import score_samples

    probs, labels, indices, _ = score_samples(detector, samples, num_workers=num_workers, desc="benchmark")
    return probs, labels, [samples[i] for i in indices]


def dataset_row(
    name: str,
    detector_name: str,
    detector,
    labels: np.ndarray,
    probs: np.ndarray,
    samples: list[Sample],
    with_groups: bool,
    bootstrap: int = 0,
) -> dict:
    m = compute_metrics(labels, probs, detector.threshold)
    real, fake = labels == 0, labels == 1
    ci = (
        bootstrap_intervals(labels, probs, bootstrap_clusters(samples, with_groups), detector.threshold, n_boot=bootstrap)
        if bootstrap
        else {}
    )
    row = {
        "dataset": name,
        "detector": detector_name,
        "n": m["n"],
        "n_real": int(real.sum()),
        "n_fake": int(fake.sum()),
        "accuracy": m["accuracy"],
        "roc_auc": m["roc_auc"],
        "ece": m["ece"],
        **{f"{k}_ci_{end}": (ci.get(k) or [None, None])[j] for k in ("accuracy", "roc_auc") for j, end in enumerate(("low", "high"))},
        "real_called_fake": float((probs[real] >= detector.threshold).mean()) if real.any() else None,
        "fakes_caught": float((probs[fake] >= detector.threshold).mean()) if fake.any() else None,
    }
    bands = detector.calibration.bands
    if bands is not None:
        v = verdict_metrics(labels, probs, bands)
        row.update(real_called_fake_verdict=v["real_called_fake"], fakes_caught_verdict=v["fakes_called_fake"], uncertain=v["uncertain"])
    if with_groups:
        cut = bands.fake_from if bands is not None else detector.threshold
        groups = np.asarray([s.group for s in samples])
        fpr, counts, intervals = {}, {}, {}
        for g in sorted(set(groups[real]), key=natural_key):
            called = probs[real & (groups == g)] >= cut
            fpr[g], counts[g] = float(called.mean()), int(called.size)
            intervals[g] = wilson_interval(int(called.sum()), int(called.size))
        row.update(group_fpr=fpr, group_n=counts, group_ci=intervals)
        if fpr:
            row["worst_group_fpr"] = max(fpr.values())
            row["group_fpr_gap"] = max(fpr.values()) - min(fpr.values())
    return row


def bootstrap_clusters(samples: list[Sample], with_groups: bool) -> np.ndarray:
    """What a bootstrap draw takes whole: the source's own groups (a fake with its real video). A group rule's labels
    are people's demographics, not clusters of near-copies, so such datasets resample single images."""
    return np.arange(len(samples)) if with_groups else np.asarray([s.group or str(i) for i, s in enumerate(samples)])


PAIRED_COLUMNS = [
    "dataset",
    "detector",
    "against",
    "n",
    "accuracy_diff",
    "accuracy_diff_ci_low",
    "accuracy_diff_ci_high",
    "roc_auc_diff",
    "roc_auc_diff_ci_low",
    "roc_auc_diff_ci_high",
]


def paired_row(
    first: tuple[dict, object, np.ndarray],
    other: tuple[dict, object, np.ndarray],
    labels: np.ndarray,
    samples: list[Sample],
    with_groups: bool,
    bootstrap: int,
) -> dict:
    """``other`` minus ``first`` (each: its benchmark row, detector, probabilities) on the same images, with paired 95%
    intervals; the differences themselves come from the two rows."""
    (a_row, a, pa), (b_row, b, pb) = first, other
    ci = paired_bootstrap_intervals(labels, [pa, pb], bootstrap_clusters(samples, with_groups), [a.threshold, b.threshold], bootstrap)
    row = {"dataset": b_row["dataset"], "detector": b_row["detector"], "against": a_row["detector"], "n": len(labels)}
    for k in ("accuracy", "roc_auc"):
        row[f"{k}_diff"] = b_row[k] - a_row[k] if b_row[k] is not None else None
        row[f"{k}_diff_ci_low"], row[f"{k}_diff_ci_high"] = ci.get(k) or [None, None]
    return row


def natural_key(text: str) -> list:
    """Sort key that orders numbers by value ("3-9" before "10-19")."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> list[float]:
    """The Wilson score interval of a rate of ``k`` in ``n`` (scipy's binomial test)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return [float(ci.low), float(ci.high)]


def group_rows(rows: list[dict]) -> list[dict]:
    """One row per (dataset, detector, group): real faces, the share called FAKE and its 95% interval.

    Groups come in natural order (age band 3-9 before 10-19) also for rows read back from an older benchmark.json.
    """
    out = []
    for r in rows:
        for g, rate in sorted((r.get("group_fpr") or {}).items(), key=lambda item: natural_key(item[0])):
            low, high = r["group_ci"][g]
            out.append(
                {
                    "dataset": r["dataset"],
                    "detector": r["detector"],
                    "group": g,
                    "n_real": r["group_n"][g],
                    "real_called_fake": rate,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return out


def _markdown_section(title: str, rows: list[dict], columns: list[str]) -> str:
    """A titled table for ``benchmark.md``."""
    return f"\n## {title}\n\n" + "\n".join(_markdown_table(rows, columns)) + "\n"


def _markdown_table(rows: list[dict], columns: list[str]) -> list[str]:
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else markdown_text(v)  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]


#: Bootstrap draws for the 95% intervals of accuracy and ROC-AUC (0: none).
BOOTSTRAP = 1000


def _score_dataset(
    name: str,
    samples: list[Sample],
    detectors: dict,
    with_groups: bool,
    num_workers: int,
    bootstrap: int,
    rows: list[dict],
    paired: list[dict],
    scores: list[dict],
    originals: dict[str, str] | None = None,
) -> None:
    """Every detector's row on ``samples`` (and its comparison with the first), then the size-only baseline's row.

    Each scored image's probability goes to ``scores``, under the path the user gave (``originals`` maps a matched
    copy's file back to it)."""
    first = first_paths = None
    for det_name, det in detectors.items():
        probs, labels, scored = score(det, samples, num_workers)
        rows.append(dataset_row(name, det_name, det, labels, probs, scored, with_groups, bootstrap))
        scores.extend(score_rows(name, det_name, scored, probs, originals))
        paths = [s.path for s in scored]
        if first is None:
            first, first_paths = (rows[-1], det, probs), paths
        elif bootstrap and paths == first_paths:  # the same images: compare them pairwise
            paired.append(paired_row(first, (rows[-1], det, probs), labels, scored, with_groups, bootstrap))
    rows.append(size_baseline_row(name, samples))


#: ``scores.csv``: one row per image and detector, for analyses the tables do not make (fusions, error galleries).
SCORE_COLUMNS = ["dataset", "detector", "path", "source", "group", "label", "prob_fake"]


def score_rows(
    dataset: str, detector_name: str, samples: list[Sample], probs: np.ndarray, originals: dict[str, str] | None = None
) -> list[dict]:
    originals = originals or {}
    return [
        {
            "dataset": dataset,
            "detector": detector_name,
            "path": originals.get(s.path, s.path),
            "source": s.source,
            "group": s.group,
            "label": s.label,
            "prob_fake": float(p),
        }
        for s, p in zip(samples, probs)
    ]


#: The detector name of the baseline that sees nothing but the image's size.
SIZE_BASELINE = "size-only"
#: The JPEG quality of the size-and-quality-matched copy.
MATCHED_QUALITY = 90


def image_sizes(samples: list[Sample]) -> np.ndarray:
    """``(n, 2)`` width and height of each image as stored (NaN where it cannot be read); reads headers only."""
    from PIL import Image

    sizes = np.full((len(samples), 2), np.nan)
    for i, s in enumerate(samples):
        try:
            with Image.open(s.path) as im:
                sizes[i] = im.size
        except (OSError, ValueError):
            pass
    return sizes


def size_baseline_scores(samples: list[Sample], folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(FAKE) from a logistic regression on log pixel area alone, folds drawn by group; and the labels.

    Unreadable images are left out. A fold whose training part has one class predicts that class's share.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    sizes = image_sizes(samples)
    ok = ~np.isnan(sizes).any(axis=1)
    labels = np.asarray([s.label for s in samples])[ok]
    x = np.log(sizes[ok].prod(axis=1))[:, None]
    groups = np.asarray([s.group or s.path for s in samples], dtype=object)[ok]
    probs = np.full(len(labels), float(labels.mean()) if len(labels) else 0.5)
    n_groups = len(set(groups))
    if n_groups < 2 or len(set(labels)) < 2:
        return probs, labels
    for train, test in GroupKFold(n_splits=min(folds, n_groups)).split(x, labels, groups):
        if len(set(labels[train])) < 2:
            probs[test] = labels[train].mean()
            continue
        probs[test] = LogisticRegression().fit(x[train], labels[train]).predict_proba(x[test])[:, 1]
    return probs, labels


def size_baseline_row(name: str, samples: list[Sample]) -> dict:
    """The benchmark row of :func:`size_baseline_scores`: n, out-of-fold accuracy at 0.5 and ROC-AUC (the figure that
    matters: how far size alone ranks fakes above reals); no verdicts, bands or groups."""
    probs, labels = size_baseline_scores(samples)
    m = compute_metrics(labels, probs, 0.5)
    return {
        "dataset": name,
        "detector": SIZE_BASELINE,
        "n": m["n"],
        "n_real": int((labels == 0).sum()),
        "n_fake": int((labels == 1).sum()),
        "accuracy": m["accuracy"],
        "roc_auc": m["roc_auc"],
    }


def matched_copy(samples: list[Sample], folder: str | os.PathLike, quality: int = MATCHED_QUALITY) -> list[Sample]:
    """Every image scaled (aspect kept) to the median longer side of the reals (of all images if none), saved at JPEG ``quality``.

    A copy is named by the index of the sample it copies (``0000012.jpg`` copies ``samples[12]``). Both classes go through the same resize and the same encoder, so neither size nor file format nor
    compression can tell them apart any more. Unreadable images are left out (the scoring reports them).
    """
    from PIL import Image

    from ..errors import ImageReadError
    from ..imaging.imageio import load_image

    sizes = image_sizes(samples)
    ok = ~np.isnan(sizes).any(axis=1)
    labels = np.asarray([s.label for s in samples])
    reals = ok & (labels == REAL)
    side = int(round(float(np.median(sizes[reals if reals.any() else ok].max(axis=1))))) if ok.any() else 0
    folder = Path(folder)
    out = []
    for i, s in enumerate(samples):
        if not ok[i]:
            continue
        try:
            rgb = load_image(s.path)
        except ImageReadError:
            continue
        h, w = rgb.shape[:2]
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        path = folder / f"{i:07d}.jpg"
        Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS).save(path, format="JPEG", quality=int(quality))
        out.append(Sample(str(path), s.label, s.group, s.source))
    if not out:
        raise DataError("no readable image to make a matched copy of")
    return out


def detector_names(runs: list[str | os.PathLike | None]) -> list[str]:
    """A name per detector for the tables: its folder's name, with as many parent folders as it takes to tell it from
    the others (two members' ``a/all-last`` and ``b/all-last`` must not share a row); None is the bundled ``default``."""
    parts = [Path(r).resolve().parts if r is not None else ("default",) for r in runs]
    if len(set(parts)) < len(parts):
        raise ConfigError("the same detector is named twice")
    names = []
    for mine in parts:
        depth = 1
        while any(other != mine and other[-depth:] == mine[-depth:] for other in parts):
            depth += 1
        names.append("/".join(mine[-depth:]))
    return names


def run_benchmark(
    bench: str | os.PathLike, runs: list[str | os.PathLike | None], out: str | os.PathLike, num_workers: int = 1, bootstrap: int = BOOTSTRAP
) -> list[dict]:
    """Score every detector in ``runs`` (None: the bundled default) on every dataset of ``bench``."""
    from ..inference.detector import detector_dir, load
    from .plots import plot_benchmark

    cfg = BenchConfig.read(bench)
    out = Path(out)
    split_csv = next((f for f in (RunDir(detector_dir(r)).split_file() for r in runs) if f is not None), None)
    detectors = {name: load(r) for name, r in zip(detector_names(runs), runs)}
    rows, paired, scores = [], [], []
    for ds in cfg.datasets:
        samples = dataset_samples(ds, split_csv)
        with_groups = ds.groups is not None
        _score_dataset(ds.name, samples, detectors, with_groups, num_workers, bootstrap, rows, paired, scores)
        if ds.matched:
            with tempfile.TemporaryDirectory(prefix="fakelens-matched-") as tmp:
                matched = matched_copy(samples, tmp)
                originals = {m.path: samples[int(Path(m.path).stem)].path for m in matched}
                _score_dataset(
                    f"{ds.name} (matched)", matched, detectors, with_groups, num_workers, bootstrap, rows, paired, scores, originals
                )
    write_json(out / "benchmark.json", rows)
    write_csv(out / "benchmark.csv", rows, COLUMNS)
    write_csv(out / "scores.csv", scores, SCORE_COLUMNS)
    text = f"# Benchmark ({Path(bench).name})\n\n" + "\n".join(_markdown_table(rows, COLUMNS)) + "\n"
    groups = group_rows(rows)
    if groups:
        write_csv(out / "groups.csv", groups, GROUP_COLUMNS)
        text += _markdown_section("Real faces called FAKE per group (FAKE verdicts; 95% Wilson interval)", groups, GROUP_COLUMNS)
    if paired:
        write_csv(out / "paired.csv", paired, PAIRED_COLUMNS)
        text += _markdown_section(
            "Against the first detector, on the same images (difference; paired 95% bootstrap interval)", paired, PAIRED_COLUMNS
        )
    write_text(out / "benchmark.md", text)
    plot_benchmark(rows, out / "benchmark.png")
    return rows
