"""Rule density_forests: every member's forests of both halves, saved for rapid response."""

from landslide_sar.density.forest_io import density_forests
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        density_forests,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        features_half0=snakemake.input.features[0],
        features_half1=snakemake.input.features[1],
        forest_cfg=snakemake.params.forest,
        forests_out=snakemake.output.forests,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
