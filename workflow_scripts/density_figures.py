"""Rule density_figures: figures of one area: the map beside the truth over the DEM's hillshade
with the inventory's heads, the map experiment's confusion matrix, an example chip, training
curves, the AUC grid."""

from landslide_sar.density.figures import density_figures
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_figures,
        snakemake.log[0],
        map_gpkg=snakemake.input.map,
        chips_zarr=snakemake.input.chips,
        embeddings=list(snakemake.input.embeddings),
        histories=dict(snakemake.params.histories),
        metrics_csv=snakemake.input.metrics,
        map_png=snakemake.output.map,
        chip_png=snakemake.output.chip,
        curves_png=snakemake.output.curves,
        grid_png=snakemake.output.grid,
        cube_zarr=snakemake.input.cube,
        confusion_csv=snakemake.input.confusion[0],
        confusion_png=snakemake.output.confusion,
        class_edges=snakemake.params.class_edges,
        choice=snakemake.input.choice,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
