"""Judge a retrained candidate against the bundled detector by the rule of docs/face-science.md (session 15, amended).

Reads what the CLI wrote; scores nothing itself. For each detector DIR (a run folder, or src/fakelens/weights):

    fakelens benchmark configs/bench/validation.yaml DIR --out OUT/bench-val            # validation sides, raw + matched
    for s in dfdc openforensics rvf10k headshots; do
      fakelens robustness DIR --data configs/data/$s.yaml --split val --max-images 400 --out OUT/robustness/$s
    done
    fakelens benchmark configs/bench/generalisation.yaml DIR --out OUT/bench-gen        # the audit gate (and the card)

then:

    python benchmarks/candidate_rule.py --default OUT_DEFAULT --candidate OUT_CANDIDATE

Steps: (2) degraded faces: mean ROC-AUC over the four sources x {resize 0.5, resize 0.25, JPEG 50, JPEG 30, social
chain} >= the default's + 0.005 (each source's mean is printed beside it); (3) raw guard: the five validation rows'
mean ROC-AUC not lower by more than 0.01 and no row by more than 0.02; (4) no row loses more than 0.05 to its size-
and JPEG-matched copy; gate: at most 3% of the audit sets' real faces called FAKE and no group more than 3 points
above another. Speed and size are the same for the same architecture and views, so they are not read here.

A plan may move step 2's margin (``--degraded-margin -0.003``: not worse by more than 0.003) and add step 5
(``--caught-gain 0.05``: DFDC validation fakes given the FAKE verdict at least 5 points above the default's), for a
candidate meant to move the verdict bands rather than the ranking (session 25). ``--report-only ROW`` prints an audit
row without judging it (a plan retires a row whose groups are too small), and ``--audit-gap-margin 0.01`` also holds
each judged audit row's group gap to the default's + 0.01 (session 36).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

VAL_ROWS = ["dfdc-val", "openforensics-val", "rvf10k-val", "stylegan2-vs-ffhq-val", "sd21-vs-ffhq-val"]
ROBUST_SOURCES = ["dfdc", "openforensics", "rvf10k", "headshots"]
DEGRADED = ["resize0.5", "resize0.25", "jpeg50", "jpeg30", "social720"]
AUDIT_PREFIX = "audit-"


def benchmark_rows(path: Path) -> dict[str, dict]:
    """dataset -> the detector's row (the size-only baseline left out); one detector per benchmark."""
    rows = [r for r in json.loads(path.read_text()) if r["detector"] != "size-only"]
    if len({r["detector"] for r in rows}) != 1:
        raise SystemExit(f"{path}: expected one detector's rows")
    return {r["dataset"]: r for r in rows}


