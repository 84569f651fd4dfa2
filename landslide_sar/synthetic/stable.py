"""The twin's stable ground over many dates: the backscatter the generator would write for an
area at acquisition dates of one's choosing, all before the event, as a radar_stats.Stack, so the
twin's date-to-date noise can be measured at the lags a real stack has (the default run's own
3 pre-event dates give only 12 and 24 days)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from landslide_sar import radar_stats as rs
from landslide_sar.errors import InputError

from .acquisitions import acquisition_plan
from .backscatter import simulate_acquisition
from .fields import build_world
from .params import check_params

#: Days of the dates from the first one: pairs 6, 12, 18, 24, 36, 48, 60 days and about a year
#: apart, as the real California stack of ../shared/realdata has.
DEFAULT_DAYS = (0, 6, 12, 18, 24, 36, 48, 60, 365, 371, 377)


def stable_stack(area: dict, days: Sequence[int] = DEFAULT_DAYS, before_event_days: int = 400) -> rs.Stack:
    """The area's VV/VH (linear gamma0, the generator's own simulate_acquisition) at
    ``event_time - before_event_days + d`` for d in ``days``: the main orbit, full frame, every
    date before the event (so no landslide, storm or wet soil: stable ground by construction);
    each date has its own date offset, ground change, noise residual and speckle. NaN where the
    orbit's layover/shadow masks the pixel."""
    if not days or max(days) >= before_event_days:
        raise InputError(f"days {list(days)}: expected at least one, all before the event ({before_event_days} days)")
    p = check_params(area.get("synthetic"))
    w = build_world(area, p)
    base = next(a for a in acquisition_plan(area, p) if a.role == "main" and not a.post and a.coverage == "full")
    first = base.datetime - timedelta(days=base.days_from_event) - timedelta(days=before_event_days)
    vv, vh, times = [], [], []
    for d in sorted(set(int(x) for x in days)):
        when = first + timedelta(days=d)
        acq = dataclasses.replace(
            base, datetime=when, group=f"stable{d:+d}", days_from_event=float(d - before_event_days)
        )
        a, b = simulate_acquisition(w, p, acq)
        vv.append(a)
        vh.append(b)
        times.append(np.datetime64(when.date()))
    return rs.Stack(np.array(times), w.grid.resolution, [rs.Tile({"vv": np.stack(vv), "vh": np.stack(vh)})])
