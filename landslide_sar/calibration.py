"""Probabilities that mean what they say: expected calibration error (ECE), reliability diagram
data, and the two recalibrations fitted on validation rows only: temperature scaling and
isotonic regression.

Two shapes of probabilities are handled. Multi-class: an (n, k) array of class probabilities
(the density forest's); the ECE is the top-label one (confidence = the largest probability,
correct = its class is the true one) and each class has its own one-vs-rest reliability.
Binary: an (n,) array of the positive class's probability (the U-Net's pixels); the ECE is
that of the positive class's probability against the 0/1 label.

A calibration fitted on the reported (test) rows would flatter it: `ValidationSet` refuses any
row whose subset is not "val", so every fit goes through a guard that says so in one line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit, softmax
from sklearn.isotonic import IsotonicRegression

from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path

log = logging.getLogger(__name__)
PathLike = str | os.PathLike

#: the recalibrations, in the order they are reported ("none" leaves the probabilities as they are)
METHODS = ("none", "temperature", "isotonic")
DEFAULT_BINS = 10
#: the subset name of the only rows a calibration may be fitted on
VALIDATION = "val"
#: probabilities are clipped to [EPS, 1 - EPS] before a log (a forest gives exact 0 and 1)
EPS = 1e-6


def _binary(prob: np.ndarray) -> bool:
    return np.asarray(prob).ndim == 1


def _check(prob: np.ndarray, y: np.ndarray, where: str = "calibration") -> tuple[np.ndarray, np.ndarray]:
    prob, y = np.asarray(prob, dtype=float), np.asarray(y).astype(int).ravel()
    if prob.ndim not in (1, 2) or prob.shape[0] != y.size:
        raise InputError(f"{where}: probabilities of shape {prob.shape} for {y.size} labels; expected (n,) or (n, k)")
    if not np.all(np.isfinite(prob)):
        raise InputError(f"{where}: {int((~np.isfinite(prob)).sum())} probabilities are not finite; expected none")
    return prob, y


def confidence_and_hit(prob: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the reliability of `prob` is judged on: multi-class, the top label's probability and
    whether that label is right; binary, the positive probability and the 0/1 label."""
    prob, y = _check(prob, y)
    if _binary(prob):
        return prob, (y == 1).astype(float)
    return prob.max(axis=1), (prob.argmax(axis=1) == y).astype(float)


