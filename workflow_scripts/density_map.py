"""Rule density_map (and rapid_map): the density class map (COG, one pixel per chip, colour table,
category names, provenance tags), its class probabilities (COG) and a GeoPackage of chips."""

from landslide_sar.density.map import density_map
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_map,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        predictions=snakemake.input.predictions,
        tif_out=snakemake.output.tif,
        gpkg_out=snakemake.output.gpkg,
        probability_out=snakemake.output.probability,
        class_edges=snakemake.params.class_edges,
        provenance=snakemake.params.provenance,
        min_valid_fraction=snakemake.params.min_valid_fraction,
        choice=snakemake.input.get("choice"),  # density_map's choose_density_map file; none for rapid_map
        calibration=snakemake.input.get("calibration"),  # density_map's; none for rapid_map
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
