"""The acquisitions of the event: dates (the density paper's Table 1), orbits and product ids.

Pure: no arrays. One PlannedItem per STAC item to write (the other-frame acquisition is two
slices); landslide_sar.sentinel1.Acquisition is what the pipeline reads back (one orbit, one day)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from landslide_sar.errors import InputError

from .params import area_value, check_params

# Table 1 of the density paper, as offsets from the 2017-09-20 event; more dates are added every
# 12 days (the S1A repeat cycle) on either side.
_PRE_OFFSETS = (-28, -16, -4)  # 2017-08-23, 09-04, 09-16
_POST_OFFSETS = (2, 20, 32)  # 2017-09-22 (S1B, other frame), 10-10, 10-22
_PAPER_UIDS = {-28: "9D3C", -16: "B225", -4: "AE4E", 2: "D309", 20: "99FA", 32: "26BB"}
# (hour, minute, second) of the slice start times; S1B's frame 52 passes 53 s earlier.
_S1A_ASC_TIME = (22, 36, 37)
_S1B_ASC_TIME = (22, 35, 44)
_DESC_TIME = (10, 22, 15)
_SLICE_SECONDS = 25
# Reference orbits (mission-specific): relative = (absolute - offset) % 175 + 1.
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27}
_ORBIT_REF = {  # (reference epoch, its absolute orbit), from Table 1
    "S1A": (datetime(2017, 8, 23, 22, 36, 37, tzinfo=UTC), 18057),
    "S1B": (datetime(2017, 9, 22, 22, 35, 44, tzinfo=UTC), 7511),
}
_ORBITS_PER_DAY = 175.0 / 12.0
# Satellite heading (degrees clockwise from north) and right-looking azimuth.
_HEADING = {"ascending": -12.0, "descending": 192.0}


@dataclass(frozen=True)
class PlannedItem:
    """One STAC item to write (a whole acquisition or one slice of it)."""

    platform: str  # "S1A" / "S1B"
    start: datetime
    stop: datetime
    datetime: datetime
    orbit_state: str
    relative_orbit: int
    absolute_orbit: int
    datatake_id: int
    product_uid: str
    post: bool  # after event_time
    role: str  # "main" or "distractor"
    coverage: str  # "full", "south" or "north"
    days_from_event: float
    group: str  # acquisitions with the same group share one simulated image

    @property
    def id(self) -> str:
        fmt = "%Y%m%dT%H%M%S"
        return (
            f"{self.platform}_IW_GRDH_1SDV_{self.start.strftime(fmt)}_{self.stop.strftime(fmt)}_"
            f"{self.absolute_orbit:06d}_{self.datatake_id:06X}_{self.product_uid}_rtc"
        )


def _absolute_orbit(platform: str, when: datetime, relative_orbit: int) -> int:
    epoch, ref = _ORBIT_REF[platform]
    approx = ref + (when - epoch).total_seconds() / 86400.0 * _ORBITS_PER_DAY
    base = int(round(approx))
    # nearest absolute orbit whose relative orbit matches
    for delta in sorted(range(-88, 88), key=abs):
        if (base + delta - _ORBIT_OFFSET[platform]) % 175 + 1 == relative_orbit:
            return base + delta
    raise AssertionError("unreachable")


def parse_event_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as err:
            raise InputError(f"event_time: {value!r} is not an ISO 8601 date-time ({err})") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _offsets(n: int, base: tuple[int, ...], sign: int) -> list[int]:
    offs = list(base)
    while len(offs) < n:
        offs.append(offs[-1] + 12 if sign > 0 else offs[0] - 12)
        offs.sort()
    return offs[-n:] if sign < 0 else offs[:n]


def acquisition_plan(area: dict, params: dict | None = None) -> list[PlannedItem]:
    """The items of the event: ``acquisitions_pre`` + ``acquisitions_post`` main acquisitions
    (the first after the event split into two overlapping slices with the same datetime) and one
    distractor from the other orbit direction, sorted by time."""
    p = params or check_params(area.get("synthetic"))
    n_pre = int(area_value(area, "sentinel1", "acquisitions_pre"))
    n_post = int(area_value(area, "sentinel1", "acquisitions_post"))
    if n_pre < 1 or n_post < 1:
        raise InputError(f"sentinel1.acquisitions_pre/post: {n_pre}/{n_post}; expected at least 1 each")
    orbit_state = str(area_value(area, "sentinel1", "orbit_state")).lower()
    if orbit_state not in _HEADING:
        raise InputError(f"sentinel1.orbit_state: {orbit_state!r}; expected ascending or descending")
    rel = int(area_value(area, "sentinel1", "relative_orbit"))
    event = parse_event_time(area_value(area, "event_time"))
    day0 = event.replace(hour=0, minute=0, second=0, microsecond=0)
    # metadata comes from hashes of (seed, platform, date), so adding dates does not reshuffle ids;
    # datatake ids increase with time per platform, slices of one datatake share it
    datatake_base = {"S1A": (124098, -28), "S1B": (67002, 2)}  # (id, offset of that id)

    def make(platform, offset, hms, state, relorb, role, coverage, group, slice_shift=0):
        start = day0 + timedelta(days=offset, hours=hms[0], minutes=hms[1], seconds=hms[2] + slice_shift)
        stop = start + timedelta(seconds=_SLICE_SECONDS)
        dt = day0 + timedelta(days=offset, hours=hms[0], minutes=hms[1], seconds=hms[2])
        uid_seed = zlib.crc32(f"{p['seed']}:{platform}:{offset}:{coverage}:{role}".encode())
        uid = _PAPER_UIDS.get(offset) if (role == "main" and coverage in ("full", "south")) else None
        uid = uid or f"{uid_seed & 0xFFFF:04X}"
        dtk_seed = zlib.crc32(f"{p['seed']}:{platform}:{offset}:{role}".encode())
        base_id, base_off = datatake_base[platform]
        dtk = base_id + int(round((offset - base_off) * 12.7)) + (dtk_seed % 5 if offset != base_off else 0)
        return PlannedItem(
            platform=platform,
            start=start,
            stop=stop,
            datetime=dt,
            orbit_state=state,
            relative_orbit=relorb,
            absolute_orbit=_absolute_orbit(platform, dt, relorb),
            datatake_id=dtk,
            product_uid=uid,
            post=dt > event,
            role=role,
            coverage=coverage,
            days_from_event=(dt - event).total_seconds() / 86400.0,
            group=group,
        )

    out: list[PlannedItem] = []
    s1a_time = _S1A_ASC_TIME if orbit_state == "ascending" else _DESC_TIME
    s1b_time = _S1B_ASC_TIME if orbit_state == "ascending" else (_DESC_TIME[0], _DESC_TIME[1] - 1, _DESC_TIME[2])
    for off in _offsets(n_pre, _PRE_OFFSETS, -1):
        out.append(make("S1A", off, s1a_time, orbit_state, rel, "main", "full", f"d{off:+d}"))
    for i, off in enumerate(_offsets(n_post, _POST_OFFSETS, +1)):
        if i == 0:  # the other frame (S1B): two overlapping slices of one datatake
            for cov, shift in (("south", -_SLICE_SECONDS), ("north", 0)):
                out.append(make("S1B", off, s1b_time, orbit_state, rel, "main", cov, f"d{off:+d}", shift))
        else:
            out.append(make("S1A", off, s1a_time, orbit_state, rel, "main", "full", f"d{off:+d}"))
    other_state = "descending" if orbit_state == "ascending" else "ascending"
    d_day = int(p["distractor"]["days_from_event"])
    d_rel = int(p["distractor"]["relative_orbit"])
    hms = _DESC_TIME if other_state == "descending" else _S1A_ASC_TIME
    out.append(make("S1A", d_day, hms, other_state, d_rel, "distractor", "full", "distractor"))
    out.sort(key=lambda a: (a.datetime, a.coverage))
    return out
