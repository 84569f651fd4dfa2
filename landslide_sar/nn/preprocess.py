"""Input units and standardisation, one implementation for both nets.

SAR channels are learned in dB (linear gamma0 spans orders of magnitude; speckle is
multiplicative, additive in dB). Statistics come from the TRAINING chips only and travel in the
checkpoint, so prediction preprocesses exactly as training did.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAR_MIN_LINEAR = 1e-5  # linear gamma0 floor before dB (-50 dB): zeros/negatives stay finite


def to_db(x: np.ndarray) -> np.ndarray:
    """Linear gamma0 -> dB (float32), values below SAR_MIN_LINEAR clipped to it; NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        return (10.0 * np.log10(np.maximum(x, SAR_MIN_LINEAR))).astype(np.float32)


def to_model_units(x: np.ndarray, is_sar: Sequence[bool]) -> np.ndarray:
    """(n, C, H, W) raw chips -> float32 copy with the SAR channels in dB."""
    out = np.array(x, dtype=np.float32, copy=True)
    for c, sar in enumerate(is_sar):
        if sar:
            out[:, c] = to_db(out[:, c])
    return out


class ChannelMoments:
    """Per-channel count, mean and sum of squared deviations of finite values (float64), merged
    block by block (Chan et al.), so that statistics of chips read in blocks equal those of all
    the chips at once."""

    def __init__(self, n_ch: int) -> None:
        self.n = np.zeros(n_ch, dtype=np.int64)
        self.mean = np.zeros(n_ch, dtype=np.float64)
        self.m2 = np.zeros(n_ch, dtype=np.float64)

    def add(self, z: np.ndarray) -> None:
        """Merge chips z (n, C, H, W) in model units."""
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


def channel_stats(z_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel NaN-aware mean and std of TRAINING chips (n, C, H, W) in model units."""
    moments = ChannelMoments(z_train.shape[1])
    moments.add(z_train)
    return moments.stats()


def standardise_in_place(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """(z - mean) / std per channel of chips (n, C, H, W) in model units, non-finite -> 0 (the
    standardised mean), in place."""
    z -= np.asarray(mean, dtype=np.float32)[None, :, None, None]
    z /= np.asarray(std, dtype=np.float32)[None, :, None, None]
    # one isfinite pass and a masked write: np.nan_to_num(posinf=, neginf=) makes three passes
    # and a copy per value kind (1 s of a 6 s prediction of 144 chips)
    np.copyto(z, np.float32(0.0), where=~np.isfinite(z))


def standardise(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardised float32 copy of chips (n, C, H, W) in model units, non-finite -> 0."""
    out = np.array(z, dtype=np.float32, copy=True)
    standardise_in_place(out, mean, std)
    return out


def fill_nodata(z: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Copy of (n, C, H, W) with non-finite values replaced by the channel mean (which
    standardises to 0): augmentations that blur or resample then see no NaN."""
    out = np.array(z, dtype=np.float32, copy=True)
    for c in range(out.shape[1]):
        out[:, c][~np.isfinite(out[:, c])] = mean[c]
    return out
