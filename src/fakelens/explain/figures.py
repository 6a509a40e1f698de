"""Figures a person reads at a glance: face | Grad-CAM | LIME, with the verdict on top.

Built on ``matplotlib.figure.Figure`` rather than pyplot, so no global figure
state is touched and figures can be made from worker threads (the service).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure

from ..provenance import combine, short_evidence
from .faithfulness import Faithfulness
from .results import Explanation

VERDICT_COLOURS = {"FAKE": "#c0392b", "REAL": "#1e8449"}
PANEL_INCHES = 2.6


def _panels(e: Explanation) -> list[tuple[str, object, str]]:
    """(column title, image, caption) for each panel this explanation has."""
    panels = [("face", e.rgb, Path(e.source).name if e.source else "")]
    if e.gradcam is not None:
        # an all-zero map: nothing in the face raised the FAKE logit, so there is nothing to check
        caption = _faithfulness_caption(e.faithfulness.get("gradcam")) if e.gradcam.heatmap.max() > 0 else "no region pushes toward FAKE"
        panels.append((f"Grad-CAM ({e.gradcam.method})\nred: pushes toward FAKE", e.gradcam.overlay, caption))
    if e.lime is not None:
        k = len(e.lime.top_segments)
        panels.append(
            (f"LIME top-{k}\nred: toward FAKE, green: toward REAL", e.lime.overlay, _faithfulness_caption(e.faithfulness.get("lime")))
        )
    return panels


def _faithfulness_caption(check: Faithfulness | None) -> str:
    if check is None:
        return "faithfulness: n/a"
    return f"faithfulness {check.score:+.3f}\nP(fake) drop: top {check.drop_top:+.3f} vs random {check.drop_random:+.3f}"


def verdict_text(e: Explanation) -> str:
    """``UNCERTAIN: fake-likeness 0.92 (REAL below 0.30, FAKE from 0.97)``: the verdict with its score on the bands' scale."""
    from ..inference.calibration import verdict_with_score

    return verdict_with_score(e.label, e.prob_fake, e.bands)


def evidence_text(e: Explanation) -> str:
    """The title line for the file's provenance: what it says and what the policy makes of it ("" when it says nothing)."""
    if not e.evidence:
        return ""
    verdict, reasons, warnings = combine(e.label, e.evidence)
    line = f"evidence: {short_evidence(e.evidence)}"
    if reasons:
        line += f"  ->  image {verdict}"
    elif warnings:
        line += "  (invalid manifest: not trusted)"
    return line


def explanation_figure(e: Explanation) -> Figure:
    """One face: the panels side by side, titled with the verdict and its score."""
    panels = _panels(e)
    fig = Figure(figsize=(PANEL_INCHES * len(panels), PANEL_INCHES + 1.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, image, caption) in zip(axes, panels):
        ax.imshow(image)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(caption, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    line = evidence_text(e)
    title = verdict_text(e) + (f"\n{line}" if line else "")
    fig.suptitle(title, fontsize=13 if not line else 11, fontweight="bold", color=VERDICT_COLOURS.get(e.label, "black"))
    return fig


def explanation_grid(explanations: Sequence[Explanation], title: str | None = None) -> Figure:
    """A batch: one row per face, one column per panel; the verdict labels each row."""
    if not explanations:
        raise ValueError("no explanations to draw")
    rows = [_panels(e) for e in explanations]
    n_cols = max(len(r) for r in rows)
    fig = Figure(figsize=(PANEL_INCHES * n_cols, (PANEL_INCHES + 0.45) * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (e, panels) in enumerate(zip(explanations, rows)):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(panels):
                ax.axis("off")
                continue
            col_title, image, caption = panels[c]
            ax.imshow(image)
            ax.set_xlabel(caption, fontsize=7)
            if r == 0:
                ax.set_title(col_title, fontsize=8)
        axes[r, 0].set_ylabel(
            verdict_text(e).replace("  ", "\n"), fontsize=9, fontweight="bold", color=VERDICT_COLOURS.get(e.label, "black")
        )
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
