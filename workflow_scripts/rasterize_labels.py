"""Rule rasterize_labels: the landslide inventory as label and counts on the area's grid."""

from landslide_sar.labels import rasterize_labels
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        rasterize_labels,
        snakemake.log[0],
        area=snakemake.params.area,
        inventory_path=snakemake.input.inventory,
        out_tif=snakemake.output.tif,
        geometry=snakemake.params.geometry,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
