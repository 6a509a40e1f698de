"""Hyper-parameter search with Optuna: each trial is a short training run.

The study lives in an SQLite file in the output folder, so an interrupted
search resumes where it stopped; bad trials are pruned on their per-epoch
validation ROC-AUC; the best parameters are written as a training config.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from ..utils.atomic import write_json, write_text
from .callbacks import Callback
from .config import TrainConfig

SEARCH_SPACE = {
    "lr": ("float_log", 1e-4, 3e-3),
    "weight_decay": ("float_log", 1e-3, 0.2),
    "freeze_epochs": ("int", 0, 2),
    "aug_strength": ("float", 0.0, 1.0),
    "image_size": ("choice", [128, 160, 192, 224]),
}


class _OptunaPruning(Callback):
    """Report each epoch's validation ROC-AUC to Optuna and stop hopeless trials."""

    def __init__(self, trial):
        self.trial = trial

    def on_epoch_end(self, trainer, logs):
        import optuna

        score = logs.get("val_roc_auc")
        if score is None:
            return
        self.trial.report(score, logs["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"val ROC-AUC {score:.4f} at epoch {logs['epoch']}")


def suggest(trial, space: dict, fixed_image_size: int | None = None) -> dict:
    params = {}
    for name, (kind, *args) in space.items():
        if name == "image_size" and fixed_image_size:
            continue
        if kind == "float_log":
            params[name] = trial.suggest_float(name, args[0], args[1], log=True)
        elif kind == "float":
            params[name] = trial.suggest_float(name, args[0], args[1])
        elif kind == "int":
            params[name] = trial.suggest_int(name, args[0], args[1])
        else:
            params[name] = trial.suggest_categorical(name, args[0])
    return params


def tune(
    base: TrainConfig,
    out: str | Path,
    n_trials: int = 20,
    timeout: float | None = None,
    seed: int = 0,
    space: dict | None = None,
    quiet: bool = True,
):
    """Run (or resume) the search; returns the Optuna study."""
    import optuna

    from .trainer import Trainer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    space = space or SEARCH_SPACE
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    study = optuna.create_study(
        study_name="fakelens",
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    # Trials interrupted by a kill stay RUNNING in the database; count only finished ones.
    done = sum(t.state.is_finished() for t in study.trials)

    def objective(trial) -> float:
        params = suggest(trial, space, base.image_size if "image_size" not in space else None)
        cfg = dataclasses.replace(base, out=str(out / "trials" / f"trial-{trial.number:03d}"), patience=0, **params)
        trainer = Trainer(cfg, callbacks=[_OptunaPruning(trial)], quiet=quiet)
        trainer.fit()
        # Select on validation only: the test split is never looked at while tuning.
        return float(trainer.state["best_score"])

    remaining = max(0, n_trials - done)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(RuntimeError,))
    _write_results(study, base, out)
    return study


def _write_results(study, base: TrainConfig, out: Path) -> None:
    import optuna
    import yaml

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params} for t in study.trials]
    write_json(out / "trials.json", trials)
    if not complete:
        return
    best = dataclasses.replace(base, **study.best_params)
    cfg = {k: v for k, v in best.to_dict().items() if k not in ("out",)}
    write_text(
        out / "best_config.yaml",
        "# best of %d finished trials: val ROC-AUC %.4f\n" % (len(complete), study.best_value) + yaml.safe_dump(cfg, sort_keys=False),
    )
    write_json(out / "best.json", {"value": study.best_value, "params": study.best_params, "trial": study.best_trial.number})
    try:
        from ..utils.atomic import save_figure

        with warnings.catch_warnings():  # optuna marks its matplotlib plots experimental
            warnings.simplefilter("ignore")
            ax = optuna.visualization.matplotlib.plot_optimization_history(study)
        save_figure(ax.figure, out / "optimization_history.png")
    except Exception:  # noqa: BLE001 - a plot must never fail the search
        pass
