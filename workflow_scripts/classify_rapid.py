"""Rule classify_rapid: both halves' forests of a trained area classify every chip of a new area
(no class where a chip has too little valid data)."""

from landslide_sar.density.rapid import classify_chips
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        classify_chips,
        snakemake.log[0],
        features_half0=snakemake.input.features[0],
        features_half1=snakemake.input.features[1],
        forests=snakemake.input.forests,
        predictions_out=snakemake.output.predictions,
        chips_table=snakemake.input.table,
        min_valid_fraction=snakemake.params.min_valid_fraction,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
