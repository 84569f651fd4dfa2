"""A label-free landslide change detector: a per-pixel z-score of the post-event backscatter
against the pre-event baseline, with landslide priors (masks), modelled on NASA/JPL OPERA
DIST-S1's baseline z-score and scored beside the nets without any training.

Per pixel and polarisation (VV, VH in dB; NaN = no data):

- the pre-event mean m and the post-event mean of the finite acquisitions (n_pre, n_post each);
- a robust spread sigma: 1.4826 x the median absolute deviation of the pre-event acquisitions
  from their pixel's mean, POOLED over a window of `window_px` x `window_px` pixels (all the
  window's pixels and pre-event dates together), corrected for the deviation from an estimated
  mean (x sqrt(n / (n - 1))). With the 3-4 pre-event acquisitions a chip holds, a per-pixel
  spread would rest on 3-4 numbers and be too noisy to divide by; pooling over a small window
  assumes only that neighbouring pixels of stable ground share their speckle and date-to-date
  noise (the spread, not the level: the mean stays per pixel);
- z = (post mean - pre mean) / (sigma x sqrt(1 / n_post + 1 / n_pre)): standard normal on
  unchanged ground with Gaussian dB noise (the difference of two independent means).

The two polarisations combine by a weighted Stouffer sum,
score = (w_vh x (-z_vh) + w_vv x |z_vv|) / sqrt(w_vh^2 + w_vv^2), w_vv = `vv_weight`,
w_vh = 1 - w_vv: a scar lowers VH (forest volume scattering lost: -z_vh, signed, like the VH
log-ratio of Handwerger et al. 2022), while VV may rise or fall with the exposed surface's
roughness and moisture (its magnitude). With vv_weight 0 the score is -z_vh and standard normal
on unchanged ground; |z_vv| is half-normal (mean 0.8), so for vv_weight > 0 the no-change
score sits above 0 and its tail is heavier than the normal one (weight 0.5: 0.27 % above 3
instead of 0.13 %): the price of hearing VV changes of either sign.

Masked pixels get score -inf (no call, lowest rank) and are counted: no data (any needed mean,
spread or the slope not finite), water (pre-event mean VV below `water_db`: open water is dark
and its changes are not landslides) and flat ground (slope below `min_slope_deg`: landslides
need a slope). Each pixel counts once, in that order. Per chip: the share of unmasked pixels
above `threshold` and the 50th / 90th / 99th percentiles of their score.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from landslide_sar.errors import InputError

#: MAD -> standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826
#: The masks, in the order each pixel is assigned to one.
MASKS = ("nodata", "water", "flat")
#: The channels of change_channels (the `change` input sets' SAR channels), in order.
CHANGE_CHANNELS = ("vv_change", "vh_change", "z_change")
#: The percentiles of each chip's score (chip_summary).
SUMMARY_PERCENTILES = (50, 90, 99)
#: The per-chip summary columns (chip_summary), in order.
SUMMARY_COLUMNS = (
    "share_above",
    *(f"score_p{p}" for p in SUMMARY_PERCENTILES),
    "n_scored",
    *(f"n_{m}" for m in MASKS),
)


@dataclass(frozen=True)
class LabelFreeSettings:
    """The config's `label_free` section (schemas/config.schema.yaml holds the same defaults):
    pooling window (pixels, odd), VV's Stouffer weight (VH's is 1 - it), the water mask's
    pre-event VV level (dB), the slope mask (degrees) and the z threshold of the per-chip share."""

    window_px: int = 5
    vv_weight: float = 0.5
    water_db: float = -18.0
    min_slope_deg: float = 10.0
    threshold: float = 3.0

    def __post_init__(self) -> None:
        if isinstance(self.window_px, bool) or int(self.window_px) < 1 or int(self.window_px) % 2 == 0:
            raise InputError(f"label_free.window_px={self.window_px!r}; expected an odd integer >= 1")
        if not 0.0 <= float(self.vv_weight) <= 1.0:
            raise InputError(f"label_free.vv_weight={self.vv_weight!r}; expected in [0, 1]")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> LabelFreeSettings:
        """The settings of a config section (None or absent keys: the defaults); unknown keys refused."""
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(f"label_free has unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**section)


@dataclass(frozen=True)
class LabelFreeScore:
    """The detector's output on one y x x grid: the combined score (-inf where masked), each
    polarisation's z, which mask (MASKS index + 1; 0: scored) each pixel fell in, and the counts."""

    score: np.ndarray
    z_vv: np.ndarray
    z_vh: np.ndarray
    mask: np.ndarray

    @property
    def counts(self) -> dict[str, int]:
        """Pixels scored and pixels of each mask."""
        out = {"scored": int((self.mask == 0).sum())}
        out.update({m: int((self.mask == i + 1).sum()) for i, m in enumerate(MASKS)})
        return out


