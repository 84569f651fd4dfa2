"""The density network, its batch loss, and the input contract (channel selection, preprocessing).

Everything needed to turn a chip's raw channels into model input lives here, so training and
prediction preprocess identically: the checkpoint stores the channel names and the statistics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from landslide_sar.grid import InputError

DEM_CHANNELS: tuple[str, ...] = ("dem", "dem_slope_radians", "dem_curvature", "dem_aspect")
LABEL_CHANNEL = "landslides"
INPUTS: tuple[str, ...] = ("dem", "sar", "fused")
SAR_MIN_LINEAR = 1e-5  # linear gamma0 floor before dB (-50 dB): zeros/negatives stay finite
_SAR_RE = re.compile(r"^(vv|vh)_(pre|post)(\d+)$")


def _branch(n_in: int, width: int, depth: int, dilated: bool, batch_norm: bool) -> nn.Sequential:
    """`depth` 3x3 conv + ReLU layers; padding = dilation, so every map keeps the chip size."""
    layers: list[nn.Module] = []
    for i in range(depth):
        d = 2**i if dilated else 1
        layers.append(nn.Conv2d(n_in if i == 0 else width, width, 3, padding=d, dilation=d, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DensityNet(nn.Module):
    """Two independent conv branches (DEM, SAR) fused by a 1x1 conv into one sigmoid map.

    Inputs are (batch, n_dem + n_sar, H, W) with the DEM channels first; the output is
    (batch, 1, H, W) in [0, 1] for any H, W (no pooling). With n_dem == 0 or n_sar == 0 only the
    other branch is built (DEM-only / SAR-only models). `dilated` uses dilations 1, 2, 4, ... so
    depth 3 sees 15x15 pixels (150 m) instead of 7x7 while every map stays full size.
    """

    def __init__(
        self, n_dem: int, n_sar: int, width: int, depth: int, *, dilated: bool = True, batch_norm: bool = False
    ) -> None:
        super().__init__()
        if n_dem < 0 or n_sar < 0 or n_dem + n_sar == 0:
            raise InputError(f"DensityNet: n_dem={n_dem}, n_sar={n_sar}; expected non-negative counts, not both 0")
        if width < 1 or depth < 1:
            raise InputError(f"DensityNet: width={width}, depth={depth}; expected both >= 1")
        self.n_dem, self.n_sar, self.width, self.depth = n_dem, n_sar, width, depth
        self.dem_branch = _branch(n_dem, width, depth, dilated, batch_norm) if n_dem else None
        self.sar_branch = _branch(n_sar, width, depth, dilated, batch_norm) if n_sar else None
        n_branches = int(n_dem > 0) + int(n_sar > 0)
        self.fuse = nn.Conv2d(n_branches * width, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.n_dem + self.n_sar:
            raise ValueError(f"DensityNet: input has {x.shape[1]} channels; expected {self.n_dem + self.n_sar}")
        feats = []
        if self.dem_branch is not None:
            feats.append(self.dem_branch(x[:, : self.n_dem]))
        if self.sar_branch is not None:
            feats.append(self.sar_branch(x[:, self.n_dem :]))
        return torch.sigmoid(self.fuse(torch.cat(feats, dim=1)))


def loss_sums(output: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """(sum E+, count E+, sum E-, count E-) over a batch; lets a loss span several batches."""
    out = output.reshape(output.shape[0], -1)
    pos = label.reshape(out.shape) > 0.5
    neg = ~pos
    if valid is not None:
        v = valid.reshape(out.shape).bool()
        pos, neg = pos & v, neg & v
    return (out * pos).sum(), pos.sum(), (out * neg).sum(), neg.sum()


def loss_from_sums(s_pos: torch.Tensor, n_pos: torch.Tensor, s_neg: torch.Tensor, n_neg: torch.Tensor) -> torch.Tensor:
    """(1 - mean E+) + mean E-; an empty set's term is 0 (no labels: only the E- term counts)."""
    term_pos = 1.0 - s_pos / n_pos if n_pos > 0 else s_pos * 0.0
    term_neg = s_neg / n_neg if n_neg > 0 else s_neg * 0.0
    return term_pos + term_neg


