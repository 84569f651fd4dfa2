"""Rule download_sentinel1: find the area's Sentinel-1 acquisitions and load VV/VH onto its grid."""

from landslide_sar.io import run_rule
from landslide_sar.sentinel1 import download_sentinel1


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        download_sentinel1,
        snakemake.log[0],
        area=snakemake.params.area,
        out_zarr=snakemake.output.zarr,
        items_path=snakemake.input.get("stac_items") or None,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
