"""U-Net with a ResNet encoder (BasicBlocks, as ResNet-18/34) in plain torch, two-class logits.

torchvision does not import beside this machine's CPU torch, so the encoder is written out here.
Unlike ImageNet ResNets the stem keeps full resolution (no 7x7/2 conv + max-pool): landslides are
a few 10 m pixels wide and would vanish at 1/4 resolution. Widths are configurable so the CPU
default can be small; any input size works (padded to a multiple of 2**depth, output cropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from landslide_sar.grid import InputError

N_CLASSES = 2  # background, landslide: two-class cross-entropy as in the papers
MODEL_KEYS = ("base_width", "depth", "blocks_per_stage")


def _conv_bn_relu(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)
    )


class BasicBlock(nn.Module):
    """ResNet-18/34 residual block: two 3x3 conv + BN, identity (or strided 1x1 conv) shortcut."""

    def __init__(self, n_in: int, n_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(n_out)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(n_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or n_in != n_out:
            self.shortcut = nn.Sequential(nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False), nn.BatchNorm2d(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResNetUNet(nn.Module):
    """U-Net: full-resolution stem, `depth` ResNet stages (each halves the size), mirrored decoder.

    Stage k (1..depth) has width base_width * 2**(k-1) and `blocks_per_stage` BasicBlocks (2 =
    ResNet-18 layout). The decoder upsamples (bilinear x2), concatenates the skip of the same
    scale and applies two 3x3 conv + BN + ReLU. Output: (batch, 2, H, W) logits for any H, W.
    """

    def __init__(
        self, in_channels: int, base_width: int = 16, depth: int = 4, blocks_per_stage: int = 2, n_classes: int = N_CLASSES
    ) -> None:
        super().__init__()
        if in_channels < 1 or base_width < 1 or depth < 1 or blocks_per_stage < 1 or n_classes < 2:
            raise InputError(
                f"ResNetUNet: in_channels={in_channels}, base_width={base_width}, depth={depth}, "
                f"blocks_per_stage={blocks_per_stage}, n_classes={n_classes}; expected all >= 1 (n_classes >= 2)"
            )
        self.in_channels, self.depth, self.n_classes = in_channels, depth, n_classes
        widths = [base_width] + [base_width * 2 ** (k - 1) for k in range(1, depth + 1)]  # per scale 1/2**k
        self.stem = _conv_bn_relu(in_channels, widths[0])
        self.stages = nn.ModuleList(
            nn.Sequential(
                BasicBlock(widths[k - 1], widths[k], stride=2),
                *[BasicBlock(widths[k], widths[k]) for _ in range(blocks_per_stage - 1)],
            )
            for k in range(1, depth + 1)
        )
        self.decoders = nn.ModuleList(
            nn.Sequential(_conv_bn_relu(widths[k + 1] + widths[k], widths[k]), _conv_bn_relu(widths[k], widths[k]))
            for k in range(depth)
        )  # decoders[k] produces scale 1/2**k from scale 1/2**(k+1) and the skip at 1/2**k
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNetUNet: input shape {tuple(x.shape)}; expected (batch, {self.in_channels}, H, W)")
        h, w = x.shape[-2:]
        m = 2**self.depth
        x = F.pad(x, (0, -w % m, 0, -h % m))  # zeros = the standardised mean
        skips = [self.stem(x)]
        for stage in self.stages:
            skips.append(stage(skips[-1]))
        out = skips[-1]
        for k in range(self.depth - 1, -1, -1):
            out = F.interpolate(out, size=skips[k].shape[-2:], mode="bilinear", align_corners=False)
            out = self.decoders[k](torch.cat([out, skips[k]], dim=1))
        return self.head(out)[..., :h, :w]


def build_model(in_channels: int, model_cfg: Mapping[str, Any]) -> ResNetUNet:
    """ResNetUNet from the config keys base_width, depth, blocks_per_stage (others ignored)."""
    missing = [k for k in MODEL_KEYS if k not in model_cfg]
    if missing:
        raise InputError(f"detection model config lacks {missing}; has {sorted(model_cfg)}")
    return ResNetUNet(in_channels, **{k: int(model_cfg[k]) for k in MODEL_KEYS})


def landslide_probability(logits: torch.Tensor) -> torch.Tensor:
    """(batch, 2, H, W) logits -> (batch, H, W) probability of the landslide class (softmax[:, 1])."""
    return torch.softmax(logits, dim=1)[:, 1]
