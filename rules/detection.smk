# Landslide detection (docs/detection.md): per (experiment, input set, revisits,
# augmentation) one U-Net trained and scored with the VH-change baseline beside it, then the
# table and figures. Active only when the config has a `detection` section (config.yaml has one):
# rule `all` then includes detection_all's targets.


include: "detection_common.smk"


rule train_detection:
    input:
        unpack(detection_cubes),
    output:
        model=f"{DETECTION_ROOT}/{{experiment}}/{{inputs}}_r{{revisits}}_{{aug}}{{split}}/model.pt",
        history=f"{DETECTION_ROOT}/{{experiment}}/{{inputs}}_r{{revisits}}_{{aug}}{{split}}/history.csv",
        metrics=f"{DETECTION_ROOT}/{{experiment}}/{{inputs}}_r{{revisits}}_{{aug}}{{split}}/metrics.csv",
        curves=f"{DETECTION_ROOT}/{{experiment}}/{{inputs}}_r{{revisits}}_{{aug}}{{split}}/curves.csv",
        predictions=directory(
            f"{DETECTION_ROOT}/{{experiment}}/{{inputs}}_r{{revisits}}_{{aug}}{{split}}/predictions.zarr"
        ),
    log:
        "logs/detection/train_detection/{experiment}_{inputs}_r{revisits}_{aug}{split}.log",
    benchmark:
        "benchmarks/detection/train_detection/{experiment}_{inputs}_r{revisits}_{aug}{split}.tsv"
    wildcard_constraints:
        inputs="vv|vh|sar|fused|change",
        split=r"(_s\d+)?",  # the split seed; none: the first of chips.split_seeds
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
    params:
        experiment=detection_experiment,
        detection=detection_settings,
        event_times=detection_event_times,
        bootstrap=config["bootstrap"],
    message:
        "Train and score the {wildcards.experiment} detection U-Net on {wildcards.inputs}, "
        "{wildcards.revisits} revisit(s), {wildcards.aug}, split seed {params.experiment.split_seed}"
    script:
        "../workflow_scripts/train_detection.py"


rule detection_oracle:
    input:
        unpack(detection_oracle_inputs),
    output:
        metrics=f"{DETECTION_ROOT}/oracle/metrics.csv",
    log:
        "logs/detection/detection_oracle.log",
    benchmark:
        "benchmarks/detection/detection_oracle.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        truth_regions=detection_truth_regions(),
        bootstrap=config["bootstrap"],
    message:
        "Detection oracle: AUPRC of the true covered fraction of {params.truth_regions}"
    script:
        "../workflow_scripts/detection_oracle.py"


rule detection_table:
    input:
        metrics=detection_outputs("metrics.csv"),
        oracle=rules.detection_oracle.output.metrics,
    output:
        csv=report(
            f"{DETECTION_ROOT}/metrics.csv",
            caption="../report/detection_metrics.rst",
            category="Detection",
            labels={"result": "AUPRC of every experiment"},
        ),
        markdown=f"{DETECTION_ROOT}/metrics.md",
    log:
        "logs/detection/detection_table.log",
    benchmark:
        "benchmarks/detection/detection_table.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # experiment id -> file: the same files as the input (one enumeration)
        metrics=detection_files("metrics.csv"),
        detection=DETECTION,
        bootstrap=config["bootstrap"],
    message:
        "Detection AUPRC table of every detection experiment"
    script:
        "../workflow_scripts/detection_table.py"


rule detection_differences:
    input:
        metrics=detection_outputs("metrics.csv"),
        predictions=detection_outputs("predictions.zarr"),
    output:
        csv=report(
            f"{DETECTION_ROOT}/differences.csv",
            caption="../report/detection_differences.rst",
            category="Detection",
            labels={"result": "paired differences"},
        ),
        markdown=f"{DETECTION_ROOT}/differences.md",
    log:
        "logs/detection/detection_differences.log",
    benchmark:
        "benchmarks/detection/detection_differences.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        # experiment id -> file: the same files as the input (one enumeration)
        metrics=detection_files("metrics.csv"),
        predictions=detection_files("predictions.zarr"),
        detection=DETECTION,
        bootstrap=config["bootstrap"],
    message:
        "Detection paired differences (test AUPRC) with bootstrap intervals over chips"
    script:
        "../workflow_scripts/detection_differences.py"


rule detection_figures:
    input:
        table=rules.detection_table.output.csv,
        curves=detection_outputs("curves.csv", first_split=True),
        predictions=detection_outputs("predictions.zarr", "transfer", first_split=True),
    output:
        auprc=report(
            f"{DETECTION_ROOT}/report/auprc_vs_revisits.png",
            caption="../report/detection_figures.rst",
            category="Detection",
            labels={"result": "AUPRC vs revisits"},
        ),
        pr=report(
            f"{DETECTION_ROOT}/report/pr_curves.png",
            caption="../report/detection_figures.rst",
            category="Detection",
            labels={"result": "precision-recall curves"},
        ),
        maps=report(
            f"{DETECTION_ROOT}/report/transfer_maps.png",
            caption="../report/detection_figures.rst",
            category="Detection",
            labels={"result": "transfer maps"},
        ),
    log:
        "logs/detection/detection_figures.log",
    benchmark:
        "benchmarks/detection/detection_figures.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # experiment id -> file: the same files as the input (one enumeration)
        curves=detection_files("curves.csv", first_split=True),
        predictions=detection_files("predictions.zarr", "transfer", first_split=True),
        detection=DETECTION,
    message:
        "Detection figures: AUPRC against revisits, precision-recall curves, transfer maps"
    script:
        "../workflow_scripts/detection_figures.py"


rule detection_all:
    input:
        detection_targets(),
    message:
        "Detection and transfer: the tables and figures"