def _bin_index(conf: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins on [0, 1]: bin b holds (b/bins, (b+1)/bins], bin 0 also 0."""
    return np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)


def ece_of(conf: np.ndarray, hit: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE of confidences against 0/1 outcomes: sum over equal-width bins of (bin share) x
    |mean outcome - mean confidence|. NaN for no rows."""
    conf, hit = np.asarray(conf, dtype=float).ravel(), np.asarray(hit, dtype=float).ravel()
    if not conf.size:
        return float("nan")
    idx = _bin_index(conf, bins)
    gap = np.bincount(idx, weights=hit - conf, minlength=bins)  # per bin: n x (accuracy - confidence)
    return float(np.abs(gap).sum() / conf.size)


def expected_calibration_error(prob: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE of (n, k) class probabilities, or the ECE of (n,) positive probabilities,
    over `bins` equal-width bins (Guo et al. 2017)."""
    return ece_of(*confidence_and_hit(prob, y), bins=bins)


def class_ece(prob: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """One-vs-rest ECE of each class of (n, k) class probabilities: is "30 % class c" right 30 %?"""
    prob, y = _check(prob, y)
    return [ece_of(prob[:, c], (y == c).astype(float), bins) for c in range(prob.shape[1])]


def reliability_bins(conf: np.ndarray, hit: np.ndarray, bins: int = DEFAULT_BINS) -> list[dict]:
    """Reliability diagram data: per equal-width bin its edges, row count, mean confidence and
    observed frequency (NaN in an empty bin)."""
    conf, hit = np.asarray(conf, dtype=float).ravel(), np.asarray(hit, dtype=float).ravel()
    idx = _bin_index(conf, bins)
    n = np.bincount(idx, minlength=bins)
    s_conf = np.bincount(idx, weights=conf, minlength=bins)
    s_hit = np.bincount(idx, weights=hit, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [
            {
                "bin": b,
                "bin_low": b / bins,
                "bin_high": (b + 1) / bins,
                "n": int(n[b]),
                "mean_confidence": float(s_conf[b] / n[b]) if n[b] else float("nan"),
                "accuracy": float(s_hit[b] / n[b]) if n[b] else float("nan"),
            }
            for b in range(bins)
        ]


def negative_log_likelihood(prob: np.ndarray, y: np.ndarray) -> float:
    """Mean NLL of the true labels (binary: of the 0/1 label) under `prob`, clipped at EPS."""
    prob, y = _check(prob, y)
    p = np.where(y == 1, prob, 1 - prob) if _binary(prob) else prob[np.arange(y.size), y]
    return float(-np.mean(np.log(np.clip(p, EPS, 1.0))))


@dataclass(frozen=True)
class ValidationSet:
    """Probabilities and labels of validation rows, the only rows a calibration is fitted on:
    built with the rows' subsets, it refuses any that is not "val" (test rows would flatter
    the calibration they are then scored with)."""

    prob: np.ndarray
    y: np.ndarray
    subsets: Sequence[str] | np.ndarray = field(repr=False)
    where: str = "calibration"

    def __post_init__(self) -> None:
        prob, y = _check(self.prob, self.y, self.where)
        subsets = np.asarray(self.subsets).astype(str).ravel()
        if subsets.size != y.size:
            raise InputError(f"{self.where}: {subsets.size} subsets for {y.size} rows; expected one per row")
        bad = subsets != VALIDATION
        if bad.any():
            raise InputError(
                f"{self.where}: calibration is fitted on validation rows only; got {int(bad.sum())} of {y.size} rows "
                f"of subset(s) {sorted(set(subsets[bad].tolist()))}"
            )
        if not y.size:
            raise InputError(f"{self.where}: no validation rows to fit a calibration on; expected some")
        object.__setattr__(self, "prob", prob)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "subsets", subsets)


def _logits(prob: np.ndarray) -> np.ndarray:
    """Binary: log-odds of the positive probability; multi-class: log-probabilities (softmax of
    them gives `prob` back), both clipped at EPS."""
    p = np.clip(prob, EPS, 1 - EPS)
    return logit(p) if _binary(prob) else np.log(p)


def apply_temperature(prob: np.ndarray, temperature: float) -> np.ndarray:
    """`prob` with its logits divided by `temperature` (> 1 softens, < 1 sharpens); NaN kept."""
    prob = np.asarray(prob, dtype=float)
    finite = np.isfinite(prob) if _binary(prob) else np.isfinite(prob).all(axis=-1)
    out = np.full(prob.shape, np.nan)
    z = _logits(np.where(np.isfinite(prob), prob, 0.5)) / float(temperature)
    scaled = expit(z) if _binary(prob) else softmax(z, axis=-1)
    out[finite] = scaled[finite]
    return out


def fit_temperature(data: ValidationSet) -> float:
    """The temperature T minimising the validation NLL of softmax(logits / T) (sigmoid for binary),
    searched on log T in [-4, 4] (T in 0.02 … 55)."""

    def nll(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(data.prob, float(np.exp(log_t))), data.y)

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def fit_isotonic(data: ValidationSet) -> list[tuple[list[float], list[float]]]:
    """Isotonic regression (sklearn, increasing, clipped to [0, 1]) of the outcome on the
    probability: binary one curve; multi-class one one-vs-rest curve per class (renormalised
    when applied). Each curve as its (x, y) thresholds, applied by linear interpolation."""
    cols = [data.prob] if _binary(data.prob) else [data.prob[:, c] for c in range(data.prob.shape[1])]
    hits = [data.y == 1] if _binary(data.prob) else [data.y == c for c in range(data.prob.shape[1])]
    curves = []
    for x, hit in zip(cols, hits):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, hit.astype(float))
        curves.append(([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]))
    return curves


def apply_isotonic(prob: np.ndarray, curves: Sequence[tuple[Sequence[float], Sequence[float]]]) -> np.ndarray:
    """`prob` mapped through the isotonic curves of fit_isotonic; multi-class rows renormalised
    to sum to 1 (a row all of whose classes map to 0 gets the classes' mean); NaN kept."""
    prob = np.asarray(prob, dtype=float)
    if _binary(prob):
        x, y = curves[0]
        return np.where(np.isfinite(prob), np.interp(prob, x, y), np.nan)
    out = np.stack([np.interp(prob[:, c], *curves[c]) for c in range(prob.shape[1])], axis=1)
    total = out.sum(axis=1, keepdims=True)
    out = np.where(total > 0, out / np.where(total > 0, total, 1), 1.0 / prob.shape[1])
    out[~np.isfinite(prob).all(axis=1)] = np.nan
    return out


@dataclass(frozen=True)
class Calibrator:
    """A fitted recalibration and its codec (JSON): method (METHODS), temperature (method
    temperature), isotonic curves (method isotonic), how many validation rows it was fitted on
    and what they were (fitted_on), the measured ECE per scored set ({set name: {"before": ECE,
    "after": ECE, "n": rows}}), and whether it maps positive (binary) or class probabilities."""

    method: str
    n_fitted: int
    fitted_on: str
    temperature: float | None = None
    curves: tuple = ()
    ece: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    bins: int = DEFAULT_BINS
    binary: bool = False

    def apply(self, prob: np.ndarray) -> np.ndarray:
        """The recalibrated probabilities (same shape; NaN where `prob` is NaN). A binary
        calibrator takes positive probabilities of any shape (a raster), a multi-class one (n, k)."""
        prob = np.asarray(prob, dtype=float)
        flat = prob.ravel() if self.binary else prob
        if self.method == "temperature":
            out = apply_temperature(flat, float(self.temperature))
        elif self.method == "isotonic":
            out = apply_isotonic(flat, self.curves)
        else:
            out = flat
        return out.reshape(prob.shape)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        d = json.loads(text)
        d["curves"] = tuple((tuple(x), tuple(y)) for x, y in d.get("curves", ()))
        return cls(**d)

    def with_ece(self, ece: Mapping[str, Mapping[str, float]]) -> Calibrator:
        return Calibrator(**{**asdict(self), "curves": self.curves, "ece": dict(ece)})

    def tag(self, scored_on: str | None = None) -> str:
        """The CALIBRATION tag of a probability raster: the method, where it was fitted and the
        ECE before/after on `scored_on` (default: every scored set)."""
        if self.method == "temperature":
            head = f"temperature scaling (T = {self.temperature:.3f})"
        elif self.method == "isotonic":
            head = "isotonic regression"
        else:
            head = "none (probabilities as the model gives them)"
        sets = [scored_on] if scored_on in self.ece else list(self.ece)
        scores = "; ".join(
            f"ECE ({self.bins} bins) on {s} ({int(self.ece[s]['n'])} rows): {self.ece[s]['before']:.4f} before, "
            f"{self.ece[s]['after']:.4f} after"
            for s in sets
        )
        where = "checked on" if self.method == "none" else "fitted on"
        return f"{head}; {where} {self.n_fitted} {self.fitted_on}; {scores}"


def fit_calibrator(method: str, data: ValidationSet, *, fitted_on: str, bins: int = DEFAULT_BINS) -> Calibrator:
    """Fit `method` (METHODS) on validation rows only (the ValidationSet guard)."""
    if method not in METHODS:
        raise InputError(f"calibration method {method!r}; expected one of {list(METHODS)}")
    if not isinstance(data, ValidationSet):
        raise InputError("fit_calibrator takes a ValidationSet (validation rows only); got " + type(data).__name__)
    common = {
        "method": method,
        "n_fitted": int(data.y.size),
        "fitted_on": fitted_on,
        "bins": int(bins),
        "binary": _binary(data.prob),
    }
    if method == "temperature":
        return Calibrator(**common, temperature=fit_temperature(data))
    if method == "isotonic":
        return Calibrator(**common, curves=tuple((tuple(x), tuple(y)) for x, y in fit_isotonic(data)))
    return Calibrator(**common)


def out_of_fold(method: str, data: ValidationSet, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """The validation rows recalibrated by `method` fitted on the other folds (seeded folds; as
    many folds as rows when there are fewer; with one row, the row as it is)."""
    folds = min(folds, data.y.size)
    if folds < 2:
        return data.prob.copy()
    rng = np.random.default_rng(seed)
    fold = rng.permutation(data.y.size) % folds
    out = np.empty_like(data.prob)
    for f in range(folds):
        rest = fold != f
        fit = fit_calibrator(
            method, ValidationSet(data.prob[rest], data.y[rest], data.subsets[rest], data.where), fitted_on="folds"
        )
        out[fold == f] = fit.apply(data.prob[fold == f])
    return out


#: columns of calibration.csv: one row per method, scored set and curve
CALIBRATION_COLUMNS = [
    "method",
    "applied",
    "scored_on",
    "curve",
    "n",
    "ece_before",
    "ece_after",
    "nll_before",
    "nll_after",
    "temperature",
]
CV_SET = "validation (5-fold)"


def _curves(prob: np.ndarray, y: np.ndarray, bins: int) -> dict[str, float]:
    """ECE per curve: the top label (or the positive class) and, multi-class, each class."""
    out = {"positive" if _binary(prob) else "top_label": expected_calibration_error(prob, y, bins)}
    if not _binary(prob):
        out |= {f"class{c}": e for c, e in enumerate(class_ece(prob, y, bins))}
    return out


def _score_rows(
    fit: Calibrator, applied: str, scored_on: str, before: np.ndarray, after: np.ndarray, y: np.ndarray, bins: int
) -> list[dict]:
    """calibration.csv's rows (CALIBRATION_COLUMNS) of one method on one scored set: per curve the
    ECE of the probabilities `before` and `after` its recalibration, and their NLL."""
    before_c, after_c = _curves(before, y, bins), _curves(after, y, bins)
    nll_before, nll_after = negative_log_likelihood(before, y), negative_log_likelihood(after, y)
    return [
        {
            "method": fit.method,
            "applied": fit.method == applied,
            "scored_on": scored_on,
            "curve": curve,
            "n": int(np.asarray(y).size),
            "ece_before": before_c[curve],
            "ece_after": after_c[curve],
            "nll_before": nll_before,
            "nll_after": nll_after,
            "temperature": fit.temperature,
        }
        for curve in before_c
    ]


def calibrate_and_report(
    validation: ValidationSet,
    scored: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    method: str,
    fitted_on: str,
    calibration_out: PathLike,
    csv_out: PathLike,
    png_out: PathLike,
    title: str,
    bins: int = DEFAULT_BINS,
    unit: str = "rows",
) -> Calibrator:
    """Fit every method of METHODS on `validation`, score each on the validation rows (5-fold:
    fitted on four fifths, scored on the fifth) and on every set of `scored` (name -> (prob, y),
    the test rows), and keep `method` (the config's choice): its JSON (Calibrator) to
    calibration_out, every method's ECE and NLL before/after per set and curve to csv_out
    (CALIBRATION_COLUMNS), the reliability diagrams of every scored set to png_out."""
    if method not in METHODS:
        raise InputError(f"config calibration method {method!r}; expected one of {list(METHODS)}")
    rows: list[dict] = []
    fits = {m: fit_calibrator(m, validation, fitted_on=fitted_on, bins=bins) for m in METHODS}
    oof = {m: out_of_fold(m, validation) for m in METHODS}
    checked = {name: _check(prob, y, name) for name, (prob, y) in scored.items()}
    for m, fit in fits.items():
        rows += _score_rows(fit, method, CV_SET, validation.prob, oof[m], validation.y, bins)
        for name, (prob, y) in checked.items():
            rows += _score_rows(fit, method, name, prob, fit.apply(prob), y, bins)
    table = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    top = table[table["curve"].isin(["top_label", "positive"])]
    chosen = fits[method].with_ece(
        {
            r.scored_on: {"before": float(r.ece_before), "after": float(r.ece_after), "n": int(r.n)}
            for r in top[top["method"] == method].itertuples()
        }
    )
    for r in top[top["method"] != "none"].itertuples():
        log.info("%s on %s: ECE %.4f -> %.4f (%d rows)", r.method, r.scored_on, r.ece_before, r.ece_after, r.n)
    best = top[top["scored_on"] == CV_SET].sort_values("ece_after").iloc[0]["method"]
    if best != method:
        log.warning(
            "calibration method %r is applied; %r has the lowest cross-validated ECE on the validation rows",
            method,
            best,
        )
    reliability_figure(validation, scored, fits, method, png_out, title=title, bins=bins, out_of_fold=oof, unit=unit)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(calibration_out) as tmp:
        tmp.write_text(chosen.to_json())
    return chosen


def reliability_figure(
    validation: ValidationSet,
    scored: Mapping[str, tuple[np.ndarray, np.ndarray]],
    fits: Mapping[str, Calibrator],
    applied: str,
    png_out: PathLike,
    *,
    title: str,
    bins: int = DEFAULT_BINS,
    out_of_fold: Mapping[str, np.ndarray] | None = None,
    unit: str = "rows",
) -> None:
    """Reliability diagrams (observed frequency against stated probability, per equal-width bin)
    of the validation rows and each scored set, before (method none) and after each
    recalibration, the ECE in the legend; below each, how many rows each bin holds (log scale).
    Top label (multi-class) or positive class (binary); multi-class adds, per scored set, each
    class one against the rest. The validation panel shows `out_of_fold` (method -> its rows
    recalibrated by fits on the other folds) when given, else the in-sample fit (flattering)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    binary = _binary(validation.prob)
    cv = "5-fold, out of fold" if out_of_fold is not None else "in sample"
    # panels: (title, probabilities, labels, class or None for the top label / positive class, out of fold?)
    panels = [(f"validation ({validation.y.size} {unit}, {cv})", validation.prob, validation.y, None, True)]
    for name, (prob, y) in scored.items():
        panels.append((f"{name} ({np.asarray(y).size} {unit})", prob, y, None, False))
    if not binary:
        for name, (prob, y) in scored.items():
            panels += [(f"{name}: class {c} vs rest", prob, y, c, False) for c in range(validation.prob.shape[1])]
    colours = {"none": "#444444", "temperature": "#d95f02", "isotonic": "#1b9e77"}
    per_row = min(len(panels), 3)
    rows = -(-len(panels) // per_row)
    fig, axes = plt.subplots(
        2 * rows,
        per_row,
        figsize=(4.6 * per_row, 5.4 * rows + 0.4),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1] * rows},
    )
    for k, (name, prob, y, cls, oof) in enumerate(panels):
        ax, hist = axes[2 * (k // per_row), k % per_row], axes[2 * (k // per_row) + 1, k % per_row]
        ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls=":", label="perfect")
        for m, fit in fits.items():
            if oof and out_of_fold is not None:
                p = out_of_fold[m]
            else:
                p = np.asarray(prob, dtype=float) if m == "none" else fit.apply(prob)
            if cls is None:
                conf, hit = confidence_and_hit(p, y)
            else:
                conf, hit = p[:, cls], (np.asarray(y) == cls).astype(float)
            rel = pd.DataFrame(reliability_bins(conf, hit, bins))
            ece = ece_of(conf, hit, bins)
            label = f"temperature T={fit.temperature:.2f}" if m == "temperature" else m
            ax.plot(
                rel["mean_confidence"],
                rel["accuracy"],
                marker="o",
                ms=3.5,
                lw=2.2 if m == applied else 1.1,
                color=colours[m],
                label=f"{label}: ECE {ece:.3f}" + (" (applied)" if m == applied else ""),
            )
            counts = rel["n"].where(rel["n"] > 0)
            hist.step(rel["bin_low"] + 0.5 / bins, counts, where="mid", color=colours[m], lw=1)
        first = k % per_row == 0
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="", ylabel="observed frequency" if first else "")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        hist.set(xlim=(0, 1), yscale="log", xlabel="stated probability", ylabel=f"{unit} per bin" if first else "")
        hist.yaxis.set_minor_formatter(NullFormatter())
    for k in range(len(panels), rows * per_row):  # empty slots of the last row
        axes[2 * (k // per_row), k % per_row].axis("off")
        axes[2 * (k // per_row) + 1, k % per_row].axis("off")
    curve = "positive class" if binary else "top label (and each class)"
    fig.suptitle(f"{title}: reliability of the {curve} probability, {bins} equal-width bins", fontsize=10)
    fig.tight_layout()
    with atomic_path(png_out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
