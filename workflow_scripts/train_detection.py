"""Rule train_detection: one detection experiment (input set, revisits, augmentation) — train
the U-Net on the training region's train chips (early stopping on its val chips), score it and the
VH-change baseline with AUPRC and a bootstrap interval over chips on its test chips and, for
transfer, on the chips of the test region. Every setting comes from the
config, as the config validator leaves it (the schema's defaults filled in)."""

from landslide_sar.detection.run import Outputs, run_detection_experiment
from landslide_sar.runner import run_rule, usable_threads


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    p, out = snakemake.params, snakemake.output
    run_rule(
        run_detection_experiment,
        snakemake.log[0],
        experiment=p.experiment,
        detection=p.detection,
        cubes={"train": snakemake.input.train, "test": snakemake.input.get("test")},
        outputs=Outputs(out.model, out.history, out.metrics, out.curves, out.predictions),
        bootstrap=p.bootstrap,
        threads=usable_threads(snakemake.threads),
        event_times=p.event_times,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
