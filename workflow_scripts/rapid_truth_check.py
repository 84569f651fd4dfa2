"""Rule rapid_truth_check: the rapid-response map against the synthetic event's truth."""

from landslide_sar.density.figures import rapid_truth_check
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        rapid_truth_check,
        snakemake.log[0],
        map_gpkg=snakemake.input.map,
        truth_gpkg=snakemake.input.truth,
        class_edges=tuple(snakemake.params.class_edges),
        csv_out=snakemake.output.csv,
        png_out=snakemake.output.png,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
