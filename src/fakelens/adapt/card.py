"""The adapted detector's model card: what it was adapted from and on, how it did on held-back examples, what was not checked."""

from __future__ import annotations

from ..inference.detector import Detector
from .examples import Examples
from .fit import Fitted


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def model_card(summary: dict, fitted: Fitted, base: Detector, examples: Examples) -> str:
    info = fitted.adapter.info
    bands = fitted.bands
    lines = [
        "# fakelens adapted detector: model card",
        "",
        f"**Adapted from**: {info['from']} (`{base.model_name}`, {base.preprocess.image_size} px, weights sha256 "
        f"`{info['base_weights_sha256'][:16]}...`), with `fakelens adapt` (fakelens {info['fakelens_version']}, seed {info['seed']}, "
        f"{info['adapted_at']}). The base's network is unchanged; a logistic-regression head on its pooled features is fused "
        f"with its score: logit = {fitted.adapter.base_weight:.3f} x base logit + {fitted.adapter.head_weight:.3f} x "
        f"max(0, head logit - {fitted.adapter.head_offset:.3f}) {fitted.adapter.bias:+.3f}. Where the head stays below "
        "its offset (the real faces it was fitted against, and nearly all of the base's own data) the adapted detector "
        "ranks faces as its base does.",
        "",
        f"**Verdicts**: REAL when P(fake) < {bands.real_below:.4f}, FAKE when P(fake) >= {bands.fake_from:.4f}, UNCERTAIN in between. "
        f"Binary threshold {fitted.threshold:.4f}.",
        "",
        "## Adapted on",
        "",
        "| folder | real | fake |",
        "|---|---|---|",
    ]
    for source, counts in summary["examples"].items():
        lines.append(f"| {source} | {counts.get('real', 0)} | {counts.get('fake', 0)} |")
    sizes = info["image_sizes"]
    lines += [
        "",
        f"Files: {', '.join('.' + f for f in info['formats'])}; width x height median {sizes['median'][0]} x {sizes['median'][1]}, "
        f"from {sizes['min'][0]} x {sizes['min'][1]} to {sizes['max'][0]} x {sizes['max'][1]}. "
        f"{info['skipped']} file(s) skipped (unreadable or no face). Faces were found and framed as `fakelens predict` does.",
        f"{summary['fitted_on']} faces fitted the head; {summary['held_back']} were held back (stratified by class, near-duplicates "
        "and a video's frames kept on one side) for the figures below.",
        "",
    ]
    bank = info.get("memory_bank")
    if bank:
        lines += [
            "The head, the fusion and the bands were also fitted on the base's memory bank (validation faces of its own "
            "training sources, as features and scores, not images): "
            + ", ".join(f"{k} {v['real']} real / {v['fake']} fake" for k, v in bank.items())
            + ".",
            "",
        ]
    else:
        lines += ["**No memory bank** came with the base: nothing kept its behaviour on its own training sources.", ""]
    val = info["validation"]
    lines += [
        "## Held-back examples",
        "",
        f"{val['base']['n_real']} real and {val['base']['n_fake']} fake faces the adaptation did not see.",
        "",
        "| detector | ROC-AUC | accuracy at threshold | fakes caught (FAKE) | reals accused (FAKE) | uncertain |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("base", "adapted"):
        f = val[name]
        lines.append(
            f"| {name} | {_num(f['auc'])} | {_pct(f['accuracy'])} | {_pct(f.get('caught'))} | {_pct(f.get('accused'))} | "
            f"{_pct(f.get('uncertain'))} |"
        )
    lines += [
        "",
        "With this few faces held back, each figure is uncertain by several points.",
        "",
        "## Real faces accused (FAKE verdict), before and after",
        "",
        "The FAKE cut was raised until no population of real faces is accused more often than by the base with its own bands "
        "(out-of-fold scores for the faces the head was fitted on).",
        "",
        "| real faces | base | adapted |",
        "|---|---|---|",
    ]
    for name, before in fitted.accused_before.items():
        lines.append(f"| {name} | {_pct(before)} | {_pct(fitted.accused_after[name])} |")
    if summary.get("few_reals"):
        lines += ["", f"**Few real examples**: {summary['few_reals']}."]
    has_video = any(p.lower().endswith((".mp4", ".avi", ".mov", ".mkv", ".webm")) for p in examples.paths)
    lines += [
        "",
        "## Not checked",
        "",
        "- Any fake not like the examples above: other generators, editing tools or face swaps may score as the base "
        "scores them, or lower.",
        "- Real faces unlike the examples and the memory bank's sources (other cameras, ages, skin tones, lighting, make-up, "
        "filters): the bands hold for the populations above only.",
        "- Images outside the sizes and formats above, or re-compressed, resized or screenshotted copies of them.",
        "- Videos." if not has_video else "- Video-level verdicts: video examples were used as a few frames each.",
        "- The heatmaps of `fakelens explain` show the base network's evidence, not the head's.",
        "- Fairness across groups of people: no per-group figures were computed for the adaptation.",
        "",
    ]
    return "\n".join(lines)
