"""Rule assemble_cube: SAR, DEM, derivatives and labels into one zarr datacube."""

from landslide_sar.cube import assemble_cube
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        assemble_cube,
        snakemake.log[0],
        sentinel1_zarr=snakemake.input.sentinel1,
        dem_tif=snakemake.input.dem,
        derivatives_tif=snakemake.input.derivatives,
        labels_tif=snakemake.input.get("labels") or None,
        out_zarr=snakemake.output.zarr,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
