"""Rule evaluate_density: random forest on percentile features, AUC per half and for the cross-prediction."""

from landslide_sar.io import run_rule
from landslide_sar.density.evaluate import evaluate_density


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        evaluate_density,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        features_half0=snakemake.input.features[0],
        features_half1=snakemake.input.features[1],
        forest_cfg=snakemake.params.forest,
        evaluation_cfg=snakemake.params.evaluation,
        metrics_out=snakemake.output.metrics,
        predictions_out=snakemake.output.predictions,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
