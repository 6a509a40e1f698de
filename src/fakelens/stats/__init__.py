"""Fitting and scoring on labelled scores, NumPy/SciPy/scikit-learn only: calibration (temperature, threshold,
verdict bands) and metrics. Used by evaluation and training, and by ``adapt`` in the light runtime."""