def robustness_aucs(folder: Path) -> dict[tuple[str, str], float]:
    out = {}
    for source in ROBUST_SOURCES:
        with open(folder / source / "robustness.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                out[(source, row["perturbation"])] = float(row["roc_auc"])
    return out


def degraded_mean(aucs: dict[tuple[str, str], float], sources=ROBUST_SOURCES) -> float:
    """Mean ROC-AUC over ``sources`` x the degraded settings (step 2)."""
    return sum(aucs[(s, p)] for s in sources for p in DEGRADED) / (len(sources) * len(DEGRADED))


def audit_gate(rows: dict[str, dict], report_only=(), default_rows: dict[str, dict] | None = None, gap_margin: float | None = None) -> bool:
    """Each ``audit-`` row: at most 3% of its real faces called FAKE and no group more than 3 points above another.

    Rows in ``report_only`` are printed, not judged (a plan retires a row whose groups are too small to resolve 3
    points). With ``gap_margin``, a judged row's gap must also be at most the default's (``default_rows``) + it.
    """
    gate = True
    for name, row in rows.items():
        if not name.startswith(AUDIT_PREFIX) or name.endswith("(matched)"):
            continue
        accused, gap = row.get("real_called_fake_verdict") or 0.0, row.get("group_fpr_gap") or 0.0
        if name in report_only:
            print(f"reported, {name}: real called FAKE {accused:.3f}, group gap {gap:.3f} (not judged)")
            continue
        ok = accused <= 0.03 and gap <= 0.03
        extra = ""
        if gap_margin is not None:
            if default_rows is None or name not in default_rows:
                raise SystemExit(f"--audit-gap-margin: the default has no {name!r} row to compare with")
            default_gap = default_rows[name].get("group_fpr_gap") or 0.0
            ok &= gap <= default_gap + gap_margin + 1e-9
            extra = f" (default's {default_gap:.3f} + {gap_margin:.3f})"
        gate &= ok
        print(f"gate, {name}: real called FAKE {accused:.3f}, group gap {gap:.3f}{extra}: {'pass' if ok else 'FAIL'}")
    missing = set(report_only) - set(rows)
    if missing:
        raise SystemExit(f"--report-only names rows the benchmark does not have: {sorted(missing)}")
    return gate


def judge(
    default: Path,
    candidate: Path,
    degraded_margin: float = 0.005,
    caught_gain: float | None = None,
    report_only=(),
    audit_gap_margin: float | None = None,
) -> bool:
    dv, cv = benchmark_rows(default / "bench-val" / "benchmark.json"), benchmark_rows(candidate / "bench-val" / "benchmark.json")
    print("| validation ROC-AUC | default raw | candidate raw | default matched | candidate matched |\n|---|---|---|---|---|")
    for name in VAL_ROWS:
        m = f"{name} (matched)"
        print(f"| {name} | {dv[name]['roc_auc']:.3f} | {cv[name]['roc_auc']:.3f} | {dv[m]['roc_auc']:.3f} | {cv[m]['roc_auc']:.3f} |")
    mean = lambda rows, suffix="": sum(rows[n + suffix]["roc_auc"] for n in VAL_ROWS) / len(VAL_ROWS)  # noqa: E731
    worst = min(cv[n]["roc_auc"] - dv[n]["roc_auc"] for n in VAL_ROWS)
    step3 = mean(cv) >= mean(dv) - 0.01 and worst >= -0.02
    drop = max(cv[n]["roc_auc"] - cv[f"{n} (matched)"]["roc_auc"] for n in VAL_ROWS)
    step4 = drop <= 0.05
    dr, cr = robustness_aucs(default / "robustness"), robustness_aucs(candidate / "robustness")
    degraded_default, degraded_candidate = degraded_mean(dr), degraded_mean(cr)
    step2 = degraded_candidate >= degraded_default + degraded_margin
    print(
        f"\nstep 2, degraded faces (needs {degraded_margin:+.3f}): default {degraded_default:.4f}, candidate {degraded_candidate:.4f}: {'pass' if step2 else 'FAIL'}"
    )
    for s in ROBUST_SOURCES:  # where the step's gap comes from (reported; the step judges the mean)
        d, c = degraded_mean(dr, [s]), degraded_mean(cr, [s])
        print(f"  {s}: default {d:.3f} (clean {dr[(s, 'none')]:.3f}), candidate {c:.3f} (clean {cr[(s, 'none')]:.3f})")
    print(f"step 3, raw guard: mean {mean(dv):.4f} -> {mean(cv):.4f}, worst row {worst:+.4f}: {'pass' if step3 else 'FAIL'}")
    print(f"step 4, largest drop to a matched copy {drop:.4f}: {'pass' if step4 else 'FAIL'}")
    print("\n| validation, FAKE verdict | default: fakes / reals | candidate: fakes / reals |\n|---|---|---|")
    for name in VAL_ROWS:
        d, c = dv[name], cv[name]
        print(
            f"| {name} | {d['fakes_caught_verdict']:.3f} / {d['real_called_fake_verdict']:.3f} | {c['fakes_caught_verdict']:.3f} / {c['real_called_fake_verdict']:.3f} |"
        )
    step5 = True
    if caught_gain is not None:
        before, after = dv["dfdc-val"]["fakes_caught_verdict"], cv["dfdc-val"]["fakes_caught_verdict"]
        step5 = after >= before + caught_gain
        print(
            f"step 5, DFDC validation fakes at FAKE {before:.3f} -> {after:.3f} (needs +{caught_gain:.3f}): {'pass' if step5 else 'FAIL'}"
        )
    gen = candidate / "bench-gen" / "benchmark.json"
    if gen.is_file():
        default_gen = default / "bench-gen" / "benchmark.json"
        default_rows = benchmark_rows(default_gen) if audit_gap_margin is not None else None
        gate = audit_gate(benchmark_rows(gen), report_only, default_rows, audit_gap_margin)
    else:
        print(f"gate: {gen} missing, not judged")
        gate = False
    verdict = step2 and step3 and step4 and step5 and gate
    print(f"\ncandidate {'SHIPS' if verdict else 'does not ship'}")
    return verdict


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--default", type=Path, required=True, help="folder with bench-val/ and robustness/ of the bundled detector")
    p.add_argument("--candidate", type=Path, required=True, help="the same for the candidate, plus bench-gen/")
    p.add_argument("--degraded-margin", type=float, default=0.005, help="step 2: candidate >= default + this (default 0.005)")
    p.add_argument(
        "--caught-gain", type=float, default=None, help="step 5 (off unless given): DFDC validation fakes at FAKE >= default + this"
    )
    p.add_argument("--report-only", nargs="+", default=[], metavar="ROW", help="audit rows to print but not judge (a plan retires them)")
    p.add_argument(
        "--audit-gap-margin", type=float, default=None, help="each judged audit row's group gap <= the default's + this (off unless given)"
    )
    args = p.parse_args(argv)
    judge(args.default, args.candidate, args.degraded_margin, args.caught_gain, args.report_only, args.audit_gap_margin)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
