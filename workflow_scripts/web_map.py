"""Rule web_map: one self-contained offline HTML page per area (hillshade of the DEM; layers, each
with its legend: density classes, their confidence, detection probability, landslide heads,
label-free flagged pixels)."""

from landslide_sar.runner import run_rule
from landslide_sar.webmap import web_map


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    inp = snakemake.input
    run_rule(
        web_map,
        snakemake.log[0],
        cube_zarr=inp.cube,
        html_out=snakemake.output.html,
        title=snakemake.params.title,
        density_tif=inp.get("density"),
        density_probability_tif=inp.get("density_probability"),
        class_edges=snakemake.params.class_edges,
        probability_tif=inp.get("probability"),
        inventory=inp.get("inventory"),
        label_free_tif=inp.get("label_free"),
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
