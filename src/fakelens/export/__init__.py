"""From a trained PyTorch detector to ONNX Runtime: export (parity-checked) and int8 quantisation. Needs ``[train]``."""
