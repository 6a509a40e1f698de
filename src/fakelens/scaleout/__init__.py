"""Scoring on more than one machine: batch prediction on a Ray cluster (``ray_batch``). Distributed training
(torchrun/DDP) lives with the training loop, in :mod:`fakelens.training.distributed`."""
