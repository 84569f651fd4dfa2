"""Rule split_chips: the chip table with halves and subsets re-drawn under one split (scheme, seed)."""

from landslide_sar.density.splits import split_chips
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    splits = snakemake.params.splits
    run_rule(
        split_chips,
        snakemake.log[0],
        chips_table=snakemake.input.table,
        out_table=snakemake.output.table,
        scheme=snakemake.params.scheme,
        split_seed=snakemake.params.split_seed,
        train_fraction=splits["train_fraction"],
        val_fraction=splits["val_fraction"],
        block_km=splits["block_km"],
        min_train_chips=splits["min_train_chips"],
        min_val_chips=splits["min_val_chips"],
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
