"""Rule train_detection: one detection experiment (input set, revisits, augmentation) — train
the U-Net on the training region's train chips (early stopping on its val chips), score it and the
VH-change baseline with AUPRC and a bootstrap interval over chips on its test chips and, for
transfer, on the chips of the test region. Every setting comes from the
config, as the config validator leaves it (the schema's defaults filled in)."""

from landslide_sar.detection.run import run_detection_experiment
from landslide_sar.runner import run_rule, usable_threads


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    p = snakemake.params
    regions = p.regions
    augment = snakemake.wildcards.aug == "aug"
    cfg = {
        "chips": p.chips,
        "model": p.model,
        "training": p.training,
        "augment": p.augment,
        "evaluation": p.evaluation,
        "baseline": p.baseline,
    }
    run_rule(
        run_detection_experiment,
        snakemake.log[0],
        train_cube=snakemake.input.train,
        test_cube=snakemake.input.get("test"),
        inputs=snakemake.wildcards.inputs,
        revisits=int(snakemake.wildcards.revisits),
        augment=augment,
        cfg=cfg,
        threads=usable_threads(snakemake.threads),
        model_out=snakemake.output.model,
        history_out=snakemake.output.history,
        metrics_out=snakemake.output.metrics,
        curves_out=snakemake.output.curves,
        predictions_out=snakemake.output.predictions,
        elevation=bool(regions["elevation"]),
        train_event_time=regions["train_event_time"],
        test_event_time=regions["test_event_time"],
        train_region=regions["train_region"],
        test_region=regions["test_region"],
        intervals=p.intervals,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
