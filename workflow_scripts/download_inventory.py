"""Rule download_inventory: one file (the landslide inventory) fetched once into resources/,
with HTTP retries; the output is write-protected by the rule."""

from landslide_sar.download import Network, download_url
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        download_url,
        snakemake.log[0],
        url=snakemake.params.url,
        out_path=snakemake.output.file,
        network=Network.from_settings(snakemake.params.download),
        what=f"areas.{snakemake.wildcards.area}.inventory.url",
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
