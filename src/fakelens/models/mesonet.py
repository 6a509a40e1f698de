"""MesoNet (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", WIFS 2018).

Meso-4 and MesoInception-4 look at the mesoscopic level of a face (neither
single pixels nor semantics), which suits compressed video frames.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def _conv_bn_pool(cin: int, cout: int, k: int, pool: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU(inplace=True), nn.BatchNorm2d(cout), nn.MaxPool2d(pool))


class _MesoHead(nn.Sequential):
    def __init__(self, cin: int, dropout: float = 0.5):
        super().__init__(
            nn.AdaptiveAvgPool2d(7),  # the paper's 256 px input gives 8x8 here; pooling keeps any size working
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(cin * 49, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, 1),
        )


class Meso4(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = _conv_bn_pool(3, 8, 3, 2)
        self.conv2 = _conv_bn_pool(8, 8, 5, 2)
        self.conv3 = _conv_bn_pool(8, 16, 5, 2)
        self.conv4 = _conv_bn_pool(16, 16, 5, 4)
        self.head = _MesoHead(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv4(self.conv3(self.conv2(self.conv1(x)))))


class _InceptionLayer(nn.Module):
    """The paper's inception module: 1x1, 3x3, dilated 3x3 (d=2), dilated 3x3 (d=3)."""

    def __init__(self, cin: int, a: int, b: int, c: int, d: int):
        super().__init__()
        self.b1 = nn.Conv2d(cin, a, 1)
        self.b2 = nn.Sequential(nn.Conv2d(cin, b, 1), nn.ReLU(inplace=True), nn.Conv2d(b, b, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(cin, c, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, padding=2, dilation=2))
        self.b4 = nn.Sequential(nn.Conv2d(cin, d, 1), nn.ReLU(inplace=True), nn.Conv2d(d, d, 3, padding=3, dilation=3))
        self.out = nn.Sequential(nn.ReLU(inplace=True), nn.BatchNorm2d(a + b + c + d), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1))


class MesoInception4(nn.Module):
    def __init__(self):
        super().__init__()
        self.incep1 = _InceptionLayer(3, 1, 4, 4, 2)
        self.incep2 = _InceptionLayer(11, 2, 4, 4, 2)
        self.conv3 = _conv_bn_pool(12, 16, 5, 2)
        self.conv4 = _conv_bn_pool(16, 16, 5, 4)
        self.head = _MesoHead(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv4(self.conv3(self.incep2(self.incep1(x)))))
