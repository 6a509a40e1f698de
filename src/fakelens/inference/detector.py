"""The detector: preprocessing + a backend (PyTorch or ONNX Runtime) + calibration, in one object.

predict, evaluate, explain, export and the service all go through a
:class:`Detector`; none of them re-implements preprocessing. Each part is small:

* :class:`~fakelens.imaging.preprocess.PreprocessConfig`: any image -> the model's input (the one path);
* a runner (:mod:`fakelens.inference.onnx_backend`): input -> raw FAKE logits;
* :class:`~fakelens.inference.calibration.Calibration`: logits -> P(fake) -> REAL / UNCERTAIN / FAKE;
* for an adapted detector (``fakelens adapt``), an :class:`~fakelens.inference.adapter.Adapter`:
  the base logits and pooled features -> the adapted logits, before the calibration.

Scoring with ONNX Runtime needs no PyTorch: a run folder with a matching
``model.onnx`` (the bundled detector has one) loads its weights into PyTorch
only when something asks for ``detector.model`` (training, export, Grad-CAM
variants). Every method may be called from many threads at once.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._version import __version__
from ..errors import ImageReadError, RunDirError
from ..imaging.imageio import ImageInput
from ..imaging.preprocess import PreprocessConfig, batched
from ..provenance import NO_PROVENANCE, combine, read_provenance, short_evidence
from ..utils.atomic import atomic_path, write_json
from ..utils.rundir import DETECTOR_CONFIG as CONFIG_FILE
from .adapter import Adapter
from .calibration import Bands, Calibration
from .onnx_backend import WEIGHTS_FILE, OnnxRunner, TorchRunner, onnx_exporters, open_matching_onnx
from .tta import DEFAULT_VIEWS, apply_view, check_views

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "weights"


class Detector:
    """Scores face crops: ``predict_proba(images)`` returns calibrated P(FAKE)."""

    def __init__(
        self,
        model,
        model_name: str,
        preprocess: PreprocessConfig | None = None,
        threshold: float = 0.5,
        temperature: float = 1.0,
        info: dict | None = None,
        tta: bool = False,
        bands: Bands | None = None,
        tta_views: Sequence[str] = DEFAULT_VIEWS,
        adapter: Adapter | None = None,
    ):
        self.model_name = model_name
        if preprocess is None:
            from ..models import get_model_spec

            preprocess = get_model_spec(model_name).preprocess
        self.preprocess = preprocess
        # Test-time augmentation (the logits of each face and of its views averaged) is part of
        # the calibration: temperature, threshold and bands are fitted with the TTA setting that ships.
        self.calibration = Calibration(float(temperature), float(threshold), bool(tta), bands, check_views(tta_views))
        self.info = dict(info or {})
        self.adapter = adapter
        self.source: str | None = None
        self._model = model.eval() if model is not None else None
        self._weights_file: Path | None = None  # loaded on first use of .model
        self._runner = TorchRunner(self._model) if model is not None else None
        self._lock = threading.Lock()
        self._explain_model = None

    # ----------------------------------------------------------- calibration
    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.calibration = dataclasses.replace(self.calibration, threshold=float(value))

    @property
    def temperature(self) -> float:
        return self.calibration.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.calibration = dataclasses.replace(self.calibration, temperature=float(value))

    @property
    def tta(self) -> bool:
        return self.calibration.tta

    @tta.setter
    def tta(self, value: bool) -> None:
        self.calibration = dataclasses.replace(self.calibration, tta=bool(value))

    @property
    def views(self) -> tuple[str, ...]:
        """The views whose logits are averaged with the face's own: none without TTA."""
        return self.calibration.tta_views if self.tta else ()

    # ---------------------------------------------------------------- model
    @property
    def model(self):
        """The PyTorch model (loaded from the run folder's weights on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_torch_model(self.model_name, self._weights_file)
        return self._model

    def explain_model(self):
        """A private copy of the model for explainers that hook into it (Grad-CAM).

        Hooks on the shared model would fire inside other threads' predictions.
        """
        with self._lock:
            if self._explain_model is None:
                self._explain_model = copy.deepcopy(self.model).eval()
        return self._explain_model

    # -------------------------------------------------------------- loading
    @classmethod
    def from_dir(cls, path: str | os.PathLike, backend: str = "auto", threads: int | None = None) -> "Detector":
        """Load from a run folder (or any folder with ``model.safetensors`` + ``detector.json``)."""
        path = Path(path)
        cfg_path, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not path.is_dir():
            raise RunDirError(f"{path}: no such run folder")
        if not cfg_path.is_file() or not weights.is_file():
            raise RunDirError(f"{path}: not a trained run (needs {CONFIG_FILE} and {WEIGHTS_FILE}; has training finished?)")
        # Untrusted run folder: detector.json is validated (detector_config.py) and a bad one raises
        # RunDirError with one line; the weights are checked when PyTorch first loads them.
        from .detector_config import DetectorConfig

        cfg = DetectorConfig.load(cfg_path)
        det = cls(
            None,
            cfg.model,
            cfg.preprocess.to_preprocess_config(),
            threshold=cfg.threshold,
            temperature=cfg.temperature,
            info=cfg.info,
            tta=cfg.tta,
            bands=Bands.from_dict(cfg.bands.model_dump() if cfg.bands else None),
            tta_views=cfg.tta_views,
            adapter=Adapter.load(path, cfg.adapter) if cfg.adapter else None,
        )
        if cfg.video_bands is not None:
            det.calibration = dataclasses.replace(
                det.calibration, video_bands=Bands.from_dict(cfg.video_bands.model_dump()), video_aggregate=cfg.video_aggregate
            )
        det.source = str(path)
        det._weights_file = weights
        det.set_backend(backend, threads)
        return det

    @classmethod
    def default(cls, backend: str = "auto") -> "Detector":
        """The detector bundled with fakelens (it ships its ONNX export: no PyTorch needed to score)."""
        if not (DEFAULT_DIR / WEIGHTS_FILE).is_file():
            raise RunDirError(
                "no default detector is bundled with this install; train one with 'fakelens train ...' and pass --run RUN_DIR"
            )
        return cls.from_dir(DEFAULT_DIR, backend=backend)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.safetensors`` and ``detector.json`` atomically."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(path / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"model": self.model_name})
        config = self.config()
        if self.adapter is not None:
            config["adapter"] = self.adapter.save(path)
        write_json(path / CONFIG_FILE, config)

    def config(self) -> dict:
        """What ``detector.json`` holds (an adapter's section is added by :meth:`save`, which writes its file)."""
        c = self.calibration
        return {
            "model": self.model_name,
            "preprocess": self.preprocess.to_dict(),
            "threshold": c.threshold,
            "temperature": c.temperature,
            "tta": c.tta,
            "tta_views": list(c.tta_views),
            "bands": c.bands.to_dict() if c.bands else None,
            **({"video_bands": c.video_bands.to_dict(), "video_aggregate": c.video_aggregate} if c.video_bands else {}),
            "fakelens_version": __version__,
            "info": self.info,
        }

    @property
    def weights_file(self) -> Path | None:
        """The ``model.safetensors`` this detector was loaded from (None for one built in memory)."""
        return self._weights_file

    # ------------------------------------------------------------- backends
    @property
    def backend(self) -> str:
        return self._runner.name if self._runner is not None else "torch"

    def set_backend(self, backend: str = "auto", threads: int | None = None) -> "Detector":
        """``torch``, ``onnx`` or ``auto`` (ONNX Runtime when an export made from these weights is there).

        ``onnx`` without such an export exports once into the user cache where :mod:`fakelens.export` is
        loaded (PyTorch; the CLI loads it for ``--backend onnx``), and is an error otherwise.
        ``threads``: ONNX Runtime's threads per call (default: every core; one for a worker
        process among several, :mod:`fakelens.faces.batch`).
        """
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown backend {backend!r}; choose auto, torch or onnx")
        runner = None
        if backend in ("auto", "onnx"):
            try:
                runner = open_matching_onnx(self.source, "skip" if backend == "auto" else "raise", threads) if self.source else None
            except ValueError as exc:
                raise RunDirError(str(exc)) from None
            if runner is None and backend == "onnx":
                exporters = onnx_exporters()
                if not exporters:
                    raise RunDirError(
                        f"{self.source}: no ONNX export of these weights; make one with 'fakelens export RUN' "
                        "(needs the training install) or use --backend torch"
                    )
                runner = OnnxRunner(exporters[-1](self), threads)
        self._runner = runner or TorchRunner(self.model)
        return self

    @property
    def runner(self):
        if self._runner is None:
            self._runner = TorchRunner(self.model)
        return self._runner

    # --------------------------------------------------------------- scoring
    def decode(self, source: ImageInput) -> np.ndarray:
        """One image -> uint8 HxWx3 at the model's input size: the one preprocessing path."""
        return self.preprocess.load_face(source)

    def decode_aligned(self, source: ImageInput):
        """:meth:`decode` and the alignment it applied (None for a detector that does not align, or no face found)."""
        return self.preprocess.load_face_aligned(source)

    def decode_as_given(self, source: ImageInput) -> np.ndarray:
        """The face at the model's input size without alignment: what explanations are drawn on."""
        return dataclasses.replace(self.preprocess, align=False).load_face(source)

    def arrays_to_batch(self, arrays: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """uint8 ``HxWx3`` arrays at the model's input size -> the normalised NCHW float32 batch."""
        faces = np.asarray(arrays, dtype=np.uint8) if isinstance(arrays, np.ndarray) else np.stack(arrays).astype(np.uint8, copy=False)
        return self.preprocess.normalize(faces)

    def to_batch(self, images: Sequence[ImageInput]) -> np.ndarray:
        """Decode and preprocess images into the model's input batch."""
        return self.arrays_to_batch([self.decode(im) for im in images])

    def logits(self, batch) -> np.ndarray:
        """Raw (uncalibrated) FAKE logits for a preprocessed batch (under TTA, the mean over the face and its views).

        An adapted detector fuses the base's logits with its head on the pooled features.
        """
        if self.adapter is not None:
            return self.adapter.logits(*self.base_logits_and_features(batch))
        x = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch, dtype=np.float32)
        runner = self.runner
        out = runner.run(x)
        for view in self.views:
            out = out + runner.run(apply_view(view, x))
        return out / (1 + len(self.views))

    def base_logits_and_features(self, batch) -> tuple[np.ndarray, np.ndarray]:
        """The base model's raw logits and pooled features (``N x C``), each the mean over the face and its TTA views.

        The logit is linear in the pooled features, so averaging both over the
        views keeps them consistent. Raises :class:`~fakelens.inference.onnx_backend.NoFeaturesError`
        for an export without a ``features`` output.
        """
        x = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch, dtype=np.float32)
        runner = self.runner
        if not hasattr(runner, "run_with_features"):
            from .onnx_backend import NoFeaturesError

            raise NoFeaturesError(f"the {self.backend} backend gives no pooled features")
        logits, features = runner.run_with_features(x)
        for view in self.views:
            more_logits, more_features = runner.run_with_features(apply_view(view, x))
            logits, features = logits + more_logits, features + more_features
        n = 1 + len(self.views)
        return logits / n, features / n

    def embed_arrays(self, faces: Sequence[np.ndarray] | np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`base_logits_and_features` for uint8 faces at the model's size, in batches (the scoring path's batching)."""
        parts = [self.base_logits_and_features(self.arrays_to_batch(chunk)) for chunk in batched(faces, batch_size)]
        if not parts:
            return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def proba_from_logits(self, logits: np.ndarray) -> np.ndarray:
        return self.calibration.proba(logits)

    def score_arrays(self, faces: Sequence[np.ndarray] | np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Calibrated P(FAKE) for uint8 faces already at the model's size: the one batching loop."""
        out = [self.proba_from_logits(self.logits(self.arrays_to_batch(chunk))) for chunk in batched(faces, batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def predict_proba(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """Calibrated P(FAKE) for each image; raises :class:`ImageReadError` on an unreadable one."""
        out = [self.score_arrays([self.decode(im) for im in chunk], batch_size) for chunk in batched(list(images), batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def predict(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """0 = REAL, 1 = FAKE at the stored threshold."""
        return (self.predict_proba(images, batch_size) >= self.threshold).astype(int)

    def label(self, prob_fake: float) -> str:
        """REAL or FAKE at the binary threshold (for accuracy-style metrics; people are shown :meth:`verdict`)."""
        return self.calibration.label(prob_fake)

    def verdict(self, prob_fake: float) -> str:
        """REAL, UNCERTAIN or FAKE: the verdict shown to people."""
        return self.calibration.verdict(prob_fake)

    def score_files(
        self, paths: Iterable[str], batch_size: int = 32, progress: bool = False, decode_threads: int = 2, provenance: bool = True
    ) -> list[dict]:
        """One row per file: ``path, prob_fake, label, error, evidence``; unreadable files get an error, the rest go on.

        ``label`` is the verdict shown to people: REAL, UNCERTAIN or FAKE, by the
        policy of :mod:`fakelens.provenance.policy` when ``provenance`` is on
        (each file's C2PA, XMP and generator metadata are read beside decoding;
        ``evidence`` lists them in short, ``;``-joined).

        Decoding runs in a thread pool one batch ahead of inference, so the
        JPEG decoder and the model overlap.
        """
        from concurrent.futures import ThreadPoolExecutor

        from tqdm.auto import tqdm

        paths = [str(p) for p in paths]
        rows: list[dict | None] = [None] * len(paths)

        evidence: list = [NO_PROVENANCE] * len(paths)

        def decode_safe(i: int):
            try:
                arr = self.decode(paths[i])
            except ImageReadError as exc:
                return i, None, str(exc)
            if provenance:
                evidence[i] = read_provenance(paths[i])
            return i, arr, None

        def score_decoded(decoded) -> None:
            good = [(i, arr) for i, arr, err in decoded if err is None]
            for i, _, err in decoded:
                if err is not None:
                    rows[i] = {"path": paths[i], "prob_fake": None, "verdict": None, "error": err, "evidence": ""}
            if good:
                probs = self.score_arrays([a for _, a in good], batch_size)
                for (i, _), q in zip(good, probs):
                    items = evidence[i][0]
                    label = combine(self.verdict(q), items)[0] if items else self.verdict(q)
                    rows[i] = {
                        "path": paths[i],
                        "prob_fake": round(float(q), 6),
                        "verdict": label,
                        "error": "",
                        "evidence": short_evidence(items),
                    }

        chunks = list(batched(range(len(paths)), batch_size))
        if len(chunks) <= 1:  # a single batch: no pool to start, the lowest latency
            score_decoded([decode_safe(i) for i in range(len(paths))])
            return rows
        bar = tqdm(total=len(paths), desc="scoring", unit="img", disable=not progress)
        with ThreadPoolExecutor(max_workers=max(1, decode_threads)) as pool:
            pending = [pool.submit(decode_safe, i) for i in chunks[0]]
            for k in range(len(chunks)):
                decoded = [f.result() for f in pending]
                pending = [pool.submit(decode_safe, i) for i in chunks[k + 1]] if k + 1 < len(chunks) else []
                score_decoded(decoded)
                bar.update(len(decoded))
        bar.close()
        return rows

    def __repr__(self) -> str:
        return (
            f"Detector(model={self.model_name!r}, image_size={self.preprocess.image_size}, "
            f"threshold={self.threshold:.3f}, temperature={self.temperature:.3f}, backend={self.backend!r}"
            + (f", tta=True, tta_views={self.views}" if self.tta else "")
            + (", adapted=True)" if self.adapter is not None else ")")
        )


def _load_torch_model(model_name: str, weights: Path | None):
    if weights is None:
        raise RunDirError("this detector has no weights file to load a PyTorch model from")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RunDirError("PyTorch is not installed: this needs the training install, pip install 'fakelens[train]'") from None
    from ..models import create_model
    from .detector_config import load_weights

    model = create_model(model_name)
    load_weights(model, weights, model_name)
    return model.eval()


def detector_dir(run: str | os.PathLike | None) -> Path:
    """The folder of the detector ``run`` names: the run itself, or the bundled detector's for None."""
    return Path(run) if run is not None else DEFAULT_DIR


def load(run: str | os.PathLike | None = None, backend: str = "auto", tta: bool | None = None) -> Detector:
    """``fakelens.load()``: the bundled default detector, or the one in ``run``.

    ``tta``: test-time augmentation on or off (None: as the detector was saved; on uses the saved views).
    """
    det = Detector.default(backend) if run is None else Detector.from_dir(run, backend)
    if tta is not None:
        det.tta = bool(tta)
    return det
