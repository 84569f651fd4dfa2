"""The density network, its batch loss, and the input contract (which chip channels it reads).

Units and standardisation are landslide_sar.nn.preprocess's (shared with detection); the
checkpoint stores the channel names and statistics, so training and prediction agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from landslide_sar.errors import InputError
from landslide_sar.nn.ensemble import MemberLoop, grouped_conv, member_cat

#: Ensembles trained and run as one grouped conv per layer (True) or member by member (False),
#: per device type: on the 2-core CPU a 3-member grouped step of this net took 5.5x one
#: member's step, member by member in one module 4x, and the members' own fits one after the
#: other 3x (docs/benchmark_training.md), so on a CPU the members train one after another.
GROUPED = {"cpu": False, "cuda": True}


class DensityNet(MemberLoop, nn.Module):
    """Two conv branches (DEM, SAR) fused by a 1x1 conv into one sigmoid map, for K members at once.

    `multilook` m > 1 first averages the inputs over m x m pixels (as SAR multilooking does:
    speckle averages out, m^2 fewer pixels and FLOPs in every layer) and repeats each output
    value over its m x m pixels, so the output keeps the chip size and the loss its labels.
    Each branch is `depth` 3x3 conv + ReLU layers (padding = dilation, so every map keeps the
    chip size; `dilated` uses dilations 1, 2, 4, ... so depth 3 sees 15x15 pixels (150 m)). After
    the first layer the two branches run as ONE conv grouped by branch and member (same
    arithmetic as two separate convs, one kernel call). With n_dem == 0 or n_sar == 0 only the
    other branch exists (DEM-only / SAR-only models). `members` independent members share the
    module (landslide_sar.nn.ensemble): input (B, C, H, W) is seen by every member, (B, K, C, H, W)
    gives member k its own chips; output (B, K, H, W) in [0, 1], DEM channels first in C.
    """

    def __init__(
        self,
        n_dem: int,
        n_sar: int,
        width: int,
        depth: int,
        *,
        dilated: bool = True,
        batch_norm: bool = False,
        multilook: int = 1,
        members: int = 1,
    ) -> None:
        super().__init__()
        if n_dem < 0 or n_sar < 0 or n_dem + n_sar == 0:
            raise InputError(f"DensityNet: n_dem={n_dem}, n_sar={n_sar}; expected non-negative counts, not both 0")
        if width < 1 or depth < 1 or members < 1 or multilook < 1:
            raise InputError(
                f"DensityNet: width={width}, depth={depth}, multilook={multilook}, members={members}; expected all >= 1"
            )
        self.n_dem, self.n_sar, self.width, self.depth, self.members = n_dem, n_sar, width, depth, members
        self.multilook = int(multilook)
        self.n_branches = nb = int(n_dem > 0) + int(n_sar > 0)
        k = members

        def first(n_in: int) -> nn.Sequential:
            layers: list[nn.Module] = [grouped_conv(k, n_in, width, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(k * width))
            return nn.Sequential(*layers, nn.ReLU(inplace=True))

        self.dem_in = first(n_dem) if n_dem else None
        self.sar_in = first(n_sar) if n_sar else None
        deep: list[nn.Module] = []
        for i in range(1, depth):
            d = 2**i if dilated else 1
            deep.append(
                grouped_conv(k, nb * width, nb * width, 3, groups=nb, padding=d, dilation=d, bias=not batch_norm)
            )
            if batch_norm:
                deep.append(nn.BatchNorm2d(k * nb * width))
            deep.append(nn.ReLU(inplace=True))
        self.deep = nn.Sequential(*deep)
        self.fuse = grouped_conv(k, nb * width, 1, 1)
        self._twin(
            lambda: DensityNet(n_dem, n_sar, width, depth, dilated=dilated, batch_norm=batch_norm, multilook=multilook)
        )

    def _first(self, layers: nn.Sequential, x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        conv = layers[0]
        if x.ndim == 4:  # every member sees the same chips: one dense conv with the members' filters stacked
            y = F.conv2d(x[:, lo:hi], conv.weight, conv.bias, padding=conv.padding)
        else:
            y = conv(x[:, :, lo:hi].reshape(x.shape[0], -1, *x.shape[3:]))
        return layers[1:](y)

    def forward(self, x: torch.Tensor, *, multilooked: bool = False) -> torch.Tensor:
        """Output maps at the chip size; with `multilooked` the input is already
        multilook_chips(chips, multilook) and the output stays at that coarse size (training
        multilooks its chips once instead of in every step, and scores the coarse maps with
        block_counts: the same loss)."""
        n_ch = self.n_dem + self.n_sar
        if not ((x.ndim == 4 and x.shape[1] == n_ch) or (x.ndim == 5 and x.shape[1:3] == (self.members, n_ch))):
            raise ValueError(
                f"DensityNet: input shape {tuple(x.shape)}; expected (B, {n_ch}, H, W) or (B, {self.members}, "
                f"{n_ch}, H, W)"
            )
        if not self.grouped and self.members > 1:
            return self.loop_forward(x, multilooked=multilooked)
        m = 1 if multilooked else self.multilook
        if m > 1:
            x = multilook_chips(x, m)
        c = 1 if x.ndim == 4 else 2
        feats = []
        if self.dem_in is not None:
            feats.append(self._first(self.dem_in, x, 0, self.n_dem))
        if self.sar_in is not None:
            feats.append(self._first(self.sar_in, x, self.n_dem, x.shape[c]))
        h = feats[0] if len(feats) == 1 else member_cat(feats, self.members)
        out = torch.sigmoid(self.fuse(self.deep(h)))
        return out if m == 1 else out.repeat_interleave(m, dim=-2).repeat_interleave(m, dim=-1)


def multilook_chips(x: torch.Tensor, m: int) -> torch.Tensor:
    """Chips (..., C, H, W) averaged over m x m pixels: (..., C, H/m, W/m) (DensityNet's first step)."""
    if x.shape[-1] % m or x.shape[-2] % m:
        raise ValueError(f"DensityNet: chip {tuple(x.shape[-2:])} px is not a multiple of multilook={m}")
    if m == 1:
        return x
    h, w = x.shape[-2] // m, x.shape[-1] // m
    return F.avg_pool2d(x.reshape(-1, *x.shape[-3:]), m).reshape(*x.shape[:-2], h, w)


def block_counts(label: torch.Tensor, valid: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per m x m block of (..., H, W) label and valid masks: the number of valid label pixels and
    of valid other pixels (float32). A coarse output value o repeated over its block contributes
    o x these counts to the E+ and E- sums, so weighted_loss_sums of the coarse map with them
    is batch_loss of the full-size map."""
    pos = (label > 0.5) & valid.bool()
    neg = ~(label > 0.5) & valid.bool()
    shape = (*label.shape[:-2], label.shape[-2] // m, m, label.shape[-1] // m, m)
    return tuple(t.reshape(shape).sum(dim=(-3, -1), dtype=torch.float32) for t in (pos, neg))  # type: ignore[return-value]


def build_density_net(config: dict, members: int, device: torch.device) -> DensityNet:
    """A DensityNet ensemble from a checkpoint-style config, laid out for `device` (GROUPED)."""
    net = DensityNet(**{k: v for k, v in config.items() if k != "members"}, members=members)
    net.grouped = GROUPED.get(device.type, True)
    return net


def weighted_loss_sums(output: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per member (sum o x pos, sum pos, sum o x neg, sum neg) of output (B, K, H, W) with pixel
    weights pos and neg (B, K, H, W), or (B, 1, H, W) / (B, H, W) shared: 0/1 masks (loss_sums)
    or per-block counts of a multilooked map (block_counts). Lets a loss span batches."""
    if pos.ndim == 3:
        pos, neg = pos.unsqueeze(1), neg.unsqueeze(1)
    dims = (0, 2, 3)
    return (
        (output * pos).sum(dims),
        pos.expand_as(output).sum(dims),
        (output * neg).sum(dims),
        neg.expand_as(output).sum(dims),
    )


def loss_sums(output: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """Per member (sum E+, count E+, sum E-, count E-) of output (B, K, H, W) or (B, H, W); label
    and valid (B, K, H, W), or (B, H, W) / (B, 1, H, W) shared by every member: weighted_loss_sums
    of the label and non-label masks, nodata pixels in neither."""
    if output.ndim == 3:  # (B, H, W): one member
        output = output.unsqueeze(1)
    pos = label.reshape(output.shape[0], -1, *output.shape[-2:]) > 0.5  # (B, K or 1, H, W)
    neg = ~pos
    if valid is not None:
        v = valid.reshape(pos.shape).bool()
        pos, neg = pos & v, neg & v
    return weighted_loss_sums(output, pos.to(output.dtype), neg.to(output.dtype))


def loss_from_sums(s_pos: torch.Tensor, n_pos: torch.Tensor, s_neg: torch.Tensor, n_neg: torch.Tensor) -> torch.Tensor:
    """(1 - mean E+) + mean E- per member; an empty set's term is 0 (no labels: only E- counts)."""
    term_pos = torch.where(n_pos > 0, 1.0 - s_pos / n_pos.clamp_min(1), s_pos * 0.0)
    term_neg = torch.where(n_neg > 0, s_neg / n_neg.clamp_min(1), s_neg * 0.0)
    return term_pos + term_neg


def batch_loss(output: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's batch loss (1 - mean(E+)) + mean(E-) in [0, 2], one per member (K,).

    E+ = outputs on label pixels (label > 0.5) of the WHOLE batch, E- = all other pixels; pixels
    where `valid` is False (nodata inputs) are in neither. A batch without any label pixel has
    nothing to reward, so its loss is only the E- term, mean(E-) in [0, 1] (and a batch without
    any E- pixel only the E+ term). output (B, K, H, W); label, valid as in loss_sums.
    """
    return loss_from_sums(*loss_sums(output, label, valid))
