"""Rule import_datacube: a published datacube, one orbit kept, written as the area's cube.zarr
(the layout make_chips reads), in place of the acquisition rules and assemble_cube."""

from landslide_sar.published_cube import import_datacube
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        import_datacube,
        snakemake.log[0],
        area=snakemake.params.area,
        cube_path=snakemake.input.cube,
        out_zarr=snakemake.output.zarr,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