def _check_stack(name: str, stack: np.ndarray) -> np.ndarray:
    a = np.asarray(stack, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] < 1:
        raise InputError(f"{name} has shape {a.shape}; expected (times >= 1, y, x)")
    return a


def _nanmean(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 of the finite values and their count (NaN where none)."""
    n = np.isfinite(stack).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixel -> NaN
        return np.nanmean(stack, axis=0), n


def nanmedian_last(samples: np.ndarray) -> np.ndarray:
    """The median over the last axis of the finite values (NaN where none): np.nanmedian's
    result to the bit (the middle value, or the two middle values' sum / 2), by one sort with NaN
    last instead of its masked-array path, which is 5x slower on a chip's y x x x 100 samples."""
    ordered = np.sort(samples, axis=-1)  # NaN sorts last
    n = np.isfinite(samples).sum(axis=-1)
    low = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, (n // 2)[..., None], axis=-1)[..., 0]
    median = np.where(n % 2 == 1, low, (low + high) / 2)
    return np.where(n > 0, median, np.nan)


def pooled_sigma(pre_db: np.ndarray, window_px: int = 5) -> np.ndarray:
    """(y, x) robust spread of the pre-event acquisitions (times, y, x; dB): 1.4826 x the median
    |deviation from the pixel's own mean| over every finite sample of the window_px x window_px
    window (edges: the part inside the grid), x sqrt(n / (n - 1)) for the estimated mean (n: the
    centre pixel's acquisitions). Pooled because 3-4 dates per pixel give too noisy a spread.
    NaN where the centre has fewer than 2 acquisitions or the window no finite deviation.
    Holds y x x x times x window_px^2 deviations at once: call it per chip, not per region."""
    pre = _check_stack("pre_db", pre_db)
    if isinstance(window_px, bool) or int(window_px) < 1 or int(window_px) % 2 == 0:
        raise InputError(f"window_px={window_px!r}; expected an odd integer >= 1")
    k = int(window_px)
    mean, n = _nanmean(pre)
    dev = np.abs(pre - mean[None])
    dev[:, n < 2] = np.nan  # one date: its deviation is 0 by construction, no spread
    half = k // 2
    padded = np.pad(dev, ((0, 0), (half, half), (half, half)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))  # (t, y, x, k, k)
    samples = np.moveaxis(windows, 0, 2).reshape(*mean.shape, -1)  # (y, x, t * k * k)
    mad = nanmedian_last(samples)
    with np.errstate(invalid="ignore", divide="ignore"):
        correction = np.sqrt(n / (n - 1.0))
    sigma = MAD_TO_SIGMA * mad * np.where(n >= 2, correction, np.nan)
    return np.where(sigma > 0, sigma, np.nan)


def z_score(pre_db: np.ndarray, post_db: np.ndarray, window_px: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(z, pre-event mean), each (y, x): (post mean - pre mean) / (pooled sigma x sqrt(1 / n_post
    + 1 / n_pre)) of one polarisation's stacks (times, y, x; dB), n_* the pixel's finite dates."""
    pre, post = _check_stack("pre_db", pre_db), _check_stack("post_db", post_db)
    if pre.shape[1:] != post.shape[1:]:
        raise InputError(f"pre_db is {pre.shape[1:]} and post_db {post.shape[1:]} pixels; expected the same grid")
    m_pre, n_pre = _nanmean(pre)
    m_post, n_post = _nanmean(post)
    sigma = pooled_sigma(pre, window_px)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (m_post - m_pre) / (sigma * np.sqrt(1.0 / n_post + 1.0 / n_pre))
    return z, m_pre


def stouffer(z_vv: np.ndarray, z_vh: np.ndarray, vv_weight: float = 0.5) -> np.ndarray:
    """The weighted Stouffer sum (w_vh x (-z_vh) + w_vv x |z_vv|) / sqrt(w_vh^2 + w_vv^2), w_vv =
    vv_weight, w_vh = 1 - vv_weight: the detector's score before its masks (a 0 weight: that z unread)."""
    w_vv, w_vh = float(vv_weight), 1.0 - float(vv_weight)
    terms = [w * np.asarray(z) for w, z in ((w_vh, -np.asarray(z_vh)), (w_vv, np.abs(z_vv))) if w > 0]
    return np.sum(terms, axis=0) / np.hypot(w_vh, w_vv)


def unmasked_score(
    pre_vv_db: np.ndarray,
    pre_vh_db: np.ndarray,
    post_vv_db: np.ndarray,
    post_vh_db: np.ndarray,
    settings: LabelFreeSettings | None = None,
) -> np.ndarray:
    """(y, x) float32: label_free_score's score without its masks (no water, slope or -inf; NaN
    where a z it reads is not finite), the label-free z-score channel of the `change` input sets."""
    s = settings or LabelFreeSettings()
    z_vv, _ = z_score(pre_vv_db, post_vv_db, s.window_px)
    z_vh, _ = z_score(pre_vh_db, post_vh_db, s.window_px)
    with np.errstate(invalid="ignore"):
        return stouffer(z_vv, z_vh, s.vv_weight).astype(np.float32)


def change_channels(
    pre_vv_db: np.ndarray,
    pre_vh_db: np.ndarray,
    post_vv_db: np.ndarray,
    post_vh_db: np.ndarray,
    settings: LabelFreeSettings | None = None,
) -> np.ndarray:
    """(3, y, x) float32 CHANGE_CHANNELS of one grid's stacks (times, y, x; dB): per polarisation
    the post-event mean minus the pre-event mean of the finite dates (dB; the z-score's
    numerator), then unmasked_score. NaN where a side has no finite date."""
    diffs = []
    for pre, post in ((pre_vv_db, post_vv_db), (pre_vh_db, post_vh_db)):
        m_pre, _ = _nanmean(_check_stack("pre_db", pre))
        m_post, _ = _nanmean(_check_stack("post_db", post))
        diffs.append(m_post - m_pre)
    z = unmasked_score(pre_vv_db, pre_vh_db, post_vv_db, post_vh_db, settings)
    return np.stack([*diffs, z]).astype(np.float32)


def label_free_score(
    pre_vv_db: np.ndarray,
    pre_vh_db: np.ndarray,
    post_vv_db: np.ndarray,
    post_vh_db: np.ndarray,
    slope_deg: np.ndarray,
    settings: LabelFreeSettings | None = None,
) -> LabelFreeScore:
    """The detector on one grid: stacks (times, y, x) of VV and VH in dB before and after the
    event (NaN = no data), slope (y, x) in degrees. Score: the Stouffer sum of -z_vh and |z_vv|
    (weights 1 - vv_weight, vv_weight); -inf on no data, water and flat ground."""
    s = settings or LabelFreeSettings()
    z_vv, mean_vv = z_score(pre_vv_db, post_vv_db, s.window_px)
    z_vh, _ = z_score(pre_vh_db, post_vh_db, s.window_px)
    slope = np.asarray(slope_deg, dtype=np.float64)
    if slope.shape != z_vv.shape:
        raise InputError(f"slope_deg is {slope.shape} pixels and the stacks {z_vv.shape}; expected the same grid")
    w_vv = float(s.vv_weight)
    combined = stouffer(z_vv, z_vh, w_vv)
    mask = np.zeros(z_vv.shape, dtype=np.uint8)
    needed = [z_vh, slope] + ([z_vv] if w_vv > 0 else []) + [mean_vv]
    nodata = ~np.logical_and.reduce([np.isfinite(a) for a in needed])
    with np.errstate(invalid="ignore"):
        water = ~nodata & (mean_vv < float(s.water_db))
        flat = ~nodata & ~water & (slope < float(s.min_slope_deg))
    for i, m in enumerate((nodata, water, flat)):
        mask[m] = i + 1
    score = np.where(mask == 0, combined, -np.inf).astype(np.float32)
    return LabelFreeScore(score=score, z_vv=z_vv.astype(np.float32), z_vh=z_vh.astype(np.float32), mask=mask)


def chip_summary(result: LabelFreeScore, threshold: float = 3.0) -> dict[str, float]:
    """One chip's summary (SUMMARY_COLUMNS): the share of its scored pixels with score above
    `threshold`, the 50/90/99th percentiles of their score (NaN: none scored) and the counts."""
    scored = result.score[result.mask == 0].astype(np.float64)
    counts = result.counts
    out: dict[str, float] = {
        "share_above": float((scored > threshold).mean()) if scored.size else float("nan"),
    }
    pct = np.percentile(scored, SUMMARY_PERCENTILES) if scored.size else [np.nan] * len(SUMMARY_PERCENTILES)
    out.update({f"score_p{p}": float(v) for p, v in zip(SUMMARY_PERCENTILES, pct)})
    out["n_scored"] = counts["scored"]
    out.update({f"n_{m}": counts[m] for m in MASKS})
    return out
