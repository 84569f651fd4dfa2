"""Rule dem_derivatives: slope, aspect and curvature with richdem's definitions."""

from landslide_sar.runner import run_rule
from landslide_sar.terrain import dem_derivatives


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        dem_derivatives,
        snakemake.log[0],
        dem_tif=snakemake.input.dem,
        out_tif=snakemake.output.tif,
        smoothing_sigma_px=snakemake.params.smoothing_sigma_px,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
