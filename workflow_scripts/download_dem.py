"""Rule download_dem: the DEM (a raster file, or the tiles of a STAC collection) reprojected
(bilinear) onto the area's grid."""

from landslide_sar.download import Network
from landslide_sar.runner import run_rule
from landslide_sar.terrain import download_dem


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        download_dem,
        snakemake.log[0],
        area=snakemake.params.area,
        src_path=snakemake.input.get("dem") or None,
        out_tif=snakemake.output.tif,
        network=Network.from_config(snakemake.params.area),
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
