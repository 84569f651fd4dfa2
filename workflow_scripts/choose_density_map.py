"""Checkpoint choose_density_map: which experiment maps an area (density.map: the best by
validation score under the blocked split, or the one the config names), as a JSON choice file
that the map and the report read."""

from landslide_sar.density.selection import choose_density_map
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        choose_density_map,
        snakemake.log[0],
        map_setting=snakemake.params.map,
        metrics=dict(snakemake.params.metrics),
        seeds=snakemake.params.split_seeds,
        scheme=snakemake.params.scheme,
        choice_out=snakemake.output.choice,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
