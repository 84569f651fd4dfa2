"""Rule download_datacube: a published datacube (zip of a zarr store, Zenodo record 7248056)
downloaded once, unpacked into resources/<area>/datacube.zarr, the archive removed."""

from landslide_sar.download import Network, download_datacube
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        download_datacube,
        snakemake.log[0],
        url=snakemake.params.url,
        out_zarr=snakemake.output.zarr,
        network=Network.from_settings(snakemake.params.download),
        what=f"areas.{snakemake.wildcards.area}.datacube.url",
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
