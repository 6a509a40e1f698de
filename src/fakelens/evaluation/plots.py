"""Plots people would rather look at than numbers: ROC, confusion matrix,
training curves, reliability diagram, leaderboard bars."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, roc_curve  # noqa: E402

from ..utils.atomic import save_figure  # noqa: E402


def plot_roc(curves: dict[str, tuple], path: str | os.PathLike, title: str = "ROC curve") -> None:
    """``curves`` maps a name to ``(labels, prob_fake)``; all are drawn on one chart."""
    fig, ax = plt.subplots(figsize=(5, 5))
    from sklearn.metrics import roc_auc_score

    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set(xlabel="False positive rate (real called fake)", ylabel="True positive rate (fake caught)", title=title)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)


def plot_confusion(confusion: list[list[int]], path: str | os.PathLike, title: str = "Confusion matrix") -> None:
    fig, ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay(np.asarray(confusion), display_labels=["REAL", "FAKE"]).plot(ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title)
    save_figure(fig, path)


def plot_history(history: list[dict], path: str | os.PathLike) -> None:
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    axes[0].plot(epochs, [h["val_loss"] for h in history], "o-", label="val")
    axes[0].set(xlabel="epoch", ylabel="loss", title="Loss")
    axes[1].plot(epochs, [h["val_accuracy"] for h in history], "o-", label="val accuracy")
    axes[1].plot(epochs, [h["val_roc_auc"] for h in history], "o-", label="val ROC-AUC")
    axes[1].set(xlabel="epoch", title="Validation")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_reliability(labels, prob_fake, path: str | os.PathLike, n_bins: int = 15, title: str = "Reliability") -> None:
    y = np.asarray(labels, dtype=float)
    p = np.asarray(prob_fake, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    centers, freq = [], []
    for b in range(n_bins):
        m = bins == b
        if m.any():
            centers.append(p[m].mean())
            freq.append(y[m].mean())
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(centers, freq, "o-")
    ax.set(xlabel="predicted P(fake)", ylabel="observed fraction fake", title=title)
    save_figure(fig, path)


def plot_leaderboard(rows: list[dict], path: str | os.PathLike) -> None:
    names = [r["name"] for r in rows]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names)), 4))
    for i, key in enumerate(("accuracy", "roc_auc", "f1")):
        ax.bar(x + (i - 1) * 0.27, [r.get(key) or 0 for r in rows], width=0.27, label=key)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.axhline(0.878, color="red", ls=":", lw=1, label="reference accuracy 0.878")
    ax.legend(fontsize=8)
    ax.set_title("Leaderboard (test split)")
    save_figure(fig, path)


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float | None]], ylabel: str, title: str) -> None:
    """One bar per series within each group (datasets or perturbations on the x axis)."""
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, [v if v is not None else 0 for v in values], width=width, label=name)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def plot_benchmark(rows: list[dict], path: str | os.PathLike) -> None:
    """ROC-AUC and the share of real faces called FAKE, per dataset and detector."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    detectors = list(dict.fromkeys(r["detector"] for r in rows))
    get = {(r["dataset"], r["detector"]): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(datasets) * 2), 4.5))
    _grouped_bars(
        axes[0], datasets, {d: [get[(s, d)].get("roc_auc") for s in datasets] for d in detectors}, "ROC-AUC", "ROC-AUC per dataset"
    )
    axes[0].axhline(0.5, color="grey", ls="--", lw=1)
    axes[0].set_ylim(0, 1)
    key = "real_called_fake_verdict" if any(r.get("real_called_fake_verdict") is not None for r in rows) else "real_called_fake"
    _grouped_bars(axes[1], datasets, {d: [get[(s, d)].get(key) for s in datasets] for d in detectors}, "share", "Real faces called FAKE")
    save_figure(fig, path)


def plot_robustness(rows: list[dict], path: str | os.PathLike) -> None:
    """Accuracy and ROC-AUC per perturbation (the unperturbed data first)."""
    names = [r["perturbation"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names)), 4.5))
    _grouped_bars(ax, names, {"accuracy": [r["accuracy"] for r in rows], "ROC-AUC": [r["roc_auc"] for r in rows]}, "", "Robustness")
    ax.set_ylim(0, 1)
    save_figure(fig, path)
