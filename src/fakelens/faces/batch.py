"""Many photos and videos -> results -> CSV rows or one JSON; used by ``fakelens predict``.

Every input gets a result: a bad file gets ``status: error`` with the reason
and the batch goes on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, TextIO, Union

from ..imaging.imageio import is_video_path
from ..inference.files import expand_inputs, write_rows
from ..utils.atomic import write_json
from ..utils.paths import safe_child, safe_name
from .photo import ERROR, NO_FACE, PHOTO_COLUMNS, LocatedPhoto, PhotoResult, locate_faces, photo_result
from .pipeline import FacePipeline
from .video import VIDEO_COLUMNS, VideoResult, predict_video

MediaResult = Union[PhotoResult, VideoResult]


def expand_media(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given; folders expanded to their images and videos, sorted (:func:`~fakelens.inference.files.expand_inputs`)."""
    return expand_inputs(inputs, videos=True)


def _annotation_paths(source: str, annotate_dir: Path, taken: set[str]) -> str:
    """``DIR/<stem>`` made unique when two inputs share a file name.

    The stem is made a plain name first (``..jpg`` has the stem ``.``, which
    would put ``DIR.jpg`` beside the folder), and the annotations it names
    (``<stem>.jpg``, ``<stem>_probs.png``, ...) are checked to stay in ``DIR``.
    """
    stem = safe_name(Path(source).stem)
    name, k = stem, 1
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name)
    return str(safe_child(annotate_dir, name))


#: Photos located ahead of the model and scored in one call: large enough to fill a model batch with the
#: crops of many small photos, small enough to bound the decoded images held at once.
PHOTO_CHUNK = 32


def predict_media(
    detector,
    paths: Iterable[str],
    crops: bool | None = None,
    frames: int = 32,
    aggregate_by: str | None = None,
    annotate_dir: str | os.PathLike | None = None,
    face_detector=None,
    progress: bool = False,
    workers: int | None = 1,
) -> list[MediaResult]:
    """Photos and videos (by file extension; anything else is tried as a photo).

    Photos go in chunks of :data:`PHOTO_CHUNK`: their faces are located in a
    worker thread while the previous chunk's crops are scored in one batch,
    so face search and the model overlap and a folder of small photos or
    crops is not scored one image at a time. ``workers`` > 1 (None: one per
    core for :data:`PROCESS_MIN_PHOTOS` photos or more) spreads the chunks over
    that many processes, each with its own model session on one thread: the
    face detector holds Python's GIL, so threads alone cannot use two cores.
    It needs an ONNX detector loaded from a folder and a face detector given
    by name (else this process does all), and, as any use of multiprocessing,
    a script that calls it behind ``if __name__ == "__main__":`` (the CLI does).

    With ``annotate_dir``: ``<stem>.jpg`` for a photo; for a video
    ``<stem>.mp4`` (the sampled frames with boxes, H.264), ``<stem>_probs.png``
    (P(fake) per frame) and ``<stem>.json`` (its full result).
    """
    from tqdm.auto import tqdm

    pipeline = FacePipeline.of(detector, face_detector)
    annotate_dir = Path(annotate_dir) if annotate_dir is not None else None
    taken: set[str] = set()
    paths = list(paths)
    outs = [_annotation_paths(p, annotate_dir, taken) if annotate_dir is not None else None for p in paths]
    results: list[MediaResult | None] = [None] * len(paths)
    bar = tqdm(total=len(paths), desc="predicting", unit="file", disable=not progress)
    photos = []
    for i, path in enumerate(paths):
        if is_video_path(path):
            results[i] = _predict_video_file(pipeline, path, outs[i], frames, aggregate_by)
            bar.update(1)
        else:
            photos.append(i)
    photo_paths, photo_outs = [paths[i] for i in photos], [outs[i] for i in photos]
    processes = _worker_processes(pipeline, len(photos), workers)
    chunks = (
        _predict_photo_chunks_in_processes(pipeline, photo_paths, crops, photo_outs, processes)
        if processes > 1
        else _predict_photo_chunks(pipeline, photo_paths, crops, photo_outs)
    )
    for chunk_results in chunks:
        for i, result in zip(photos, chunk_results):
            results[i] = result
        photos = photos[len(chunk_results) :]
        bar.update(len(chunk_results))
    bar.close()
    return results  # type: ignore[return-value]


