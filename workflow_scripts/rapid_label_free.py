"""Rule rapid_label_free: the label-free z-score detector maps an area from its own cube, with no
trained model and no inventory (rapid_response.<area>.method label_free)."""

from landslide_sar.detection.label_free_map import label_free_map
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        label_free_map,
        snakemake.log[0],
        cube_zarr=snakemake.input.cube,
        tif_out=snakemake.output.tif,
        gpkg_out=snakemake.output.gpkg,
        settings=snakemake.params.settings,
        revisits=snakemake.params.revisits,
        event_time=snakemake.params.event_time,
        provenance=snakemake.params.provenance,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
