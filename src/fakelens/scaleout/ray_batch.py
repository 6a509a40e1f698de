"""Batch scoring on Ray Data: the rows of ``fakelens predict``, on every CPU of a Ray cluster.

The inputs become a Dataset of paths: folders are listed here, and a manifest
(a text file of paths, or a Parquet file with a ``path`` column) is read by Ray
itself, so millions of paths never pass through this process. ``map_batches``
then runs a callable class on a pool of actors: each actor loads one copy of
the detector (ONNX Runtime, one intra-op thread: Ray gives each actor one CPU,
and N single-threaded copies beat one N-threaded copy on small batches),
decodes its files and scores them. Face crops go through
:meth:`Detector.score_files` and photos and videos through the face pipeline
(:func:`~fakelens.faces.batch.predict_media`), exactly as without Ray, so the
rows are the same. Order is preserved.

``ray`` is an optional extra (``pip install 'fakelens[ray]'``); nothing outside
this module imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import FakelensError
from ..inference.files import PREDICT_COLUMNS, resolve_manifest_path

#: Files an actor receives per call: several model batches, so that decoding the
#: next batch overlaps scoring this one (Detector.score_files) and calls are few.
FILES_PER_CALL = 128


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise FakelensError("--ray needs Ray: pip install 'fakelens[ray]'") from None
    return ray


#: Ray's single-machine mode (its default on macOS and Windows): the node's address is 127.0.0.1, which
#: Ray otherwise replaces by the machine's network address on Linux.
RAY_SINGLE_MACHINE_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """A Ray instance started in this block listens on loopback only, with token authentication.

    Ray binds its GCS, raylet, object manager and worker ports to all interfaces unless the node's
    address is 127.0.0.1, and on Linux it turns a requested 127.0.0.1 into the machine's network address
    unless its single-machine mode is on: that mode, for this block (the flag Ray reads, and the variable
    for the processes it starts). Token auth, which other users of this machine then need too, is what
    ``ray.init`` turns on for an instance it starts from Ray 2.59 (the floor in ``pyproject.toml``) unless
    ``RAY_AUTH_MODE`` says otherwise; the token is kept in ``~/.ray/auth_token``.
    """
    from ray._private import ray_constants

    saved_flag, saved_variable = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(RAY_SINGLE_MACHINE_VARIABLE)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[RAY_SINGLE_MACHINE_VARIABLE] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_variable is None:
            os.environ.pop(RAY_SINGLE_MACHINE_VARIABLE, None)
        else:
            os.environ[RAY_SINGLE_MACHINE_VARIABLE] = saved_variable


@contextlib.contextmanager
def ray_cluster(address: str = "local", num_cpus: int | None = None) -> Iterator[object]:
    """Connect to ``address`` (a running cluster, e.g. ``ray://head:10001`` or ``auto``), or start a local
    instance on this machine for ``local`` (listening on loopback only, with token authentication);
    disconnects (and stops a local instance) afterwards. A Ray session that is already open is used as it
    is and left open."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address == "local":
        with _loopback_node():
            ray.init(
                num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False, _node_ip_address=LOOPBACK
            )
            try:
                yield ray
            finally:
                ray.shutdown()
        return
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _single_threaded(detector, threads: int):
    """The detector on ``threads`` CPU threads (one per actor: the actors are the parallelism)."""
    if detector.backend == "onnx":
        from ..inference.onnx_backend import OnnxRunner

        # The Detector takes no thread count yet: rebuild its ONNX Runtime session with one.
        detector._runner = OnnxRunner(detector._runner.path, threads=threads)
    else:  # PyTorch is imported only where the torch backend is asked for
        import torch

        torch.set_num_threads(threads)
    return detector


class _ActorBase:
    def __init__(self, run: str | None, backend: str, tta: bool | None, batch_size: int, threads: int):
        from ..inference import load

        self.detector = _single_threaded(load(run, backend=backend, tta=tta), threads)
        self.batch_size = batch_size

    @staticmethod
    def paths(batch: dict[str, np.ndarray]) -> list[str]:
        """The batch's files: a manifest's entries resolved against its folder (blank ones dropped), as without Ray."""
        resolved = (resolve_manifest_path(p, base) if base else str(p) for p, base in zip(batch["path"], batch["base"]))
        return [p for p in resolved if p is not None]


class CropScorer(_ActorBase):
    """One actor's detector: a batch of face-crop paths -> the rows of ``Detector.score_files``."""

    def __call__(self, batch: dict[str, np.ndarray]):
        import pyarrow as pa

        rows = self.detector.score_files(self.paths(batch), batch_size=self.batch_size, decode_threads=1)
        return pa.Table.from_pylist(
            rows,
            schema=pa.schema(
                [
                    ("path", pa.string()),
                    ("prob_fake", pa.float64()),
                    ("verdict", pa.string()),
                    ("error", pa.string()),
                    ("evidence", pa.string()),
                ]
            ),
        )


class MediaScorer(_ActorBase):
    """One actor's face pipeline: a batch of photo/video paths -> their result objects (as without Ray)."""

    def __init__(
        self, run, backend, tta, batch_size, threads, face_detector: str | None, crops: bool | None, frames: int, aggregate_by: str | None
    ):
        super().__init__(run, backend, tta, batch_size, threads)
        from ..faces.pipeline import FacePipeline

        self.pipeline = FacePipeline(self.detector, face_detector, batch_size=batch_size)
        self.options = dict(crops=crops, frames=frames, aggregate_by=aggregate_by)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..faces.batch import predict_media

        results = predict_media(self.pipeline, self.paths(batch), **self.options)
        out = np.empty(len(results), dtype=object)
        out[:] = results
        return {"result": out}


def path_dataset(paths: Sequence[str] = (), manifest: str | os.PathLike | None = None):
    """A Dataset of ``path`` (``paths``, already listed, then the manifest's entries) and ``base``
    (the manifest's folder for its entries, which the actors resolve them against; "" for ``paths``)."""
    ray = import_ray()
    parts = []
    if paths:
        # blocks of about one actor call each, so that work spreads evenly over the actors
        parts.append(ray.data.from_items([{"path": p, "base": ""} for p in paths], override_num_blocks=-(-len(paths) // FILES_PER_CALL)))
    if manifest is not None:
        manifest = Path(manifest)
        if not manifest.is_file():
            raise FakelensError(f"{manifest}: no such manifest file")
        if manifest.suffix.lower() == ".parquet":
            listed, column = ray.data.read_parquet(str(manifest)).select_columns(["path"]), "path"
        else:
            listed, column = ray.data.read_text(str(manifest)), "text"
        base = str(manifest.parent)
        # Plain NumPy here (no fakelens import, which would load PyTorch into a helper process); the actors
        # resolve the entries (predict.resolve_manifest_path). Materialised (paths are small: a million is
        # ~100 MB of object store) because the scoring actors hold every CPU, which the read would wait for.
        parts.append(
            listed.map_batches(
                lambda b: {"path": b[column], "base": np.full(len(b[column]), base, dtype=object)}, batch_format="numpy"
            ).materialize()
        )
    if not parts:
        raise FakelensError("no inputs to score")
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _map(dataset, scorer: type, constructor_args: tuple, workers: int):
    ray = import_ray()
    # no more actors (each loading a model) than calls to give them
    workers = max(1, min(workers, -(-dataset.count() // FILES_PER_CALL)))
    return dataset.map_batches(
        scorer,
        fn_constructor_args=constructor_args,
        batch_size=FILES_PER_CALL,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
    )


def _prepare(ray, run, backend, tta, progress: bool) -> str:
    """Ray Data settings, and the backend the actors load (ONNX unless told otherwise)."""
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # rows in input order, as without Ray
    ctx.enable_progress_bars = progress
    if not progress:  # Ray Data logs its plan and progress at INFO
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    backend = "onnx" if backend == "auto" else backend
    # Load once here: a bad --run fails before any actor starts, and an ONNX export of the
    # detector is made once into the cache rather than by every actor at the same time.
    from ..inference import load

    load(run, backend=backend, tta=tta)
    return backend


def _workers(ray, workers: int | None) -> int:
    return max(1, workers or int(ray.cluster_resources().get("CPU", 1)))


def crop_scores(
    paths: Sequence[str] = (),
    manifest: str | os.PathLike | None = None,
    run: str | None = None,
    backend: str = "auto",
    tta: bool | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    threads: int = 1,
    progress: bool = False,
):
    """The lazy Dataset of crop rows, in an open Ray session (``ray_cluster``); iterate or write it."""
    ray = import_ray()
    backend = _prepare(ray, run, backend, tta, progress)
    return _map(path_dataset(paths, manifest), CropScorer, (run, backend, tta, batch_size, threads), _workers(ray, workers))


def score_crops_on_ray(
    paths: Sequence[str] = (),
    manifest: str | os.PathLike | None = None,
    run: str | None = None,
    backend: str = "auto",
    tta: bool | None = None,
    batch_size: int = 32,
    address: str = "local",
    workers: int | None = None,
    threads: int = 1,
    progress: bool = False,
) -> list[dict]:
    """Face crops -> one row per file (``path, prob_fake, verdict, error, evidence``), as ``Detector.score_files`` gives."""
    with ray_cluster(address, workers):
        ds = crop_scores(paths, manifest, run, backend, tta, batch_size, workers, threads, progress)
        return [{k: row[k] for k in PREDICT_COLUMNS} for row in ds.iter_rows()]


def predict_media_on_ray(
    paths: Sequence[str] = (),
    manifest: str | os.PathLike | None = None,
    run: str | None = None,
    backend: str = "auto",
    tta: bool | None = None,
    batch_size: int = 32,
    address: str = "local",
    workers: int | None = None,
    threads: int = 1,
    crops: bool | None = None,
    frames: int = 32,
    aggregate_by: str | None = None,
    face_detector: str | None = None,
    progress: bool = False,
) -> list:
    """Photos and videos -> the result objects of :func:`~fakelens.faces.batch.predict_media`, in input order."""
    with ray_cluster(address, workers) as ray:
        backend = _prepare(ray, run, backend, tta, progress)
        args = (run, backend, tta, batch_size, threads, face_detector, crops, frames, aggregate_by)
        ds = _map(path_dataset(paths, manifest), MediaScorer, args, _workers(ray, workers))
        return [row["result"] for row in ds.iter_rows()]
