"""Rule evaluate_density: random forest on percentile features, AUC per half and for the
cross-prediction, under every split; the val chips' probabilities for calibration."""

from landslide_sar.density.evaluate import evaluate_density_splits
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        evaluate_density_splits,
        snakemake.log[0],
        chips_tables=list(snakemake.input.tables),
        features=list(snakemake.input.features),
        forest_cfg=snakemake.params.forest,
        bootstrap=snakemake.params.bootstrap,
        metrics_out=list(snakemake.output.metrics),
        predictions_out=list(snakemake.output.predictions),
        predictions_val_out=list(snakemake.output.predictions_val),
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
