"""Rule baseline_features: per-chip change statistics and DEM percentiles, the baseline's features."""

from landslide_sar.density.baseline import baseline_features
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        baseline_features,
        snakemake.log[0],
        chips_zarr=snakemake.input.chips,
        revisits=int(snakemake.wildcards.revisits),
        percentiles=snakemake.params.percentiles,
        features_out=snakemake.output.features,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
