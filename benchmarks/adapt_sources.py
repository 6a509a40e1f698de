"""``fakelens adapt`` on each GAN and diffusion source that is on this machine: leave-one-source-out, 25-200 examples per class.

    FAKELENS_DFDC=/work/shared/data/dfdc-faces OMP_NUM_THREADS=2 python benchmarks/adapt_sources.py --out /work/results/adapt

For each source (face crops under ``$FAKELENS_DATA/crops/<name>/manifest.csv``)
only the images on the *test* side of the bundled detector's ``split.csv.gz``
are used (a source the default never trained on, such as cvface, uses all):
n fakes + n reals are drawn as the user's examples, the rest of that side is
measured. The source is left out of the memory bank for its own adapts (a user
has no bank of the new kind). Each adapt is the product's: ``fakelens.adapt.adapt``
on folders of the drawn crops, from the bundled detector.

Measured: ROC-AUC on the rest of the source (base, adapted), the share of its
held-back fakes given the FAKE verdict, the share of its reals accused (FAKE);
DFDC's test side (unseen by the base and by the bank): ROC-AUC before and after
and DFDC reals accused; and a cross-source check: adapted on one source of a
generator family, measured on another (rvf10k's StyleGAN -> headshots' StyleGAN2).
Writes ``adapt_sources.md`` and ``adapt_sources.json`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from make_memory_bank import trained_on  # noqa: E402

from fakelens.adapt import adapt  # noqa: E402
from fakelens.adapt.bank import BANK_FILE, MemoryBank  # noqa: E402
from fakelens.data.multisource import SourceSpec, expand_path, source_side  # noqa: E402
from fakelens.inference.detector import DEFAULT_DIR, Detector  # noqa: E402

#: The sources to adapt to, and what their fakes are (and whether the bundled default trained on that source).
SOURCES = {
    "rvf10k": "StyleGAN (FFHQ-like; default trained on its train side)",
    "headshots": "StyleGAN2 (default trained on its train side)",
    "sdfd": "Stable Diffusion 2.1 portraits (default trained on its train side; reals: rvf10k's)",
    "cvface": "Photoshop composites (never seen by the default)",
}
SIZES = (25, 50, 100, 200)
#: A source with fakes only borrows the real faces of another source's test side (said in the table: the two
#: sources' styles differ too, so the figures are an upper bound on what the fake alone teaches).
REALS_FROM = {"sdfd": "rvf10k"}
CROSS = [("rvf10k", "headshots")]


def pool_of(name: str, specs: dict[str, SourceSpec]):
    """The source's samples that the base did not train on: its test side (all of it, for a source the base never saw)."""
    if name in specs:
        return source_side(specs[name], DEFAULT_DIR / "split.csv.gz", "test")
    manifest = Path(expand_path("${FAKELENS_DATA:-~/fakelens-data}")) / "crops" / name / "manifest.csv"
    if not manifest.is_file():
        return []
    from fakelens.sources import Sample, load_samples

    return [Sample(s.path, s.label, s.group, name) for s in load_samples(manifest, require_both=False)]


class Embeddings:
    """The base's TTA-averaged logits and pooled features per image path, computed once."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.cache: dict[str, tuple[float, np.ndarray]] = {}

    def __call__(self, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        todo = [p for p in paths if p not in self.cache]
        for start in range(0, len(todo), 64):
            part = todo[start:start + 64]
            lg, ft = self.detector.embed_arrays([self.detector.decode(p) for p in part])
            self.cache.update({p: (float(a), b) for p, a, b in zip(part, lg, ft)})
        return np.array([self.cache[p][0] for p in paths]), np.stack([self.cache[p][1] for p in paths])


def figures(labels, probs, calibration) -> dict:
    from sklearn.metrics import roc_auc_score

    labels, probs = np.asarray(labels), np.asarray(probs)
    out = {"auc": float(roc_auc_score(labels, probs)) if len(set(labels.tolist())) == 2 else None}
    fake = probs >= calibration.bands.fake_from
    out["caught"] = float(fake[labels == 1].mean()) if (labels == 1).any() else None
    out["accused"] = float(fake[labels == 0].mean()) if (labels == 0).any() else None
    return out


def base_without(source: str, work: Path) -> Path:
    """The bundled detector with ``source`` taken out of its memory bank (the big files linked, not copied)."""
    folder = work / f"base-without-{source}"
    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    for name in ("model.safetensors", "model.onnx", "detector.json"):
        (folder / name).symlink_to(DEFAULT_DIR / name)
    bank = MemoryBank.load(DEFAULT_DIR / BANK_FILE)
    keep = bank.sources != source
    replace(bank, coords=bank.coords[keep], base_logits=bank.base_logits[keep], labels=bank.labels[keep],
            source_index=bank.source_index[keep]).save(folder / BANK_FILE)
    return folder


def plain_lr_auc(embed: "Embeddings", chosen, rest) -> float:
    """The issue's reference: a plain logistic regression on the pooled features of the examples, its AUC on the rest."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, x = embed([s.path for s in chosen])
    _, x_rest = embed([s.path for s in rest])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, [s.label for s in chosen])
    return float(roc_auc_score([s.label for s in rest], model.decision_function(x_rest)))


