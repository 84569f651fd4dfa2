"""Rule generate_event: generate the embedded synthetic event (SAR COGs + STAC items, DEM, inventory, truth)."""

from landslide_sar.runner import run_rule
from landslide_sar.synthetic import generate_event


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(generate_event, snakemake.log[0], area=snakemake.params.area, out_dir=snakemake.params.out_dir)


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
