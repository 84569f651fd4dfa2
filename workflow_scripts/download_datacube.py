"""Rule download_datacube: a published datacube (zip of a zarr store, Zenodo record 7248056)
downloaded once, unpacked into resources/<area>/datacube.zarr, the archive removed."""

from pathlib import Path

from landslide_sar.download import Network, download_url, unpack_zarr
from landslide_sar.runner import run_rule


def fetch_and_unpack(url: str, out_zarr: str, network: Network, what: str) -> None:
    archive = Path(out_zarr).with_name(Path(out_zarr).name + ".zip")
    try:
        download_url(url, archive, network, what=what)
        unpack_zarr(archive, out_zarr, what=what)
    finally:
        archive.unlink(missing_ok=True)


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        fetch_and_unpack,
        snakemake.log[0],
        url=snakemake.params.url,
        out_zarr=snakemake.output.zarr,
        network=Network.from_config(snakemake.config["areas"][snakemake.wildcards.area]),
        what=f"areas.{snakemake.wildcards.area}.datacube.url",
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