def draw(samples, n: int, rng: np.random.Generator):
    """n fakes and n reals (by group: a group's images all on one side), and the rest."""
    chosen = []
    for label in (1, 0):
        groups = sorted({s.group for s in samples if s.label == label})
        order = rng.permutation(len(groups))
        picked, count = set(), 0
        by_group = {}
        for s in samples:
            if s.label == label:
                by_group.setdefault(s.group, []).append(s)
        for i in order:
            if count >= n:
                break
            picked.add(groups[i])
            count += len(by_group[groups[i]])
        chosen += [s for g in sorted(picked) for s in by_group[g]][:n]
    taken = {s.path for s in chosen}
    chosen_groups = {s.group for s in chosen}
    rest = [s for s in samples if s.path not in taken and s.group not in chosen_groups]
    return chosen, rest


def adapt_on(chosen, work: Path, base: Path, seed: int) -> tuple[Path, float]:
    folders = {1: work / "fake", 0: work / "real"}
    for f in folders.values():
        f.mkdir(parents=True)
    for i, s in enumerate(chosen):
        (folders[s.label] / f"{i:05d}{Path(s.path).suffix}").symlink_to(Path(s.path).resolve())
    t0 = time.perf_counter()
    adapt([folders[1]], [folders[0]], work / "new", base=base, seed=seed, progress=False, crops=True, warn=lambda text: None)
    return work / "new", time.perf_counter() - t0


def dfdc_test(max_per_class: int, rng: np.random.Generator, specs: dict[str, SourceSpec]):
    if "dfdc" not in specs or not specs["dfdc"].resolved_path.exists():
        return []
    samples = source_side(specs["dfdc"], DEFAULT_DIR / "split.csv.gz", "test")
    out = []
    for label in (0, 1):
        items = [s for s in samples if s.label == label]
        out += [items[i] for i in sorted(rng.permutation(len(items))[:max_per_class])]
    return out


def adapt_row(name, n, d, pool, seed, work, embed, base, adapted_dirs, dfdc, dfdc_y, dfdc_lg, dfdc_ft) -> dict:
    """One adapt on draw ``d`` of n + n examples of ``name``, measured on the rest of its pool and on DFDC's test side."""
    chosen, rest = draw(pool, n, np.random.default_rng(seed + n + 1000 * d))
    folder, seconds = adapt_on(chosen, work / f"{name}-{n}-{d}", base_without(name, work), seed + d)
    if d == 0:
        adapted_dirs[(name, n)] = folder
    new = Detector.from_dir(folder)
    y = np.array([s.label for s in rest])
    lg, ft = embed([s.path for s in rest])
    row = {"source": name, "what": SOURCES.get(name, ""), "n": n, "draw": d,
           "rest_real": int((y == 0).sum()), "rest_fake": int((y == 1).sum()),
           "seconds": round(seconds, 1),
           "base": figures(y, base.calibration.proba(lg), base.calibration),
           "adapted": figures(y, new.calibration.proba(new.adapter.logits(lg, ft)), new.calibration)}
    if dfdc:
        row["dfdc_base"] = figures(dfdc_y, base.calibration.proba(dfdc_lg), base.calibration)
        row["dfdc_adapted"] = figures(dfdc_y, new.calibration.proba(new.adapter.logits(dfdc_lg, dfdc_ft)), new.calibration)
    row["plain_lr_auc"] = plain_lr_auc(embed, chosen, rest)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="/work/results/adapt")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--sources", nargs="+", default=list(SOURCES))
    p.add_argument("--dfdc-per-class", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=1, help="draws of the examples per source and size (the first is --seed's); "
                   "with more than one, a table of each figure's mean and range over the draws follows")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = {s.name: s for s in trained_on(DEFAULT_DIR)}
    base = Detector.from_dir(DEFAULT_DIR)
    embed = Embeddings(base)
    rng = np.random.default_rng(args.seed)
    dfdc = dfdc_test(args.dfdc_per_class, rng, specs)
    dfdc_y = np.array([s.label for s in dfdc])
    dfdc_lg, dfdc_ft = embed([s.path for s in dfdc]) if dfdc else (None, None)
    pools = {name: pool_of(name, specs) for name in args.sources}
    for name, partner in REALS_FROM.items():
        if pools.get(name) and not any(s.label == 0 for s in pools[name]):
            pools[name] = pools[name] + [s for s in pool_of(partner, specs) if s.label == 0]
    rows, adapted_dirs = [], {}
    work = Path(tempfile.mkdtemp(prefix="fakelens-adapt-sources-"))
    for name, pool in pools.items():
        if not pool:
            print(f"{name}: absent; skipped", file=sys.stderr)
            continue
        for n in args.sizes:
            if min(sum(s.label == c for s in pool) for c in (0, 1)) < n + 20:
                print(f"{name}: too few images for {n} per class and a rest to measure", file=sys.stderr)
                continue
            for d in range(args.draws):
                rows.append(adapt_row(name, n, d, pool, args.seed, work, embed, base, adapted_dirs, dfdc, dfdc_y, dfdc_lg, dfdc_ft))
                print(json.dumps(rows[-1]), file=sys.stderr)
    cross = []
    for src, dst in CROSS:
        folder = adapted_dirs.get((src, 100))
        if folder is None or not pools.get(dst):
            continue
        new = Detector.from_dir(folder)
        y = np.array([s.label for s in pools[dst]])
        lg, ft = embed([s.path for s in pools[dst]])
        cross.append({"adapted_on": src, "measured_on": dst, "n": 100, "real": int((y == 0).sum()), "fake": int((y == 1).sum()),
                      "base": figures(y, base.calibration.proba(lg), base.calibration),
                      "adapted": figures(y, new.calibration.proba(new.adapter.logits(lg, ft)), new.calibration)})
    dfdc_counts = {"real": int((dfdc_y == 0).sum()), "fake": int((dfdc_y == 1).sum())} if dfdc else None
    result = {"rows": rows, "cross": cross, "dfdc_test": dfdc_counts,
              "absent": [k for k, v in pools.items() if not v], "bank": MemoryBank.load(DEFAULT_DIR / BANK_FILE).counts(),
              "cores": len(os.sched_getaffinity(0))}
    (out / "adapt_sources.json").write_text(json.dumps(result, indent=2))
    (out / "adapt_sources.md").write_text(markdown(result))
    print(markdown(result))


