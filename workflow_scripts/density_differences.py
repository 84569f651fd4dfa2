"""Rule density_differences: the paired differences of the density experiments and of the
baseline and nets against the label-free detector, with intervals."""

from landslide_sar.density.differences import density_differences
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_differences,
        snakemake.log[0],
        metrics=dict(snakemake.params.metrics),
        predictions=dict(snakemake.params.predictions),
        split_seeds=snakemake.params.split_seeds,
        bootstrap=snakemake.params.bootstrap,
        csv_out=snakemake.output.csv,
        markdown_out=snakemake.output.markdown,
        label_free_chips=snakemake.input.label_free,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
