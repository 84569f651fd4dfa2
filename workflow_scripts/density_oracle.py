"""Rule density_oracle: the AUC of the generated truth's expected counts (synthetic areas only)."""

from landslide_sar.density.oracle import oracle_metrics
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        oracle_metrics,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        truth_tif=snakemake.input.truth,
        class_edges=snakemake.params.class_edges,
        omission_rate=snakemake.params.omission_rate,
        bootstrap=snakemake.params.bootstrap,
        metrics_out=snakemake.output.metrics,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
