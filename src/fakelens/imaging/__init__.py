"""Images in: decoding with bounded size and time (``imageio``), the one preprocessing path (``preprocess``) and
the photometric perturbations (``perturb``). Pillow and NumPy only: every room may use it."""
