"""Checkpoint choose_detection_map: which transfer U-Net maps the detection regions (detection.map:
the best by validation AUPRC, or the one the config names), as a JSON choice file the maps read."""

from landslide_sar.detection.selection import choose_detection_map
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        choose_detection_map,
        snakemake.log[0],
        map_setting=snakemake.params.map,
        metrics=dict(snakemake.params.metrics),
        detection=snakemake.params.detection,
        choice_out=snakemake.output.choice,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
