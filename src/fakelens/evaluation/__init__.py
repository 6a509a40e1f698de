"""Evaluation: metrics, calibration, plots, leaderboards."""

from ..stats.calibration import choose_threshold, fit_temperature
from ..stats.metrics import compute_metrics, expected_calibration_error

__all__ = ["choose_threshold", "fit_temperature", "compute_metrics", "expected_calibration_error"]
