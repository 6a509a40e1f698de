"""``fakelens adapt``: teach a detector a new kind of fake from a few dozen examples, without PyTorch.

:func:`adapt` finds the faces in the user's examples (as ``predict`` does),
holds back a stratified, grouped part of them for the model card's figures,
embeds the rest with the base model (its TTA-averaged logits and pooled
features), fits the adapter (:mod:`fakelens.adapt.fit`) with the base's memory
bank (:mod:`fakelens.adapt.bank`), and writes a detector folder that every
entry point loads: the base's weights and ONNX export copied, ``detector.json``
with the ``adapter`` section and the new calibration, ``adapter.safetensors``
and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import datetime
import os
import shutil
import warnings as _warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import __version__
from ..errors import FakelensError, RunDirError
from ..imaging.preprocess import batched
from ..inference.calibration import Calibration
from ..inference.detector import CONFIG_FILE, Detector, detector_dir
from ..inference.onnx_backend import ONNX_FILE, WEIGHTS_FILE, file_weights_digest
from ..stats.calibration import MAX_REAL_CALLED_FAKE
from ..utils.atomic import write_json, write_text
from .bank import MemoryBank, bank_for
from .examples import AdaptInputError, Examples, check_examples, collect_examples
from .fit import Embedded, Fitted, fit_adapter

#: The share of the user's examples held back for the model card's figures.
HOLDOUT = 0.2
CARD_FILE = "MODEL_CARD.md"


def load_base(base: str | os.PathLike | None) -> tuple[Path, Detector]:
    folder = detector_dir(base)
    detector = Detector.from_dir(folder)
    if detector.adapter is not None:
        origin = detector.adapter.info.get("from", "its base")
        raise FakelensError(f"{folder} is itself an adapted detector; adapt from its base ({origin}) with all the examples")
    # one blank face through the model: an export or a model without pooled features is refused before any face search
    size = detector.preprocess.image_size
    detector.base_logits_and_features(np.zeros((1, 3, size, size), np.float32))
    return folder, detector


def embed(detector: Detector, faces: Sequence[np.ndarray], progress: bool = True, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The base's TTA-averaged logits and pooled features for uint8 faces, with a progress bar."""
    from tqdm.auto import tqdm

    logits, features = [], []
    with tqdm(total=len(faces), desc="embedding", unit="face", disable=not progress) as bar:
        for chunk in batched(list(faces), batch_size):
            lg, ft = detector.embed_arrays(chunk, batch_size)
            logits.append(lg)
            features.append(ft)
            bar.update(len(chunk))
    return np.concatenate(logits), np.concatenate(features)


