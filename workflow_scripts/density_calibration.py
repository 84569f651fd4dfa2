"""Rule density_calibration: fit the recalibrations of the density map's class probabilities on
the validation chips, score them on the test chips, keep the config's method for the map."""

from landslide_sar.density.calibrate import density_calibration
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_calibration,
        snakemake.log[0],
        predictions_val=snakemake.input.predictions_val,
        predictions=snakemake.input.predictions,
        method=snakemake.params.method,
        bins=snakemake.params.bins,
        calibration_out=snakemake.output.calibration,
        csv_out=snakemake.output.csv,
        png_out=snakemake.output.png,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
