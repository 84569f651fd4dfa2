"""Rule detection_differences: the paired differences the detection findings rest on (same test
chips, member k against member k, the ensembles with a paired bootstrap interval over chips) and
their verdicts, as CSV and Markdown."""

from landslide_sar.detection.differences import detection_differences
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        detection_differences,
        snakemake.log[0],
        metrics=dict(snakemake.params.metrics),
        predictions=dict(snakemake.params.predictions),
        detection=snakemake.params.detection,
        bootstrap=snakemake.params.bootstrap,
        csv_out=snakemake.output.csv,
        md_out=snakemake.output.markdown,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
