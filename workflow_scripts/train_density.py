"""Rule train_density: train one half's density nets (early stopping on its validation chips), then apply them to every chip."""

from landslide_sar.io import run_rule
from landslide_sar.density.train import train_density


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        train_density,
        snakemake.log[0],
        chips_zarr=snakemake.input.chips,
        chips_table=snakemake.input.table,
        half=int(snakemake.wildcards.half),
        inputs=snakemake.wildcards.inputs,
        revisits=int(snakemake.wildcards.revisits),
        model_cfg=snakemake.params.model,
        training_cfg=snakemake.params.training,
        threads=snakemake.threads,
        model_out=snakemake.output.model,
        history_out=snakemake.output.history,
        percentiles=snakemake.params.percentiles,
        features_out=snakemake.output.features,
        embeddings_out=snakemake.output.embeddings,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