#: From this many photos on, predict_media spreads them over processes by default (start-up costs ~1 s each).
PROCESS_MIN_PHOTOS = 256


def _worker_processes(pipeline: FacePipeline, n_photos: int, workers: int | None) -> int:
    """How many processes to score ``n_photos`` with: 1 (this one) unless it pays and the pipeline can be rebuilt."""
    from ..inference.onnx_backend import default_threads

    detector = pipeline.detector
    rebuildable = (
        getattr(detector, "backend", None) == "onnx"
        and getattr(detector, "source", None) is not None
        and pipeline.face_detector_name is not None
    )
    if workers is None:
        workers = default_threads() if n_photos >= PROCESS_MIN_PHOTOS else 1
    return max(1, min(int(workers), -(-n_photos // PHOTO_CHUNK))) if rebuildable else 1


def _predict_video_file(pipeline: FacePipeline, path: str, out: str | None, frames: int, aggregate_by: str | None) -> VideoResult:
    try:
        result = predict_video(
            pipeline,
            path,
            frames=frames,
            aggregate_by=aggregate_by,
            annotate_video=f"{out}.mp4" if out else None,
            plot=f"{out}_probs.png" if out else None,
        )
        if out:
            write_json(f"{out}.json", result.to_dict())
        return result
    except (MemoryError, OSError) as exc:
        # Bad input is reported by the readers; this is what is left (out of memory on a giant
        # frame, a full disk for the annotations): one item fails, the batch goes on.
        return VideoResult(path, ERROR, error=_failure(path, exc), aggregate=aggregate_by or pipeline.video_aggregate)


def _failure(path: str, exc: BaseException) -> str:
    """The error field for an item that failed outside the readers' own checks."""
    return f"{path}: {exc.__class__.__name__}: {exc}"


def _locate(pipeline: FacePipeline, path: str, crops: bool | None) -> LocatedPhoto | PhotoResult:
    try:
        return locate_faces(pipeline, path, crops)
    except (MemoryError, OSError) as exc:
        return PhotoResult(path, ERROR, error=_failure(path, exc))


def _predict_photo_chunks(pipeline: FacePipeline, paths: list[str], crops: bool | None, outs: list[str | None]):
    """Yield the results of each chunk of photos, in order; the next chunk's faces are located meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    starts = range(0, len(paths), PHOTO_CHUNK)
    # One locating thread: the face detector runs single-threaded, beside the model's threads.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fakelens-locate") as pool:
        locate_chunk = lambda k: pool.submit(lambda: [_locate(pipeline, p, crops) for p in paths[k : k + PHOTO_CHUNK]])  # noqa: E731
        pending = locate_chunk(0) if paths else None
        for k in starts:
            located = pending.result()
            pending = locate_chunk(k + PHOTO_CHUNK) if k + PHOTO_CHUNK < len(paths) else None
            yield _score_located(pipeline, located, outs[k : k + PHOTO_CHUNK])


def _score_located(pipeline: FacePipeline, located: list, outs: list[str | None]) -> list[PhotoResult]:
    """Score every crop of a chunk of located photos in one call, then make (and annotate) each photo's result."""
    ready = [item for item in located if isinstance(item, LocatedPhoto)]
    try:
        probs = pipeline.score([c for item in ready for c in item.crops])
    except MemoryError:  # one photo with many faces is too much in one batch: score photo by photo
        probs = None
    chunk, offset = [], 0
    for item, out in zip(located, outs):
        if isinstance(item, PhotoResult):
            chunk.append(item)
            continue
        try:
            mine = pipeline.score(item.crops) if probs is None else probs[offset : offset + len(item.crops)]
            chunk.append(photo_result(pipeline, item, mine, annotate_to=f"{out}.jpg" if out else None))
        except (MemoryError, OSError) as exc:  # e.g. a full disk for the annotation
            chunk.append(PhotoResult(item.path, ERROR, error=_failure(item.path, exc)))
        offset += len(item.crops)
    return chunk


def result_rows(results: Iterable[MediaResult]) -> tuple[list[dict], list[str]]:
    """Flat rows (one per face) and their columns: photo columns, then the video ones when videos are present."""
    results = list(results)
    rows = [row for r in results for row in r.rows()]
    columns = list(PHOTO_COLUMNS)
    if any(isinstance(r, VideoResult) for r in results):
        columns += [c for c in VIDEO_COLUMNS if c not in columns]
    return rows, columns


def write_results(results: list[MediaResult], output: str | os.PathLike | None = None, stream: TextIO | None = None) -> None:
    """``.json``: every result in full (per frame, per person, per video). Otherwise rows, one per face: Parquet
    for a ``.parquet`` file, else CSV to ``output`` or ``stream`` (standard output); with videos, the full JSON
    is also written beside the file. Written by the one writer, :func:`~fakelens.inference.files.write_rows`."""
    rows, columns = result_rows(results)
    full = [r.to_dict() for r in results]
    write_rows(rows, output, columns, stream=stream, json_payload=full, extra_columns=False)
    if output is not None and not str(output).lower().endswith(".json") and any(isinstance(r, VideoResult) for r in results):
        write_json(Path(output).with_suffix(".json"), full)


def summary(results: list[MediaResult]) -> tuple[int, int]:
    """(number of failed inputs, number of inputs without a face)."""
    return sum(r.status == ERROR for r in results), sum(r.status == NO_FACE for r in results)


# ------------------------------------------------------------------ worker processes
_WORKER_PIPELINE: FacePipeline | None = None


def _init_worker(source: str, calibration, face_detector: str | None, crop_size: int, jpeg_quality: int | None, batch_size: int) -> None:
    """A worker's own pipeline: the same detector (weights, export, calibration) with one model thread."""
    global _WORKER_PIPELINE
    from ..inference.detector import Detector

    detector = Detector.from_dir(source, backend="onnx", threads=1)
    detector.calibration = calibration  # as the caller has it (e.g. --no-tta)
    _WORKER_PIPELINE = FacePipeline(detector, face_detector, crop_size, jpeg_quality, batch_size)


def _worker_chunk(paths: list[str], crops: bool | None, outs: list[str | None]) -> list[PhotoResult]:
    return _score_located(_WORKER_PIPELINE, [_locate(_WORKER_PIPELINE, p, crops) for p in paths], outs)


def _predict_photo_chunks_in_processes(
    pipeline: FacePipeline, paths: list[str], crops: bool | None, outs: list[str | None], processes: int
):
    """:func:`_predict_photo_chunks` over ``processes`` worker processes, results in order; at most two chunks in
    flight per worker. If a worker dies (killed for memory), the chunks not done are scored here."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    det = pipeline.detector
    # spawn: a fork would copy this process's ONNX Runtime and OpenMP thread pools in an unusable state
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(det.source, det.calibration, pipeline.face_detector_name, pipeline.crop_size, pipeline.jpeg_quality, pipeline.batch_size),
    )
    submit = lambda k: (k, pool.submit(_worker_chunk, paths[k : k + PHOTO_CHUNK], crops, outs[k : k + PHOTO_CHUNK]))  # noqa: E731
    starts = iter(range(0, len(paths), PHOTO_CHUNK))
    pending: deque = deque()
    try:
        for k in starts:
            pending.append(submit(k))
            if len(pending) >= 2 * processes:
                break
        while pending:
            k, future = pending.popleft()
            try:
                chunk = future.result()
            except BrokenProcessPool:  # chunks are submitted in order: everything from k on is left
                pending.clear()
                yield from _predict_photo_chunks(pipeline, paths[k:], crops, outs[k:])
                return
            nxt = next(starts, None)
            if nxt is not None:
                pending.append(submit(nxt))
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
