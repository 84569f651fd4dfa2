"""Rule detection_oracle: the reference row of the synthetic detection regions, the AUPRC of the
generated truth's covered fraction on the chips the U-Nets are scored on (never a model input)."""

from landslide_sar.detection.oracle import detection_oracle
from landslide_sar.runner import run_rule


def main(snakemake) -> None:  # noqa: ANN001 - the object Snakemake passes to scripts
    inp = snakemake.input
    run_rule(
        detection_oracle,
        snakemake.log[0],
        predictions={k: inp[k] for k in ("within", "transfer") if k in inp.keys()},
        truth_regions=list(snakemake.params.truth_regions),
        truth=list(inp.truth),
        bootstrap=snakemake.params.bootstrap,
        metrics_out=snakemake.output.metrics,
    )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined] # noqa: F821 - injected by Snakemake
