"""SAR-plausible augmentations of a chip and its label (transfer paper): Gaussian blur, Gaussian
noise on the log (dB) channels (speckle-like), motion blur (imperfect focusing), random crop
resized back to the chip size (scale invariance). No rotations or flips: they would produce
geometry a side-looking SAR never images.

Chips are (C, H, W) in model units before standardisation: SAR channels in dB (`is_log` True),
DEM channels in their own units, no NaN (filled beforehand). Labels and valid masks (H, W) are
resampled with nearest so they stay binary and aligned with the image. Every random draw comes
from the numpy Generator passed in, so a seed fixes the whole augmentation stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from landslide_sar.errors import InputError

AUGMENTATIONS = ("crop_resize", "gaussian_blur", "motion_blur", "gaussian_noise")  # order of application


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised 1-D Gaussian (sums to 1), radius ceil(truncate * sigma)."""
    if sigma <= 0:
        raise InputError(f"gaussian blur sigma={sigma}; expected > 0")
    r = max(1, int(np.ceil(truncate * sigma)))
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def motion_blur_kernel(length: int, angle_deg: float) -> np.ndarray:
    """(length, length) kernel: a centred line at `angle_deg` (counter-clockwise from the +x axis,
    rows pointing down) crossing the whole kernel, so it covers `length` pixels along its dominant
    axis at any angle; equal weights summing to 1. Even lengths are made odd; 1 is the identity."""
    length = int(length)
    if length < 1:
        raise InputError(f"motion blur length={length}; expected >= 1")
    if length % 2 == 0:
        length += 1  # odd, so the line is centred on a pixel
    c = length // 2
    k = np.zeros((length, length), dtype=np.float64)
    a = np.deg2rad(angle_deg)
    reach = c / max(abs(np.cos(a)), abs(np.sin(a)))  # end points on the kernel's border
    for t in np.linspace(-reach, reach, 4 * length + 1):
        k[int(round(c - t * np.sin(a))), int(round(c + t * np.cos(a)))] = 1.0
    return k / k.sum()


def _channels(is_log: Sequence[bool], which: str) -> list[int]:
    if which == "sar":
        return [i for i, log in enumerate(is_log) if log]
    if which == "all":
        return list(range(len(is_log)))
    raise InputError(f"augmentation channels={which!r}; expected 'sar' or 'all'")


def gaussian_blur(x: np.ndarray, sigma: float, channels: Sequence[int]) -> np.ndarray:
    """Separable Gaussian blur (reflect at the edges) of the given channels of a (C, H, W) chip."""
    out = np.array(x, dtype=np.float32, copy=True)
    k = gaussian_kernel1d(sigma)
    for c in channels:
        v = ndimage.convolve1d(out[c].astype(np.float64), k, axis=0, mode="reflect")
        out[c] = ndimage.convolve1d(v, k, axis=1, mode="reflect")
    return out


def motion_blur(x: np.ndarray, length: int, angle_deg: float, channels: Sequence[int]) -> np.ndarray:
    """Convolve the given channels of a (C, H, W) chip with motion_blur_kernel (reflect edges)."""
    out = np.array(x, dtype=np.float32, copy=True)
    k = motion_blur_kernel(length, angle_deg)
    for c in channels:
        out[c] = ndimage.convolve(out[c].astype(np.float64), k, mode="reflect")
    return out


def log_noise(x: np.ndarray, std_db: float, is_log: Sequence[bool], rng: np.random.Generator) -> np.ndarray:
    """Add N(0, std_db) to every pixel of the log (dB) channels: multiplicative, speckle-like noise
    on the linear backscatter. DEM channels are returned unchanged."""
    out = np.array(x, dtype=np.float32, copy=True)
    for c, log in enumerate(is_log):
        if log:
            out[c] += rng.normal(0.0, std_db, size=out[c].shape).astype(np.float32)
    return out


