"""Whether one area's density models may map another (rapid response): the same pixel size, chip
size and input channels, or a one-line refusal naming both. Checked from the config when
Snakemake parses the rules (check_rapid_config; no job runs) and from the files before
predict_rapid does any work (check_rapid_files: the trained area's chips zarr and the model's
checkpoint against the new area's chips zarr). Imports nothing heavy: the rules import it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from landslide_sar.chips import chip_channels
from landslide_sar.config import RAPID_MODEL, rapid_method
from landslide_sar.density.chip_io import model_channels, stored_channels
from landslide_sar.errors import ConfigError, InputError

if TYPE_CHECKING:
    import xarray as xr


@dataclass(frozen=True)
class ChipSetup:
    """What a density net reads of an area: its pixel size (m), chip size (px) and the chip
    channels the net takes, in order."""

    area: str
    resolution: float
    size: int
    channels: tuple[str, ...]

    def describe(self) -> str:
        """One line: 10 m, chips 128 px, channels [dem, ...]."""
        return f"{self.resolution:g} m, chips {self.size} px, channels [{', '.join(self.channels)}]"

    def differences(self, other: ChipSetup) -> list[str]:
        """What differs from `other`: "resolution" (beyond 1e-6), "chip size", "channels"."""
        return [
            what
            for what, same in (
                ("resolution", math.isclose(self.resolution, other.resolution, rel_tol=1e-6)),
                ("chip size", self.size == other.size),
                ("channels", self.channels == other.channels),
            )
            if not same
        ]


def transfer_mismatch(where: str, trained: ChipSetup, area: ChipSetup) -> str | None:
    """The line refusing models trained on `trained` for `area`; None when their setups agree."""
    differ = trained.differences(area)
    if not differ:
        return None
    return (
        f"{where}: model trained on {trained.area} at {trained.describe()}; area {area.area} is {area.describe()}; "
        f"expected the same {', '.join(differ)} (a model reads pixels, chips and channels as it was trained on)"
    )


def net_channels(names: list[str], inputs: str, revisits: int) -> tuple[str, ...]:
    """The channels of chips `names` a density net of `inputs` and `revisits` reads, in order."""
    return tuple(model_channels(names, inputs, revisits)[0])


def config_setup(config: Mapping[str, Any], area: str, inputs: str, revisits: int) -> ChipSetup | None:
    """An area's ChipSetup from the config (areas.<area>.resolution, chips.size, the channels of
    its sentinel1.acquisitions_pre/post the net reads); None for an area whose grid the config
    does not give (a datacube's)."""
    a = config["areas"][area]
    s1 = a.get("sentinel1", {})
    if "resolution" not in a or "acquisitions_pre" not in s1 or "acquisitions_post" not in s1:
        return None
    names = chip_channels(int(s1["acquisitions_pre"]), int(s1["acquisitions_post"]))
    try:
        channels = net_channels(names, inputs, revisits)
    except InputError as err:  # e.g. more revisits than acquisitions after the event
        raise ConfigError(f"config rapid_response.{area}: areas.{area}: {err}") from None
    return ChipSetup(area, float(a["resolution"]), int(config["chips"]["size"]), channels)


def check_rapid_config(config: Mapping[str, Any]) -> None:
    """ConfigError (one line naming both areas) when a rapid_response area's resolution, chip
    size or net channels differ from its model_area's, as far as the config gives them (an
    area without its own grid, a datacube's, is left to check_rapid_files). A wrong combination of
    method and keys is one line too (config.rapid_method); method label_free maps with no model."""
    for area, r in config.get("rapid_response", {}).items():
        if rapid_method(area, r) != RAPID_MODEL:
            continue
        revisits = 0 if r["inputs"] == "dem" else int(r["revisits"])
        trained = config_setup(config, r["model_area"], r["inputs"], revisits)
        mine = config_setup(config, area, r["inputs"], revisits)
        if trained is None or mine is None:
            continue
        line = transfer_mismatch(f"config rapid_response.{area}", trained, mine)
        if line is not None:
            raise ConfigError(line)


def chips_setup(ds: xr.Dataset, area: str, channels: tuple[str, ...], source: str) -> ChipSetup:
    """An area's ChipSetup from its chips zarr (attributes resolution and size, written by
    make_chips) and the channels the net reads of it."""
    missing = [k for k in ("resolution", "size") if k not in ds.attrs]
    if missing:
        raise InputError(
            f"{source}: chips of {area} have no attribute(s) {missing}; expected chips written by make_chips"
        )
    return ChipSetup(area, float(ds.attrs["resolution"]), int(ds.attrs["size"]), channels)


def check_rapid_files(
    where: str, ckpt: Mapping[str, Any], trained: xr.Dataset, trained_area: str, chips: xr.Dataset, area: str
) -> None:
    """InputError (one line naming both) unless the model's checkpoint `ckpt` (channels, inputs,
    revisits), trained on the chips `trained` of `trained_area`, reads the chips `chips` of
    `area` at the same resolution, chip size and channels."""
    model = chips_setup(trained, trained_area, tuple(str(c) for c in ckpt["channels"]), where)
    try:
        channels = net_channels(stored_channels(chips), str(ckpt["inputs"]), int(ckpt["revisits"]))
    except InputError as err:  # the chips lack channels the model reads
        raise InputError(f"{where}: chips of {area}: {err}") from None
    mine = chips_setup(chips, area, channels, where)
    line = transfer_mismatch(where, model, mine)
    if line is not None:
        raise InputError(line)
