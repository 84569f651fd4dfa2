"""Rule detection_calibration: fit the recalibrations of the mapped U-Net's pixel probabilities
on the validation chips of its training region, score them on each region's test chips, keep
the config's method for the probability COGs."""

from landslide_sar.detection.calibrate import detection_calibration
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        detection_calibration,
        snakemake.log[0],
        predictions_zarr=snakemake.input.predictions,
        train_region=snakemake.params.train_region,
        method=snakemake.params.method,
        bins=snakemake.params.bins,
        calibration_out=snakemake.output.calibration,
        csv_out=snakemake.output.csv,
        png_out=snakemake.output.png,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
