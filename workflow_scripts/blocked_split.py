"""Rule blocked_split: the chip table with halves made of whole spatial blocks of chips."""

from landslide_sar.io import run_rule
from landslide_sar.chips import blocked_split


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    splits = snakemake.params.splits
    run_rule(
        blocked_split,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        out_table=snakemake.output.table,
        block_km=splits["block_km"],
        split_seed=splits["seed"],
        train_fraction=splits["train_fraction"],
        val_fraction=splits["val_fraction"],
        min_train_chips=splits["min_train_chips"],
        min_val_chips=splits["min_val_chips"],
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
