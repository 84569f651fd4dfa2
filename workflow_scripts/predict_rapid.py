"""Rule predict_rapid: apply one half's trained density net to every chip of a new area:
percentile features and output maps (refused for chips of another resolution, chip size or
channels than the model's training area's)."""

from landslide_sar.density.predict import predict_density
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        predict_density,
        snakemake.log[0],
        chips_zarr=snakemake.input.chips,
        model_path=snakemake.input.model,
        percentiles=snakemake.params.percentiles,
        threads=snakemake.threads,
        features_out=snakemake.output.features,
        embeddings_out=snakemake.output.embeddings,
        trained_chips=snakemake.input.trained_chips,
        trained_area=snakemake.params.model_area,
        area=snakemake.wildcards.area,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