def _sample_grid(box: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Input pixel coordinates (2, H, W) of each output pixel centre when `box` (y0, x0, h, w), in
    pixel-edge units, is stretched onto `shape`."""
    y0, x0, h, w = box
    ny, nx = shape
    yy = y0 + (np.arange(ny) + 0.5) * h / ny - 0.5
    xx = x0 + (np.arange(nx) + 0.5) * w / nx - 0.5
    return np.stack(np.meshgrid(yy, xx, indexing="ij"))


def crop_resize(
    x: np.ndarray, masks: Sequence[np.ndarray], box: tuple[float, float, float, float]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Crop `box` = (y0, x0, h, w) (pixel edges) of a (C, H, W) chip and resize it back to (H, W):
    bilinear for the image, nearest for each mask (labels, valid), on the same sampling grid so
    they stay aligned. Masks keep their dtype and values."""
    shape = x.shape[-2:]
    coords = _sample_grid(box, shape)
    img = np.stack([ndimage.map_coordinates(ch.astype(np.float64), coords, order=1, mode="nearest") for ch in x])
    near = np.clip(np.floor(coords + 0.5).astype(int), 0, np.array(shape)[:, None, None] - 1)  # round half up
    return img.astype(np.float32), [np.asarray(m)[near[0], near[1]] for m in masks]


def random_box(shape: tuple[int, int], min_scale: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A random square-aspect crop box (y0, x0, h, w) with side scale in [min_scale, 1]."""
    if not 0 < min_scale <= 1:
        raise InputError(f"crop_resize min_scale={min_scale}; expected in (0, 1]")
    s = rng.uniform(min_scale, 1.0)
    h, w = max(1, int(round(shape[0] * s))), max(1, int(round(shape[1] * s)))
    y0 = int(rng.integers(0, shape[0] - h + 1))
    x0 = int(rng.integers(0, shape[1] - w + 1))
    return float(y0), float(x0), float(h), float(w)


def _draw(value: Any, rng: np.random.Generator) -> float:
    """A scalar as is; a [lo, hi] pair uniformly drawn."""
    if isinstance(value, (list, tuple)):
        lo, hi = float(value[0]), float(value[1])
        return lo if lo == hi else float(rng.uniform(lo, hi))
    return float(value)


def check_augment_cfg(cfg: Mapping[str, Any]) -> None:
    """InputError for unknown augmentation names (a typo would silently switch one off)."""
    unknown = sorted(set(cfg) - set(AUGMENTATIONS))
    if unknown:
        raise InputError(f"augment config has unknown key(s) {unknown}; expected some of {list(AUGMENTATIONS)}")


def augment_chip(
    x: np.ndarray,
    label: np.ndarray,
    valid: np.ndarray,
    is_log: Sequence[bool],
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply each enabled augmentation with its probability p, in AUGMENTATIONS order.

    cfg per name: enabled, p, and crop_resize: min_scale; gaussian_blur: sigma (pixels, scalar or
    [lo, hi]), channels ("sar" or "all"); motion_blur: length ([lo, hi] pixels, made odd),
    channels; gaussian_noise: std_db (dB, scalar or [lo, hi]). Angles of motion blur are uniform.
    """
    check_augment_cfg(cfg)
    for name in AUGMENTATIONS:
        c = cfg.get(name) or {}
        if not c.get("enabled", False) or rng.uniform() >= float(c.get("p", 1.0)):
            continue
        if name == "crop_resize":
            box = random_box(x.shape[-2:], float(c.get("min_scale", 0.6)), rng)
            x, (label, valid) = crop_resize(x, [label, valid], box)
        elif name == "gaussian_blur":
            x = gaussian_blur(x, _draw(c.get("sigma", 1.0), rng), _channels(is_log, c.get("channels", "sar")))
        elif name == "motion_blur":
            length = int(round(_draw(c.get("length", 5), rng)))
            x = motion_blur(x, length, float(rng.uniform(0.0, 180.0)), _channels(is_log, c.get("channels", "sar")))
        elif name == "gaussian_noise":
            x = log_noise(x, _draw(c.get("std_db", 1.0), rng), is_log, rng)
    return x, label, valid


def augment_batch(
    x: np.ndarray,
    label: np.ndarray,
    valid: np.ndarray,
    is_log: Sequence[bool],
    cfg: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """augment_chip on each chip of (n, C, H, W) / (n, H, W) arrays; returns new arrays."""
    xs, ls, vs = zip(*(augment_chip(x[i], label[i], valid[i], is_log, cfg, rng) for i in range(x.shape[0])))
    return np.stack(xs), np.stack(ls), np.stack(vs)
