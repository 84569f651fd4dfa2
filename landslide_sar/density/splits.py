"""The density paper's splits of an area's chips: two halves, each with train and validation chips
(the rest of a half is predicted by the other half's model), drawn at random (the paper's) or by
whole spatial blocks, seeded. Which split a folder holds is named by density.experiments."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landslide_sar.chips import halves_of, validation_count
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)


#: Random block orders tried by assign_blocked_splits (the most class-balanced is kept).
BLOCK_TRIALS = 200


def check_fractions(train_fraction: float, val_fraction: float) -> None:
    """train_fraction + val_fraction must be 0.5: each of the two halves is split into train and
    val (validate_config refuses such a config; this guards the functions called by hand)."""
    if not np.isclose(train_fraction + val_fraction, 0.5):
        raise InputError(
            f"splits: train_fraction {train_fraction} + val_fraction {val_fraction} = "
            f"{train_fraction + val_fraction}; expected 0.5 (each of the two halves is split into train and val)"
        )


def short_half(table: pd.DataFrame, min_train: int, min_val: int) -> tuple[int, int, int] | None:
    """(half, train chips, val chips) of the first half with fewer than `min_train` train or
    `min_val` validation chips; None when both have enough."""
    for k in (0, 1):
        n_train = int(((table["half"] == k) & (table["subset"] == "train")).sum())
        n_val = int(((table["half"] == k) & (table["subset"] == "val")).sum())
        if n_train < min_train or n_val < min_val:
            return k, n_train, n_val
    return None


def assign_splits(
    valid: np.ndarray, seed: int, train_fraction: float, val_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two random halves of the valid chips; within each, train_fraction of ALL valid chips train
    and val_fraction validate (0.4/0.1 as the paper). Invalid chips get half -1, subset "excluded"."""
    check_fractions(train_fraction, val_fraction)
    n = valid.size
    half = np.full(n, -1, dtype="int8")
    subset = np.full(n, "excluded", dtype=object)
    idx = np.flatnonzero(valid)
    rng = np.random.default_rng(seed)
    rng.shuffle(idx)
    first = halves_of(len(idx))[0]
    halves = (idx[:first], idx[first:])
    for k, members in enumerate(halves):
        n_val = validation_count(len(members), val_fraction)
        half[members] = k
        subset[members[:n_val]] = "val"
        subset[members[n_val:]] = "train"
    return half, subset


