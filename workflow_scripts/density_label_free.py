"""Rule density_label_free: the label-free z-score detector on every scored chip, its per-chip
summaries and the AUC of the chips ranked by their flagged share (no training, no split)."""

from landslide_sar.density.label_free import label_free_metrics
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        label_free_metrics,
        snakemake.log[0],
        chips_zarr=snakemake.input.chips,
        chips_table=snakemake.input.table,
        revisits=snakemake.params.revisits,
        settings=snakemake.params.label_free,
        bootstrap=snakemake.params.bootstrap,
        metrics_out=snakemake.output.metrics,
        chips_out=snakemake.output.chips,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
