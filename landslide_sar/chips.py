"""The chip vocabulary shared by both branches: the DEM and label channel names, the order of
the SAR channels of a chip (pre1 earliest, post1 first after the event), which time steps of a
cube are before and after the event, and the density class of a landslide density. Cutting and
splitting the density chips is density.chips and density.splits; detection.data cuts its own."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.errors import InputError

log = logging.getLogger(__name__)

DEM_CHANNELS = ("dem", "dem_slope_radians", "dem_curvature", "dem_aspect")
LABEL_CHANNEL = "landslides"
#: `sat:orbit_state` spellings (the published cubes' "a"/"d" and STAC's words) to the words
_DIRECTIONS = {"a": "ascending", "ascending": "ascending", "d": "descending", "descending": "descending"}


def validation_count(n_members: int, val_fraction: float) -> int:
    """Chips of one half that validate: `val_fraction` / 0.5 of the half, rounded (the rest train).
    The one rule both split schemes apply and the config check counts with."""
    return int(round(n_members * val_fraction / 0.5))


def halves_of(n_chips: int) -> tuple[int, int]:
    """How many of `n_chips` usable chips each random half holds: the first the odd one."""
    return ((n_chips + 1) // 2, n_chips // 2)


def half_sizes(n_chips: int, val_fraction: float) -> list[tuple[int, int]]:
    """(train, val) chips of each random half when all `n_chips` are usable: the halves hold
    (n + 1) // 2 and n // 2 chips (density.splits.assign_splits)."""
    return [(m - validation_count(m, val_fraction), validation_count(m, val_fraction)) for m in halves_of(n_chips)]


def model_direction(attrs: Mapping[str, Any]) -> str | None:
    """The orbit direction ("ascending"/"descending") whose time steps the models use, as a cube's
    attributes say it: the first orbit of `orbit` (download_sentinel1 lists the models' orbit
    first) or `orbit_state` (an imported published cube); None where they say neither."""
    orbit = str(attrs.get("orbit") or "").split(",")[0].split("/")[0].strip()
    state = orbit or str(attrs.get("orbit_state") or "")
    return _DIRECTIONS.get(state.lower())


def sar_timesteps(
    timesteps: np.ndarray,
    event_time: datetime,
    n_pre: int,
    n_post: int,
    orbit_states: np.ndarray | None = None,
    orbit_state: str | None = None,
) -> tuple[list[int], list[int]]:
    """Indices of the `n_pre` time steps closest before the event and the `n_post` first after it,
    among the steps of direction `orbit_state` when the steps' `orbit_states` are given (spelt
    a/d or ascending/descending): chips never mix the two directions' geometries."""
    pre, post, where = side_timesteps(timesteps, event_time, orbit_states, orbit_state)
    if len(pre) < n_pre or len(post) < n_post:
        raise InputError(
            f"cube: {len(pre)} time step(s) before and {len(post)} after {_day(event_time)}{where}; "
            f"expected at least {n_pre} before and {n_post} after (sentinel1.acquisitions_pre/post)"
        )
    return pre[len(pre) - n_pre :], post[:n_post]


def _day(event_time: datetime) -> str:
    event = pd.Timestamp(event_time)
    return f"{(event.tz_convert(None) if event.tzinfo else event):%Y-%m-%d}"


def side_timesteps(
    timesteps: np.ndarray,
    event_time: datetime,
    orbit_states: np.ndarray | None = None,
    orbit_state: str | None = None,
) -> tuple[list[int], list[int], str]:
    """Indices of every time step before the event and every one at or after it, each in time
    order, among the steps of direction `orbit_state` (as sar_timesteps), and " on orbit
    direction X" when that dropped steps ("" otherwise)."""
    t = pd.to_datetime(timesteps)
    event = pd.Timestamp(event_time).tz_convert(None) if pd.Timestamp(event_time).tzinfo else pd.Timestamp(event_time)
    keep = np.ones(len(t), dtype=bool)
    where = ""
    if orbit_states is not None:
        states = [_DIRECTIONS.get(str(s).strip().lower(), str(s)) for s in np.asarray(orbit_states)]
        if orbit_state is None and len(set(states)) > 1:
            raise InputError(
                f"cube: time steps of orbit directions {sorted(set(states))} and no attribute saying which the "
                "models use; expected an `orbit` attribute (download_sentinel1) or `orbit_state` (import_datacube)"
            )
        if orbit_state is not None:
            direction = _DIRECTIONS.get(orbit_state.lower(), orbit_state)
            keep = np.array(states) == direction
            where = "" if keep.all() else f" on orbit direction {direction}"
    pre = [int(i) for i in np.argsort(t) if keep[i] and t[i] < event]
    post = [int(i) for i in np.argsort(t) if keep[i] and t[i] >= event]
    return pre, post, where


def chip_channels(n_pre: int, n_post: int) -> list[str]:
    """The chip channels in order: DEM, VV/VH per acquisition (pre1 earliest, post1 first after)."""
    sar = [f"{p}_pre{i}" for i in range(1, n_pre + 1) for p in ("vv", "vh")]
    sar += [f"{p}_post{i}" for i in range(1, n_post + 1) for p in ("vv", "vh")]
    return [*DEM_CHANNELS, *sar, LABEL_CHANNEL]


def density_class(density_per_km2: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    """0: no landslide (density <= edges[0]); 1: up to edges[1] per km²; 2: above edges[1]."""
    d = np.asarray(density_per_km2)
    return np.where(d <= edges[0], 0, np.where(d <= edges[1], 1, 2)).astype("int8")