def assign_blocked_splits(
    rows: np.ndarray,
    cols: np.ndarray,
    classes: np.ndarray,
    valid: np.ndarray,
    chip_km: float,
    block_km: float,
    seed: int,
    train_fraction: float,
    val_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Two halves made of whole spatial blocks of chips (block_km on a side, at least one chip),
    so that neighbouring chips do not straddle the halves except at block edges.

    Blocks are taken in a seeded random order and each goes to the half whose class counts it
    keeps closest (ties: the half with fewer chips); of BLOCK_TRIALS such orders, among those
    whose class counts are within 5 % of the chips of the most balanced, the one with the fewest
    block edges between the halves is kept (comparable class mix, compact halves).
    Within a half, val_fraction / 0.5 of its chips validate (random), the rest train; then where
    a train chip touches (8-neighbourhood) a train chip of the other half across a block edge,
    the one of the half with more train chips becomes val, so no model is trained on a chip
    beside the other half's training chips. Returns (half, subset) as assign_splits does;
    invalid chips get half -1, subset "excluded".
    """
    check_fractions(train_fraction, val_fraction)
    if not block_km > 0:
        raise InputError(f"splits.block_km={block_km!r}; expected a positive size in km")
    rows, cols, classes, valid = (np.asarray(a) for a in (rows, cols, classes, valid))
    b = max(1, int(np.ceil(block_km / chip_km - 1e-9)))
    block = (rows // b) * (int(cols.max()) // b + 1) + cols // b
    n = rows.size
    half = np.full(n, -1, dtype="int8")
    subset = np.full(n, "excluded", dtype=object)
    rng = np.random.default_rng(seed)
    blocks = np.unique(block[valid])
    n_classes = int(classes[valid].max()) + 1 if valid.any() else 1
    per_block = {k: np.bincount(classes[valid & (block == k)], minlength=n_classes) for k in blocks}
    n_block_cols = int(cols.max()) // b + 1
    touching = [
        (p, q)
        for p in blocks
        for q in blocks
        if p < q and abs(p // n_block_cols - q // n_block_cols) <= 1 and abs(p % n_block_cols - q % n_block_cols) <= 1
    ]
    trials = []
    for _ in range(BLOCK_TRIALS):  # greedy fills in seeded random orders
        counts = np.zeros((2, n_classes), dtype=int)
        side = {}
        for blk in rng.permutation(blocks):
            add = per_block[blk]
            cost = [np.abs(counts[h] + add - counts[1 - h]).sum() for h in (0, 1)]
            h = int(np.argmin(cost)) if cost[0] != cost[1] else int(counts[1].sum() < counts[0].sum())
            side[blk] = h
            counts[h] += add
        edges = sum(side[p] != side[q] for p, q in touching)
        trials.append((int(np.abs(counts[0] - counts[1]).sum()), edges, side))
    # balanced enough (within 5 % of the chips of the most balanced order), then the fewest block
    # edges between the halves: compact halves lose fewer train chips to the edge rule below
    tolerance = min(t[0] for t in trials) + max(2, int(0.05 * valid.sum()))
    best = min((t for t in trials if t[0] <= tolerance), key=lambda t: (t[1], t[0]))
    for blk, h in best[2].items():
        half[valid & (block == blk)] = h
    for h in (0, 1):
        members = np.flatnonzero(half == h)
        rng.shuffle(members)
        n_val = validation_count(len(members), val_fraction)
        subset[members[:n_val]] = "val"
        subset[members[n_val:]] = "train"
    where = {(int(r), int(c)): i for i, (r, c) in enumerate(zip(rows, cols))}
    n_train = [int(((half == h) & (subset == "train")).sum()) for h in (0, 1)]
    neighbours = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    for i in np.argsort(rows * (int(cols.max()) + 1) + cols, kind="stable"):
        for dr, dc in neighbours:
            if subset[i] != "train":
                break
            j = where.get((int(rows[i]) + dr, int(cols[i]) + dc))
            if j is None or subset[j] != "train" or half[j] == half[i]:
                continue
            drop = i if n_train[half[i]] >= n_train[half[j]] else j
            subset[drop] = "val"
            n_train[half[drop]] -= 1
    return half, subset


def split_chips(
    chips_table: str | Path,
    out_table: str | Path,
    scheme: str,
    split_seed: int,
    train_fraction: float,
    val_fraction: float,
    block_km: float = 3.5,
    min_train_chips: int = 0,
    min_val_chips: int = 0,
) -> gpd.GeoDataFrame:
    """The chip table with `half` and `subset` re-assigned under one split (scheme, split_seed):
    random (assign_splits, as make_chips does with the first split seed) or blocked by spatial
    blocks (assign_blocked_splits); logs each half's class mix and train / val counts. Fails like
    make_chips when a half has too few train or val chips."""
    import geopandas as gpd

    table = gpd.read_file(chips_table, layer="chips")
    missing = [c for c in ("row", "col", "density_class", "subset", "geometry") if c not in table.columns]
    if missing:
        raise InputError(f"{chips_table}: chip table lacks column(s) {missing}")
    valid = (table["subset"] != "excluded").to_numpy()
    if scheme == "random":
        half, subset = assign_splits(valid, split_seed, train_fraction, val_fraction)
        what = f"random split (seed {split_seed})"
    elif scheme == "blocked":
        bounds = table.geometry.iloc[0].bounds
        chip_km = (bounds[2] - bounds[0]) / 1000.0
        half, subset = assign_blocked_splits(
            table["row"].to_numpy(),
            table["col"].to_numpy(),
            table["density_class"].to_numpy().astype(int),
            valid,
            chip_km,
            block_km,
            split_seed,
            train_fraction,
            val_fraction,
        )
        b = max(1, int(np.ceil(block_km / chip_km - 1e-9)))
        what = f"blocked split (seed {split_seed}, blocks of {b} x {b} chips, {b * chip_km:.2f} km)"
    else:
        raise InputError(f"splits.schemes: {scheme!r}; expected random or blocked")
    table["half"], table["subset"] = half, subset
    for h in (0, 1):
        mine = table[table["half"] == h]
        log.info(
            "%s: half %d: %d train, %d val; classes %s",
            what,
            h,
            int((mine["subset"] == "train").sum()),
            int((mine["subset"] == "val").sum()),
            mine["density_class"].value_counts().sort_index().to_dict(),
        )
    short = short_half(table, min_train_chips, min_val_chips)
    if short is not None:
        k, n_train, n_val = short
        hint = f" (a smaller splits.block_km {block_km:g} or a larger area give more)" if scheme == "blocked" else ""
        raise InputError(
            f"{what} of {chips_table}: half {k} has {n_train} train and {n_val} validation chip(s), expected "
            f"at least splits.min_train_chips = {min_train_chips} and splits.min_val_chips = {min_val_chips}{hint}"
        )
    with atomic_path(out_table) as tmp:
        table.to_file(tmp, layer="chips", driver="GPKG")
    return table
