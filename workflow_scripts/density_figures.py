"""Rule density_figures: figures of one area: the map beside the truth, an example chip, training curves, the AUC grid."""

from landslide_sar.io import run_rule
from landslide_sar.report import density_figures


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_figures,
        snakemake.log[0],
        map_gpkg=snakemake.input.map,
        chips_zarr=snakemake.input.chips,
        embeddings=list(snakemake.input.embeddings),
        histories=list(snakemake.input.histories),
        metrics_csv=snakemake.input.metrics,
        map_png=snakemake.output.map,
        chip_png=snakemake.output.chip,
        curves_png=snakemake.output.curves,
        grid_png=snakemake.output.grid,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
