"""Rule detection_figures: AUPRC against revisits (one line per input set), precision-recall
curves, and each transfer model's predicted probability against the truth in both regions."""

from landslide_sar.detection.figures import detection_figures
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    run_rule(
        detection_figures,
        snakemake.log[0],
        table_csv=snakemake.input.table,
        curves=dict(snakemake.params.curves),
        transfer_predictions=dict(snakemake.params.predictions),
        detection=snakemake.params.detection,
        auprc_png=snakemake.output.auprc,
        pr_png=snakemake.output.pr,
        maps_png=snakemake.output.maps,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
