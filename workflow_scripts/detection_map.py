"""Rule detection_map: a region's landslide probability from the transfer model that choose_detection_map chose
(its chips mosaicked on the region's grid, COG) and the thresholded landslide polygons (GeoPackage)."""

from landslide_sar.detection.map import detection_map
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        detection_map,
        snakemake.log[0],
        predictions_zarr=snakemake.input.predictions,
        cube_zarr=snakemake.input.cube,
        region=snakemake.wildcards.area,
        threshold=snakemake.params.threshold,
        tif_out=snakemake.output.tif,
        gpkg_out=snakemake.output.gpkg,
        provenance=snakemake.params.provenance,
        choice=snakemake.input.choice,
        calibration=snakemake.input.calibration,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