def holdout_split(labels: np.ndarray, groups: np.ndarray, seed: int, share: float = HOLDOUT) -> tuple[np.ndarray, np.ndarray]:
    """Indices to fit on and to hold back: stratified by class, a group (near-duplicates, a video's frames) on one side only."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=max(2, round(1 / share)), shuffle=True, random_state=seed)
    fit_idx, held_idx = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return fit_idx, held_idx


def few_reals_warning(fitted_reals: int, share: float = MAX_REAL_CALLED_FAKE) -> str | None:
    """A warning when too few real faces were fitted on to check the FAKE band at ``share`` (the bands' rule) of faces like them.

    The band is set above the fitted reals' own out-of-fold scores, and a new face of the same kind lands above the
    highest of n such scores 1 time in n + 1 (exchangeable scores, as in conformal prediction): below about
    1 / share fitted reals, nothing in the examples can show that fewer new real faces are accused.
    """
    bound = 1.0 / (fitted_reals + 1)
    if bound <= share:
        return None
    needed = int(np.ceil((1.0 / share - 1.0) / (1.0 - HOLDOUT)))
    return (
        f"only {fitted_reals} real faces were fitted on (a fifth of your examples is held back): the FAKE band can be "
        f"checked on them down to about 1 in {fitted_reals + 1}, so about {bound:.0%} of new real faces like them may "
        f"be called FAKE on average; give at least {needed} real examples to check it at {share:.0%}"
    )


def figures(labels: np.ndarray, probs: np.ndarray, calibration: Calibration) -> dict:
    """AUC, accuracy at the binary threshold, and what people see: fakes caught (FAKE verdict), reals accused, uncertain."""
    from ..stats.metrics import compute_metrics, verdict_metrics

    m = compute_metrics(labels, probs, calibration.threshold)
    out = {"n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()), "auc": m["roc_auc"], "accuracy": m["accuracy"]}
    if calibration.bands is not None:
        v = verdict_metrics(labels, probs, calibration.bands)
        out.update(caught=v["fakes_called_fake"], accused=v["real_called_fake"], uncertain=v["uncertain"])
    return out


def adapt(
    fake: Sequence[str | os.PathLike],
    real: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    base: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    face_detector: str | None = None,
    warn: Callable[[str], None] | None = None,
    crops: bool | None = None,
) -> dict:
    """Write an adapted detector to ``out``; returns a summary (counts, validation figures, bands).

    ``crops``: True takes every image whole as a face crop (``predict --crops``); None (default) finds faces,
    recognising crops; ``warn``: where warnings go (default: :func:`warnings.warn`).
    """
    from ..faces.pipeline import FacePipeline

    warn = warn or (lambda text: _warnings.warn(text, stacklevel=3))
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FakelensError(f"--out {out} already exists; give a new folder")
    base_dir, detector = load_base(base)
    bank = bank_for(base_dir, file_weights_digest(base_dir / WEIGHTS_FILE))
    if bank is not None and tuple(bank.tta_views) != tuple(detector.views):
        warn(f"the memory bank was made with TTA views {bank.tta_views}, the detector uses {detector.views}; not using it")
        bank = None
    if bank is None:
        warn(
            f"{base_dir} has no memory bank made from its weights: the adapted detector is fitted and its bands set on your "
            "examples alone, so nothing keeps its behaviour on the base's own data"
        )
    examples = collect_examples(FacePipeline(detector, face_detector), fake, real, progress=progress, crops=crops)
    for path, why in examples.skipped:
        warn(f"skipped {path}: {why}")
    for text in check_examples(examples):
        warn(text)
    logits, features = embed(detector, examples.faces, progress)
    user = Embedded(logits, features, np.asarray(examples.labels), np.asarray(examples.groups), np.asarray(examples.sources))
    fit_idx, held_idx = holdout_split(user.labels, user.groups, seed)
    few_reals = few_reals_warning(int((user.labels[fit_idx] == 0).sum()))
    if few_reals:
        warn(few_reals)
    info = adapter_info(base, base_dir, detector, examples, seed, bank)
    fitted = fit_adapter(user.take(fit_idx), bank_embedded(bank), detector.calibration, seed, info)
    adapted = Calibration(1.0, fitted.threshold, detector.tta, fitted.bands, detector.calibration.tta_views)
    held = user.take(held_idx)
    validation = {
        "base": figures(held.labels, detector.calibration.proba(held.base_logits), detector.calibration),
        "adapted": figures(held.labels, adapted.proba(fitted.adapter.logits(held.base_logits, held.features)), adapted),
    }
    fitted.adapter.info.update(validation=validation, accused_before=fitted.accused_before, accused_after=fitted.accused_after)
    summary = {
        "out": str(out),
        "from": info["from"],
        "examples": examples.counts(),
        "fitted_on": len(fit_idx),
        "held_back": len(held_idx),
        "validation": validation,
        "bands": {"real_below": fitted.bands.real_below, "fake_from": fitted.bands.fake_from},
        "accused_before": fitted.accused_before,
        "accused_after": fitted.accused_after,
        "bank": bank.counts() if bank else None,
        "few_reals": few_reals,
    }
    write_adapted(out, base_dir, detector, fitted, adapted, examples, summary)
    return summary


def bank_embedded(bank: MemoryBank | None) -> Embedded | None:
    if bank is None:
        return None
    n = len(bank)
    return Embedded(
        bank.base_logits.astype(np.float64),
        bank.features(),
        bank.labels.astype(int),
        np.asarray([f"bank:{i}" for i in range(n)]),
        bank.sources.astype(str),
    )


def adapter_info(base, base_dir: Path, detector: Detector, examples: Examples, seed: int, bank: MemoryBank | None) -> dict:
    sizes = np.asarray(examples.sizes)
    c = detector.calibration
    return {
        "from": "the bundled detector" if base is None else str(base),
        "base_weights_sha256": file_weights_digest(base_dir / WEIGHTS_FILE),
        # the base's own calibration, so the adapted folder can show its figures next to the base's
        "base_calibration": {"temperature": c.temperature, "threshold": c.threshold, "bands": c.bands.to_dict() if c.bands else None},
        "adapted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fakelens_version": __version__,
        "seed": int(seed),
        "examples": examples.counts(),
        "image_sizes": {
            "median": [int(v) for v in np.median(sizes, axis=0)],
            "min": [int(v) for v in sizes.min(axis=0)],
            "max": [int(v) for v in sizes.max(axis=0)],
        },
        "formats": sorted(set(examples.formats)),
        "skipped": len(examples.skipped),
        "memory_bank": bank.counts() if bank is not None else None,
    }


def write_adapted(
    out: Path, base_dir: Path, detector: Detector, fitted: Fitted, calibration: Calibration, examples: Examples, summary: dict
) -> None:
    """The detector folder, built beside ``out`` and moved into place in one step (no half-written detector)."""
    from .card import model_card

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.adapt-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # copies, not links: the folder is moved and shared on its own
        shutil.copyfile(base_dir / WEIGHTS_FILE, tmp / WEIGHTS_FILE)
        if (base_dir / ONNX_FILE).is_file():
            shutil.copyfile(base_dir / ONNX_FILE, tmp / ONNX_FILE)
        new = Detector(
            None,
            detector.model_name,
            detector.preprocess,
            calibration.threshold,
            calibration.temperature,
            info=detector.info,
            tta=calibration.tta,
            bands=calibration.bands,
            tta_views=calibration.tta_views,
            adapter=fitted.adapter,
        )
        config = new.config()
        config["adapter"] = fitted.adapter.save(tmp)
        write_json(tmp / CONFIG_FILE, config)
        write_text(tmp / CARD_FILE, model_card(summary, fitted, detector, examples))
        Detector.from_dir(tmp)  # it loads, or nothing is left behind
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def evaluate(
    adapted_dir: str | os.PathLike,
    data: str | os.PathLike,
    progress: bool = True,
    face_detector: str | None = None,
    crops: bool | None = None,
) -> dict:
    """The adapted detector's figures on a labelled folder (real/ + fake/, a manifest or a Kaggle layout) next to its base's.

    Both come from one pass of the base model: the adapted score is the base's logits and features through the adapter.
    """
    from ..faces.pipeline import FacePipeline
    from ..sources import load_samples
    from .examples import _add_file

    detector = Detector.from_dir(adapted_dir)
    if detector.adapter is None:
        raise RunDirError(f"{adapted_dir}: not an adapted detector (no adapter in {CONFIG_FILE})")
    samples = load_samples(data, require_both=True)
    pipeline = FacePipeline(detector, face_detector)
    examples = Examples()
    from tqdm.auto import tqdm

    for s in tqdm(samples, desc="finding faces", unit="file", disable=not progress):
        _add_file(pipeline, examples, s.path, s.label, Path(data).name, 1, crops)
    if not examples.labels:
        raise AdaptInputError(f"{data}: no faces found")
    logits, features = embed(detector, examples.faces, progress)
    labels = np.asarray(examples.labels)
    base_calibration = _base_calibration(detector)
    return {
        "data": str(data),
        "skipped": len(examples.skipped),
        "base": figures(labels, base_calibration.proba(logits), base_calibration),
        "adapted": figures(labels, detector.calibration.proba(detector.adapter.logits(logits, features)), detector.calibration),
    }


def _base_calibration(detector: Detector) -> Calibration:
    """The base detector's calibration, as recorded when it was adapted (its detector.json is not in the folder)."""
    from ..inference.calibration import Bands

    base = detector.adapter.info.get("base_calibration")
    if not base:
        raise RunDirError("this adapted detector does not record its base's calibration")
    return Calibration(
        float(base["temperature"]),
        float(base["threshold"]),
        detector.tta,
        Bands.from_dict(base.get("bands")),
        detector.calibration.tta_views,
    )