def _p(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _a(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def draws_table(rows: list[dict]) -> list[str]:
    """Mean and range over the draws of each source and size (nothing when each was drawn once)."""
    cells: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        cells.setdefault((r["source"], r["n"]), []).append(r)
    if all(len(v) < 2 for v in cells.values()):
        return []

    def spread(values, fmt) -> str:
        values = [v for v in values if v is not None]
        return f"{fmt(float(np.mean(values)))} ({fmt(min(values))}-{fmt(max(values))})" if values else "n/a"

    lines = ["", "Over several draws of the examples (mean, and the range over the draws):", "",
             "| source | examples per class | draws | AUC adapted | held-back fakes at FAKE | its reals accused | DFDC reals accused |",
             "|---|---|---|---|---|---|---|"]
    for (source, n), rs in cells.items():
        lines.append(f"| {source} | {n} | {len(rs)} | {spread([r['adapted']['auc'] for r in rs], _a)} | "
                     f"{spread([r['adapted']['caught'] for r in rs], _p)} | {spread([r['adapted']['accused'] for r in rs], _p)} | "
                     f"{spread([r.get('dfdc_adapted', {}).get('accused') for r in rs], _p)} |")
    return lines


def markdown(result: dict) -> str:
    lines = ["| source (fakes) | examples per class | rest (real / fake) | AUC base -> adapted | plain LR on features (reference) "
             "| held-back fakes at FAKE (base -> adapted) | its reals accused (base -> adapted) | DFDC test AUC base -> adapted (change) "
             "| DFDC reals accused | adapt time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in [r for r in result["rows"] if r.get("draw", 0) == 0]:
        b, a = r["base"], r["adapted"]
        dfdc = "n/a"
        acc = "n/a"
        if "dfdc_base" in r:
            db, da = r["dfdc_base"], r["dfdc_adapted"]
            dfdc = f"{_a(db['auc'])} -> {_a(da['auc'])} ({da['auc'] - db['auc']:+.4f})"
            acc = f"{_p(db['accused'])} -> {_p(da['accused'])}"
        lines.append(f"| {r['source']}: {r['what']} | {r['n']} | {r['rest_real']} / {r['rest_fake']} | {_a(b['auc'])} -> {_a(a['auc'])} | "
                     f"{_a(r.get('plain_lr_auc'))} | "
                     f"{_p(b['caught'])} -> {_p(a['caught'])} | {_p(b['accused'])} -> {_p(a['accused'])} | {dfdc} | {acc} | "
                     f"{r['seconds']} s |")
    lines += draws_table(result["rows"])
    if result["cross"]:
        lines += ["", "Cross-source (adapted on one source of a generator family, measured on all of another source's test side):", "",
                  "| adapted on (100 + 100) | measured on (real / fake) | AUC base -> adapted | fakes at FAKE | reals accused |",
                  "|---|---|---|---|---|"]
        for c in result["cross"]:
            b, a = c["base"], c["adapted"]
            lines.append(f"| {c['adapted_on']} | {c['measured_on']} ({c['real']} / {c['fake']}) | {_a(b['auc'])} -> {_a(a['auc'])} | "
                         f"{_p(b['caught'])} -> {_p(a['caught'])} | {_p(b['accused'])} -> {_p(a['accused'])} |")
    if result["absent"]:
        lines += ["", f"Not on this machine when measured: {', '.join(result['absent'])}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
