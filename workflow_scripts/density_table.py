"""Rule density_table: every density experiment's metrics in one CSV and Markdown table."""

from landslide_sar.density.table import density_table
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_table,
        snakemake.log[0],
        metrics=dict(snakemake.params.metrics),
        split_seeds=snakemake.params.split_seeds,
        csv_out=snakemake.output.csv,
        markdown_out=snakemake.output.markdown,
        interval_level=snakemake.params.bootstrap["interval"],
        oracle_paths=list(snakemake.input.oracle),
        predictions=dict(snakemake.params.predictions),
        bootstrap=snakemake.params.bootstrap,
        label_free_paths=list(snakemake.input.label_free),
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
