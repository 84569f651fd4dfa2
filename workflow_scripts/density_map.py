"""Rule density_map: the cross-predicted density class map (COG, one pixel per chip) and a GeoPackage of chips."""

from landslide_sar.io import run_rule
from landslide_sar.density.map import density_map


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_map,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        predictions=snakemake.input.predictions,
        tif_out=snakemake.output.tif,
        gpkg_out=snakemake.output.gpkg,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