def batch_loss(output: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's batch loss (1 - mean(E+)) + mean(E-), in [0, 2].

    E+ = outputs on label pixels (label > 0.5) of the WHOLE batch, E- = all other pixels; pixels
    where `valid` is False (nodata inputs) are in neither. A batch without any label pixel has
    nothing to reward, so its loss is only the E- term, mean(E-) in [0, 1] (and a batch without
    any E- pixel only the E+ term). `output` and `label` have the same number of elements per chip,
    e.g. (B, 1, H, W) and (B, H, W).
    """
    return loss_from_sums(*loss_sums(output, label, valid))


def select_channels(channel_names: Sequence[str], inputs: str, revisits: int) -> tuple[list[int], list[int]]:
    """Indices of the DEM and SAR model channels in `channel_names` for an input configuration.

    DEM = the 4 dem channels; SAR = every pre-event vv/vh channel plus the vv/vh channels of the
    first `revisits` post-event acquisitions (post1..post<revisits>), in the chips' own order.
    `inputs` "dem" gives no SAR channels (revisits ignored), "sar" no DEM channels.
    """
    names = [str(c) for c in channel_names]
    if inputs not in INPUTS:
        raise InputError(f"inputs={inputs!r}; expected one of {', '.join(INPUTS)}")
    dem_idx: list[int] = []
    sar_idx: list[int] = []
    if inputs in ("dem", "fused"):
        missing = [c for c in DEM_CHANNELS if c not in names]
        if missing:
            raise InputError(f"chips lack DEM channel(s) {missing}; expected {list(DEM_CHANNELS)}")
        dem_idx = [names.index(c) for c in DEM_CHANNELS]
    if inputs in ("sar", "fused"):
        parsed = [(i, _SAR_RE.match(n)) for i, n in enumerate(names)]
        sar = [(i, m.group(2), int(m.group(3))) for i, m in parsed if m]
        n_post = max((k for _, when, k in sar if when == "post"), default=0)
        if isinstance(revisits, bool) or not isinstance(revisits, (int, np.integer)) or not 1 <= revisits <= n_post:
            raise InputError(
                f"revisits={revisits!r} but the chips hold {n_post} post-event acquisition(s); expected 1..{n_post}"
            )
        sar_idx = [i for i, when, k in sar if when == "pre" or k <= revisits]
    return dem_idx, sar_idx


def to_db(x: np.ndarray) -> np.ndarray:
    """Linear gamma0 -> dB, values below SAR_MIN_LINEAR clipped to it; NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        return (10.0 * np.log10(np.maximum(x, SAR_MIN_LINEAR))).astype(np.float32)


def to_model_units(x: np.ndarray, is_sar: Sequence[bool]) -> np.ndarray:
    """(n, C, H, W) raw chips -> float32 copy with SAR channels in dB."""
    out = np.array(x, dtype=np.float32, copy=True)
    for c, sar in enumerate(is_sar):
        if sar:
            out[:, c] = to_db(out[:, c])
    return out


class ChannelMoments:
    """Per-channel count, mean and sum of squared deviations of finite values (float64), merged
    block by block (Chan et al.), so that statistics of chips read in blocks equal those of all
    the chips at once (channel_stats)."""

    def __init__(self, n_ch: int) -> None:
        self.n = np.zeros(n_ch, dtype=np.int64)
        self.mean = np.zeros(n_ch, dtype=np.float64)
        self.m2 = np.zeros(n_ch, dtype=np.float64)

    def add(self, z: np.ndarray) -> None:
        """z: (n, C, H, W) in model units."""
        for c in range(z.shape[1]):
            v = z[:, c][np.isfinite(z[:, c])].astype(np.float64)
            if not v.size:
                continue
            mean_b = v.mean()
            m2_b = float(((v - mean_b) ** 2).sum())
            n_a, n_b = int(self.n[c]), v.size
            if n_a == 0:
                self.n[c], self.mean[c], self.m2[c] = n_b, mean_b, m2_b
                continue
            n = n_a + n_b
            delta = mean_b - self.mean[c]
            self.mean[c] += delta * n_b / n
            self.m2[c] += m2_b + delta**2 * n_a * n_b / n
            self.n[c] = n

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """mean and std as float32; all-NaN channels: mean 0, std 1; constant channels: std 1."""
        mean = np.where(self.n > 0, self.mean, 0.0)
        std = np.sqrt(np.divide(self.m2, self.n, out=np.zeros_like(self.m2), where=self.n > 0))
        std = np.where((self.n > 0) & (std > 1e-12), std, 1.0)
        return mean.astype(np.float32), std.astype(np.float32)


def channel_stats(x_train: np.ndarray, is_sar: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel NaN-aware mean and std (SAR in dB) of the TRAINING chips (n, C, H, W).

    Channels that are all NaN get mean 0; constant or all-NaN channels get std 1.
    """
    moments = ChannelMoments(x_train.shape[1])
    moments.add(to_model_units(x_train, is_sar))
    return moments.stats()


def standardise(
    x: np.ndarray, is_sar: Sequence[bool], mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raw chips (n, C, H, W) -> (standardised float32 input with NaN -> 0, valid mask (n, H, W)).

    A pixel is valid when every selected channel is finite there; the loss and the percentile
    features ignore invalid pixels.
    """
    z = to_model_units(x, is_sar)
    valid = np.isfinite(z).all(axis=1)
    standardise_in_place(z, mean, std)
    return z, valid


def standardise_in_place(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """(z - mean) / std per channel of chips (n, C, H, W) in model units, NaN -> 0, in place."""
    z -= np.asarray(mean, dtype=np.float32)[None, :, None, None]
    z /= np.asarray(std, dtype=np.float32)[None, :, None, None]
    np.nan_to_num(z, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
