"""Reading a density net's inputs in model units, the `change` input set's derived channels
included: <vv_change|vh_change|z_change>_r<revisits> (density.chip_io.model_channels) are computed
from the chips' SAR channels (every pre-event acquisition, post1..post<revisits>, in dB) by
landslide_sar.label_free.change_channels with the config's `label_free` settings; every other
channel is read as is (SAR channels converted to dB). Training and prediction read through here,
so both derive the change the same way (the checkpoint keeps the settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from landslide_sar.density.chip_io import CHANGE_CHANNEL_RE, load_chips, sar_channel_groups, stored_channels
from landslide_sar.errors import InputError
from landslide_sar.label_free import CHANGE_CHANNELS, LabelFreeSettings, change_channels
from landslide_sar.nn.preprocess import to_db, to_model_units

if TYPE_CHECKING:
    import xarray as xr


def change_revisits(channels: Sequence[str]) -> int | None:
    """The revisits of the change channels among `channels` (None: none), refused unless they
    are the three CHANGE_CHANNELS of one number of revisits, in order, after every other channel."""
    found = [(i, CHANGE_CHANNEL_RE.match(str(c))) for i, c in enumerate(channels)]
    found = [(i, m) for i, m in found if m]
    if not found:
        return None
    revisits = {int(m.group(2)) for _, m in found}
    names = [m.group(1) for _, m in found]
    last = [i for i, _ in found] == list(range(len(channels) - len(found), len(channels)))
    if len(revisits) != 1 or names != list(CHANGE_CHANNELS) or not last:
        raise InputError(
            f"channels {list(channels)}: expected the change channels {list(CHANGE_CHANNELS)} of one number of "
            "revisits, last"
        )
    return revisits.pop()


def load_model_units(
    ds: xr.Dataset,
    chip_ids: Sequence[int],
    channels: Sequence[str],
    is_sar: Sequence[bool],
    label_free: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, len(channels), y, x) float32 in model units, the raw `extra` channels (n, E,
    y, x), e.g. the label) of the chips `chip_ids`: load_chips + to_model_units, the change
    channels (if any) derived from the chips' SAR channels with `label_free` (the config's
    section; None: its defaults)."""
    revisits = change_revisits(channels)
    plain = list(channels[: len(channels) - (0 if revisits is None else len(CHANGE_CHANNELS))])
    sources: list[str] = []
    if revisits is not None:
        groups = sar_channel_groups(stored_channels(ds), revisits)
        sources = [c for key in ("vv_pre", "vh_pre", "vv_post", "vh_post") for c in groups[key]]
    raw = load_chips(ds, chip_ids, [*plain, *sources, *extra])
    k = len(plain)
    out = np.empty((raw.shape[0], len(channels), *raw.shape[2:]), dtype=np.float32)
    out[:, :k] = to_model_units(raw[:, :k], list(is_sar[:k]))
    if revisits is not None:
        settings = LabelFreeSettings.from_config(label_free)
        db = to_db(raw[:, k : k + len(sources)])
        bounds = np.cumsum([0] + [len(groups[key]) for key in ("vv_pre", "vh_pre", "vv_post", "vh_post")])
        for i in range(raw.shape[0]):
            stacks = [db[i, bounds[j] : bounds[j + 1]] for j in range(4)]
            out[i, k:] = change_channels(*stacks, settings)
    return out, raw[:, k + len(sources) :]
