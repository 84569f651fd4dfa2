"""Detection without learning, after Handwerger et al. (2022): the change of the median VH
backscatter (dB) across the event, masked on gentle slopes, scored directly (AUPRC) and made
binary by a percentile threshold over the unmasked pixels. And the label-free detector
(landslide_sar.label_free: a per-pixel z-score against the pre-event baseline) on the same chips.

Sign: `direction` "decrease" scores median(before) - median(after), so a drop after the event
(forest -> bare scar in VH) is positive; "increase" the opposite; "absolute" the magnitude.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from landslide_sar.detection.data import SAR_BANDS, DetectionChips
from landslide_sar.errors import InputError
from landslide_sar.label_free import LabelFreeSettings
from landslide_sar.label_free import label_free_score as label_free_grid
from landslide_sar.nn.preprocess import to_db

logger = logging.getLogger(__name__)

DIRECTIONS = ("decrease", "increase", "absolute")


def vh_change_db(pre: np.ndarray, post: np.ndarray, axis: int = 1, direction: str = "decrease") -> np.ndarray:
    """Median (NaN-aware) of dB(pre) minus median of dB(post) along `axis` (the acquisitions),
    linear gamma0 in; signed by `direction`. NaN where a side has no finite value."""
    if direction not in DIRECTIONS:
        raise InputError(f"baseline direction={direction!r}; expected one of {list(DIRECTIONS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice -> NaN
        change = np.nanmedian(to_db(pre), axis=axis) - np.nanmedian(to_db(post), axis=axis)
    if direction == "increase":
        change = -change
    elif direction == "absolute":
        change = np.abs(change)
    return change.astype(np.float32)


def slope_masked(score: np.ndarray, slope_deg: np.ndarray, min_slope_deg: float) -> np.ndarray:
    """`score` with -inf where slope < min_slope_deg (no call: gentle terrain rarely slides); NaN
    slope (nodata) keeps NaN."""
    s = np.array(score, dtype=np.float32, copy=True)
    slope = np.asarray(slope_deg)
    with np.errstate(invalid="ignore"):
        s[slope < min_slope_deg] = -np.inf
    s[~np.isfinite(slope)] = np.nan
    return s


def handwerger_score(
    chips: DetectionChips,
    revisits: int,
    n_pre: int | None = None,
    min_slope_deg: float = 0.0,
    direction: str = "decrease",
) -> np.ndarray:
    """(n, H, W) baseline score of each chip: VH change (dB) over the n_pre (default `revisits`)
    acquisitions before and the first `revisits` after, -inf on slopes below min_slope_deg."""
    n_pre = revisits if n_pre is None else n_pre
    if not (1 <= n_pre <= chips.sar_pre.shape[1] and 1 <= revisits <= chips.sar_post.shape[1]):
        raise InputError(
            f"baseline revisits={revisits}, n_pre={n_pre}; the chips hold {chips.sar_post.shape[1]} "
            f"acquisition(s) after and {chips.sar_pre.shape[1]} before"
        )
    vh = SAR_BANDS.index("vh")
    change = vh_change_db(chips.sar_pre[:, :n_pre, vh], chips.sar_post[:, :revisits, vh], axis=1, direction=direction)
    return slope_masked(change, chips.dem[:, 1], min_slope_deg)


def percentile_map(score: np.ndarray, percentile: float, valid: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Binary map of the top (100 - percentile) % of the unmasked pixels (finite score, and
    `valid`), ranked jointly over the whole array: exactly round(n_unmasked * (100 - p) / 100)
    pixels (ties broken by position). Returns the map and the lowest selected score."""
    if not 0 <= percentile <= 100:
        raise InputError(f"baseline percentile={percentile}; expected in [0, 100]")
    s = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(s) if valid is None else np.isfinite(s) & np.asarray(valid, dtype=bool)
    idx = np.flatnonzero(ok.reshape(-1))
    k = int(round(idx.size * (100.0 - percentile) / 100.0))
    out = np.zeros(s.size, dtype=bool)
    if k == 0:
        return out.reshape(s.shape), float("inf")
    order = np.argsort(-s.reshape(-1)[idx], kind="stable")[:k]
    out[idx[order]] = True
    return out.reshape(s.shape), float(s.reshape(-1)[idx[order[-1]]])


def label_free_score(chips: DetectionChips, revisits: int, settings: LabelFreeSettings | None = None) -> np.ndarray:
    """(n, H, W) label-free score of each chip: the z-score detector of landslide_sar.label_free
    on every pre-event acquisition the chips hold (the baseline: its spread needs several dates)
    and the first `revisits` after the event; -inf where masked (no data, water, flat)."""
    if not 1 <= revisits <= chips.sar_post.shape[1]:
        raise InputError(
            f"label-free revisits={revisits}; the chips hold {chips.sar_post.shape[1]} acquisition(s) after"
        )
    if chips.sar_pre.shape[1] < 2:
        logger.warning(
            "label-free detector: the chips hold %d pre-event acquisition(s), too few for a spread; every pixel "
            "is masked (set detection.chips.max_revisits to read more)",
            chips.sar_pre.shape[1],
        )
    vv, vh = SAR_BANDS.index("vv"), SAR_BANDS.index("vh")
    out = np.empty(chips.label.shape, dtype=np.float32)
    for i in range(len(chips)):
        pre, post = to_db(chips.sar_pre[i]), to_db(chips.sar_post[i, :revisits])
        out[i] = label_free_grid(pre[:, vv], pre[:, vh], post[:, vv], post[:, vh], chips.dem[i, 1], settings).score
    return out
