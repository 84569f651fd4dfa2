"""Rule download_sentinel1: find the area's Sentinel-1 acquisitions and load VV/VH onto its grid.

Network settings come from the config (areas.<area>.download), not from params, so that changing
them does not re-run a finished (protected) download."""

from landslide_sar.download import Network
from landslide_sar.runner import run_rule
from landslide_sar.sentinel1 import download_sentinel1


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        download_sentinel1,
        snakemake.log[0],
        area=snakemake.params.area,
        out_zarr=snakemake.output.zarr,
        items_path=snakemake.input.get("stac_items") or None,
        network=Network.from_config(snakemake.params.area),
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
