"""Rule train_density: train each half's density nets (early stopping on its validation chips),
then apply them to every chip."""

from landslide_sar.density.train import train_density
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        train_density,
        snakemake.log[0],
        chips_zarr=snakemake.input.chips,
        chips_table=snakemake.input.table,
        half=[int(h) for h in snakemake.params.halves],
        inputs=snakemake.wildcards.inputs,
        revisits=int(snakemake.wildcards.revisits),
        model_cfg=snakemake.params.model,
        training_cfg=snakemake.params.training,
        threads=snakemake.threads,
        model_out=list(snakemake.output.model),
        history_out=list(snakemake.output.history),
        percentiles=snakemake.params.percentiles,
        features_out=list(snakemake.output.features),
        embeddings_out=list(snakemake.output.embeddings),
        label_free=snakemake.params.training.get("label_free"),  # the change input set's only
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
