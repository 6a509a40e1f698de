"""A fusion of zoo models: each member scores the face at its own input size, and their FAKE logits are mixed.

``LogitFusion((("efficientnet_lite0", 160), ("efficientnet_lite2", 224)))`` takes the face at the largest member
size and returns ``sum_i coef_i * logit_i + bias``, where member ``i`` sees the face shrunk to its own size. It is
one model to the rest of fakelens: one preprocessing, one ``model.safetensors`` (the mixing coefficients are
buffers in it), one ONNX graph, one calibration fitted on top.

The shrinking is PIL's antialiased bilinear resize (what the preprocessing did when each member was trained), as a
fixed matrix on each side: ``torch``'s antialiased resize has no ONNX export, matrix products do (ONNX Runtime's own
antialiased ``Resize`` differs from PIL's by up to 0.07 on a [-1, 1] image). Each output row reads 2-3 input rows, so
the matrix is cut into bands of :data:`RESIZE_BAND_ROWS` rows, each multiplied with only the input rows it reads: the
same sums without the zeros, a quarter of ONNX Runtime's time for the 224 -> 160 shrink (0.9 ms against 3.2 for four
faces on one thread; the whole shrink was 4-5% of the fused model's pass: ``docs/experiments.md``). For a
face the preprocessing brought to 224 px this is the same filter at a ratio of 1.4, not the ratio the member saw in
training from the original crop, so a fused run is measured as it is, never assumed equal to its members.

``shrink="pil"`` goes one step further: PIL's 8-bit resize itself, which is what a member was trained on. PIL
shrinks the columns, rounds to whole levels, then the rows, and rounds again, with coefficients of
:data:`PIL_COEF_BITS` bits. The float product differs from it by at most one level, yet that moved the lite0
member's logit by sd 0.27 on validation faces (``docs/face-science.md``, session 40). In this mode the face goes back
to levels, through the two rounded passes (integers below 2^24, so float32 is exact), and is normalised again:
the same values as PIL's output, every one, on 60 DFDC crops. ``shrink="float"`` (the default) keeps the fusions
built before it unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .factory import create_model, has_cam_head, logit_cam_features

#: Output rows per band of a resize matrix. For 224 -> 160 on one thread, four faces: 80 rows 1.9 ms, 40 rows 1.2,
#: 20 rows 0.9, 10 rows 0.84 (more graph nodes for 5% of the shrink's time).
RESIZE_BAND_ROWS = 20

#: The fixed-point precision of PIL's 8-bit resampling coefficients, as measured on this Pillow: 14 bits reproduce
#: its 224 -> 160 shrink exactly (22 bits, its documented precision, miss 2% of the values).
PIL_COEF_BITS = 14

SHRINKS = ("float", "pil")


def resize_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """``(size_out, size_in)``: antialiased bilinear resizing of one image side as a matrix (PIL's ``BILINEAR``)."""
    # column k of the identity is an image column with a 1 at row k; shrinking the rows alone gives its weights
    eye = torch.eye(size_in)[None, None]
    return F.interpolate(eye, size=(size_out, size_in), mode="bilinear", align_corners=False, antialias=True)[0, 0].contiguous()


def resize_bands(matrix: torch.Tensor, rows: int = RESIZE_BAND_ROWS) -> list[tuple[int, int, torch.Tensor]]:
    """``matrix`` cut into consecutive bands of at most ``rows`` output rows: ``(first, end, band)`` with ``band`` the
    rows' weights on input rows ``first:end``, the span of their nonzero weights (so ``band @ x[first:end]`` is
    ``matrix[rows] @ x``)."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    bands = []
    for top in range(0, matrix.shape[0], rows):
        block = matrix[top : top + rows]
        used = block.ne(0).any(dim=0).nonzero().reshape(-1)
        first, end = int(used[0]), int(used[-1]) + 1
        bands.append((first, end, block[:, first:end].contiguous()))
    return bands


class LogitFusion(nn.Module):
    """Zoo models on one face; their FAKE logits mixed with the coefficients ``coef`` (and ``bias``)."""

    def __init__(
        self,
        members: Sequence[tuple[str, int]],
        shrink: str = "float",
        norm: tuple[Sequence[float], Sequence[float]] = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ):
        super().__init__()
        if len(members) < 2:
            raise ValueError("a fusion needs at least two members")
        if shrink not in SHRINKS:
            raise ValueError(f"shrink must be one of {SHRINKS}, not {shrink!r}")
        self.shrink = shrink
        self.member_names = tuple(str(name) for name, _ in members)
        self.sizes = tuple(int(size) for _, size in members)
        self.input_size = max(self.sizes)
        self.members = nn.ModuleList(create_model(name) for name in self.member_names)
        # Fitted by `fakelens fuse` and stored with the weights; equal shares until then.
        self.register_buffer("coef", torch.full((len(members),), 1.0 / len(members)))
        self.register_buffer("bias", torch.zeros(1))
        # the input rows (and columns) each band of member i's resize reads; the bands are buffers resize_{i}_{k}
        self.band_spans: dict[int, tuple[tuple[int, int], ...]] = {}
        if shrink == "pil":  # levels = x * std * 255 + mean * 255: the members' normalisation, undone
            mean, std = (torch.tensor([float(v) for v in t]).reshape(1, 3, 1, 1) for t in norm)
            self.register_buffer("level_scale", std * 255.0, persistent=False)
            self.register_buffer("level_offset", mean * 255.0, persistent=False)
        for i, size in enumerate(self.sizes):
            if size != self.input_size:  # constants of the architecture: not in the weights file
                matrix = resize_matrix(self.input_size, size)
                if shrink == "pil":
                    matrix = torch.floor(matrix * 2**PIL_COEF_BITS + 0.5)
                bands = resize_bands(matrix)
                self.band_spans[i] = tuple((first, end) for first, end, _ in bands)
                for k, (_, _, band) in enumerate(bands):
                    self.register_buffer(f"resize_{i}_{k}", band, persistent=False)

    def member_input(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"this fusion takes {self.input_size} px faces, not {tuple(x.shape[-2:])}")
        spans = self.band_spans.get(i)
        if spans is None:
            return x
        bands = [(first, end, getattr(self, f"resize_{i}_{k}")) for k, (first, end) in enumerate(spans)]
        if self.shrink == "pil":
            return self._pil_shrink(x, bands)
        rows = torch.cat([band @ x[..., first:end, :] for first, end, band in bands], dim=-2)
        return torch.cat([rows[..., first:end] @ band.T for first, end, band in bands], dim=-1)

    def _pil_shrink(self, x: torch.Tensor, bands) -> torch.Tensor:
        """PIL's 8-bit resize of the face ``x`` (normalised): columns, round, rows, round, in whole levels."""
        half, unit = float(2 ** (PIL_COEF_BITS - 1)), float(2**PIL_COEF_BITS)
        levels = torch.round(x * self.level_scale + self.level_offset)
        cols = torch.cat([levels[..., first:end] @ band.T for first, end, band in bands], dim=-1)
        cols = torch.clamp(torch.floor((cols + half) / unit), 0.0, 255.0)
        rows = torch.cat([band @ cols[..., first:end, :] for first, end, band in bands], dim=-2)
        rows = torch.clamp(torch.floor((rows + half) / unit), 0.0, 255.0)
        return (rows - self.level_offset) / self.level_scale

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, members)``: each member's raw FAKE logit."""
        return torch.stack([m(self.member_input(i, x)).reshape(-1) for i, m in enumerate(self.members)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.member_logits(x) @ self.coef + self.bias).reshape(-1, 1)

    def has_cam_head(self) -> bool:
        return all(has_cam_head(m) for m in self.members)

    def logit_cam_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The fused logit; the members' class-activation maps, each weighted by its coefficient and brought to the
        largest map's size, summed; and the members' pooled features side by side (the fused logit is linear in them)."""
        logits, cams, features = [], [], []
        for i, m in enumerate(self.members):
            logit, cam, pooled = logit_cam_features(m, self.member_input(i, x))
            logits.append(logit)
            cams.append(cam)
            features.append(pooled)
        # the largest input gives the largest map; resizing a map to its own size leaves it as it is
        side = cams[self.sizes.index(self.input_size)].shape[-2:]
        resized = [F.interpolate(cam[:, None], size=side, mode="bilinear", align_corners=False)[:, 0] for cam in cams]
        cam = sum(self.coef[i] * resized[i] for i in range(len(resized)))
        logit = torch.stack(logits, dim=1) @ self.coef + self.bias
        return logit, cam, torch.cat(features, dim=1)
