"""Rule detection_table: every detection experiment's metrics in one CSV (with the no-skill and
oracle rows) and the papers' two tables in Markdown (the poster's grid, the transfer paper's
Table 1), on test chips with bootstrap intervals."""

from landslide_sar.detection.table import detection_table
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        detection_table,
        snakemake.log[0],
        metrics=dict(snakemake.params.metrics),
        detection=snakemake.params.detection,
        csv_out=snakemake.output.csv,
        md_out=snakemake.output.markdown,
        oracle=snakemake.input.oracle,
        interval_level=snakemake.params.bootstrap["interval"],
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
