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

from landslide_sar.errors import InputError
from landslide_sar.nn.ensemble import MemberLoop, grouped_conv, member_cat

N_CLASSES = 2  # background, landslide: two-class cross-entropy as in the papers
MODEL_KEYS = ("base_width", "depth", "blocks_per_stage")
#: Ensembles as one grouped conv per layer (True) or member by member (False), per device type:
#: measured on the 2-core CPU at 32 px, grouped convs ran 0.7x the time per member of one model
#: alone (docs/benchmark_training.md).
GROUPED = {"cpu": True, "cuda": True}


def _conv_bn_relu(members: int, n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        grouped_conv(members, n_in, n_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(members * n_out),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet-18/34 residual block: two 3x3 conv + BN, identity (or strided 1x1 conv) shortcut;
    for `members` independent members at once (grouped convs, member-major channels)."""

    def __init__(self, n_in: int, n_out: int, stride: int = 1, members: int = 1) -> None:
        super().__init__()
        k = members
        self.conv1 = grouped_conv(k, n_in, n_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(k * n_out)
        self.conv2 = grouped_conv(k, n_out, n_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(k * n_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or n_in != n_out:
            self.shortcut = nn.Sequential(
                grouped_conv(k, n_in, n_out, 1, stride=stride, bias=False), nn.BatchNorm2d(k * n_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResNetUNet(MemberLoop, nn.Module):
    """U-Net: full-resolution stem, `depth` ResNet stages (each halves the size), mirrored decoder.

    Stage k (1..depth) has width base_width * 2**(k-1) and `blocks_per_stage` BasicBlocks (2 =
    ResNet-18 layout). The decoder upsamples (bilinear x2), concatenates the skip of the same
    scale and applies two 3x3 conv + BN + ReLU. `members` independent members share the module
    (landslide_sar.nn.ensemble): input (B, C, H, W) is seen by every member, (B, K, C, H, W) gives
    member k its own chips. Output: (B, K, n_classes, H, W) logits for any H, W.
    """

    def __init__(
        self,
        in_channels: int,
        base_width: int = 16,
        depth: int = 4,
        blocks_per_stage: int = 2,
        n_classes: int = N_CLASSES,
        members: int = 1,
    ) -> None:
        super().__init__()
        if min(in_channels, base_width, depth, blocks_per_stage, members) < 1 or n_classes < 2:
            raise InputError(
                f"ResNetUNet: in_channels={in_channels}, base_width={base_width}, depth={depth}, "
                f"blocks_per_stage={blocks_per_stage}, n_classes={n_classes}, members={members}; "
                "expected all >= 1 (n_classes >= 2)"
            )
        self.in_channels, self.depth, self.n_classes, self.members = in_channels, depth, n_classes, members
        k = members
        widths = [base_width] + [base_width * 2 ** (i - 1) for i in range(1, depth + 1)]  # per scale 1/2**i
        self.stem = _conv_bn_relu(k, in_channels, widths[0])
        self.stages = nn.ModuleList(
            nn.Sequential(
                BasicBlock(widths[i - 1], widths[i], stride=2, members=k),
                *[BasicBlock(widths[i], widths[i], members=k) for _ in range(blocks_per_stage - 1)],
            )
            for i in range(1, depth + 1)
        )
        self.decoders = nn.ModuleList(
            nn.Sequential(
                _conv_bn_relu(k, widths[i + 1] + widths[i], widths[i]), _conv_bn_relu(k, widths[i], widths[i])
            )
            for i in range(depth)
        )  # decoders[i] produces scale 1/2**i from scale 1/2**(i+1) and the skip at 1/2**i
        self.head = grouped_conv(k, widths[0], n_classes, 1)
        self._twin(lambda: ResNetUNet(in_channels, base_width, depth, blocks_per_stage, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.in_channels
        if not ((x.ndim == 4 and x.shape[1] == c) or (x.ndim == 5 and x.shape[1:3] == (self.members, c))):
            raise ValueError(
                f"ResNetUNet: input shape {tuple(x.shape)}; expected (batch, {c}, H, W) or (batch, "
                f"{self.members}, {c}, H, W)"
            )
        if not self.grouped and self.members > 1:
            return self.loop_forward(x)
        h, w = x.shape[-2:]
        m = 2**self.depth
        pad = (0, -w % m, 0, -h % m)  # zeros = the standardised mean
        conv = self.stem[0]
        if x.ndim == 4:  # every member sees the same chips: one dense conv with the members' filters stacked
            y = F.conv2d(F.pad(x, pad), conv.weight, None, padding=conv.padding)
        else:
            y = conv(F.pad(x.reshape(x.shape[0], -1, h, w), pad))
        skips = [self.stem[1:](y)]
        for stage in self.stages:
            skips.append(stage(skips[-1]))
        out = skips[-1]
        for i in range(self.depth - 1, -1, -1):
            out = F.interpolate(out, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            out = self.decoders[i](member_cat([out, skips[i]], self.members))
        logits = self.head(out)[..., :h, :w]
        return logits.reshape(logits.shape[0], self.members, self.n_classes, h, w)


def build_model(
    in_channels: int, model_cfg: Mapping[str, Any], members: int = 1, device: torch.device | str = "cpu"
) -> ResNetUNet:
    """ResNetUNet of `members` members from the config keys base_width, depth, blocks_per_stage,
    laid out for `device` (GROUPED)."""
    missing = [k for k in MODEL_KEYS if k not in model_cfg]
    if missing:
        raise InputError(f"detection model config lacks {missing}; has {sorted(model_cfg)}")
    net = ResNetUNet(in_channels, **{k: int(model_cfg[k]) for k in MODEL_KEYS}, members=members)
    net.grouped = GROUPED.get(torch.device(device).type, True)
    return net


def landslide_probability(logits: torch.Tensor) -> torch.Tensor:
    """(batch, K, 2, H, W) logits -> (batch, K, H, W) probability of the landslide class."""
    return torch.softmax(logits, dim=2)[:, :, 1]
