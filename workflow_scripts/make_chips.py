"""Rule make_chips: chips of the cube, with per-chip counts, density classes and splits."""

from landslide_sar.density.chips import make_chips
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    chips, splits, area = snakemake.params.chips, snakemake.params.splits, snakemake.params.area
    run_rule(
        make_chips,
        snakemake.log[0],
        cube_zarr=snakemake.input.cube,
        out_zarr=snakemake.output.zarr,
        out_table=snakemake.output.table,
        size=chips["size"],
        event_time=area["event_time"],
        n_pre=area["sentinel1"]["acquisitions_pre"],
        n_post=area["sentinel1"]["acquisitions_post"],
        min_valid_fraction=chips["min_valid_fraction"],
        class_edges=tuple(chips["density_class_edges_per_km2"]),
        split_seed=splits["seeds"][0],  # the first split (random): chips.gpkg
        train_fraction=splits["train_fraction"],
        val_fraction=splits["val_fraction"],
        min_train_chips=splits["min_train_chips"],
        min_val_chips=splits["min_val_chips"],
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
