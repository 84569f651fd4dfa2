# Density estimation (Puerto Rico paper): per (inputs, revisits) experiment and half, train the
# two-branch net, cross-predict, then percentiles -> random forest -> AUC; the table and the map.


rule split_chips:
    input:
        table=rules.make_chips.output.table,
    output:
        table="results/{area}/chips/chips{split}.gpkg",
    log:
        "logs/{area}/split_chips/chips{split}.log",
    benchmark:
        "benchmarks/{area}/split_chips/chips{split}.tsv"
    wildcard_constraints:
        split=r"_blocked(_s\d+)?|_s\d+",  # make_chips's chips.gpkg is the first random split
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        splits={
            k: v for k, v in config["splits"].items() if k not in ("schemes", "seeds")
        },
        scheme=lambda w: parse_split(w.split, SPLIT_SEEDS)[0],
        split_seed=lambda w: parse_split(w.split, SPLIT_SEEDS)[1],
    message:
        "Split the chips of {wildcards.area} into halves again ({wildcards.split}: scheme and split seed)"
    script:
        "../workflow_scripts/split_chips.py"


rule train_density:
    input:
        chips=rules.make_chips.output.zarr,
        table=split_table,
    output:
        model=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{{split}}/half{half}/model.pt",
            half=HALVES,
        ),
        history=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{{split}}/half{half}/history.csv",
            half=HALVES,
        ),
        features=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{{split}}/half{half}/features.csv",
            half=HALVES,
        ),
        embeddings=directory(
            expand(
                "results/{{area}}/density/{{inputs}}_r{{revisits}}{{split}}/half{half}/embeddings.zarr",
                half=HALVES,
            )
        ),
    log:
        "logs/{area}/train_density/{inputs}_r{revisits}{split}.log",
    benchmark:
        "benchmarks/{area}/train_density/{inputs}_r{revisits}{split}.tsv"
    wildcard_constraints:
        inputs="dem|sar|fused|change",  # the nets; the baseline learns nothing
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=240,
        gpu=1,
    params:
        halves=HALVES,
        model=config["density"]["model"],
        training=density_training,
        percentiles=config["density"]["forest"]["percentiles"],
    message:
        "Train the {wildcards.inputs} density nets ({wildcards.revisits} revisits) of {wildcards.area}{wildcards.split}, one per half, and apply each to every chip"
    script:
        "../workflow_scripts/train_density.py"


rule baseline_features:
    input:
        chips=rules.make_chips.output.zarr,
    output:
        features="results/{area}/density/baseline_r{revisits}/features.csv",
    log:
        "logs/{area}/baseline_features/baseline_r{revisits}.log",
    benchmark:
        "benchmarks/{area}/baseline_features/baseline_r{revisits}.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        percentiles=config["density"]["forest"]["percentiles"],
    message:
        "Per-chip change statistics ({wildcards.revisits} revisits) of {wildcards.area}: the baseline's features"
    script:
        "../workflow_scripts/baseline_features.py"


rule evaluate_density:
    input:
        tables=split_tables,
        features=experiment_features,
    output:
        metrics=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{split}/metrics.csv",
            split=SPLITS,
        ),
        predictions=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{split}/predictions.csv",
            split=SPLITS,
        ),
        predictions_val=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{split}/predictions_val.csv",
            split=SPLITS,
        ),
        confusion=expand(
            "results/{{area}}/density/{{inputs}}_r{{revisits}}{split}/metrics_confusion.csv",
            split=SPLITS,
        ),
    log:
        "logs/{area}/evaluate_density/{inputs}_r{revisits}.log",
    benchmark:
        "benchmarks/{area}/evaluate_density/{inputs}_r{revisits}.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        forest=config["density"]["forest"],
        bootstrap=config["bootstrap"],
    message:
        "Random forest on percentiles and AUC of {wildcards.inputs}, {wildcards.revisits} revisits, {wildcards.area}, under every split"
    script:
        "../workflow_scripts/evaluate_density.py"


rule density_forests:
    input:
        table=split_table,
        features=density_features,
    output:
        forests="results/{area}/density/{inputs}_r{revisits}{split}/forests.skops",
    log:
        "logs/{area}/density_forests/{inputs}_r{revisits}{split}.log",
    benchmark:
        "benchmarks/{area}/density_forests/{inputs}_r{revisits}{split}.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        forest=config["density"]["forest"],
    message:
        "Forests of {wildcards.inputs}, {wildcards.revisits} revisits, {wildcards.area}, saved for rapid response"
    script:
        "../workflow_scripts/density_forests.py"


rule density_label_free:
    input:
        chips=rules.make_chips.output.zarr,
        table=rules.make_chips.output.table,
    output:
        metrics="results/{area}/density/label_free/metrics.csv",
        chips="results/{area}/density/label_free/chips.csv",
    log:
        "logs/{area}/density_label_free.log",
    benchmark:
        "benchmarks/{area}/density_label_free.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        revisits=config["density"]["revisits"],
        label_free=config["label_free"],
        bootstrap=config["bootstrap"],
    message:
        "Label-free z-score detector on the chips of {wildcards.area}: AUC of the chips ranked by their flagged share, no training"
    script:
        "../workflow_scripts/density_label_free.py"


rule density_table:
    input:
        metrics=lambda w: list(density_files(w.area, "metrics.csv").values()),
        predictions=lambda w: list(density_files(w.area, "predictions.csv").values()),
        oracle=lambda w: (
            [f"results/{w.area}/density/oracle/metrics.csv"]
            if "synthetic" in config["areas"][w.area]
            else []
        ),
        label_free=[rules.density_label_free.output.metrics],
    output:
        csv=report(
            "results/{area}/density/metrics.csv",
            caption="../report/density_metrics.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "AUC of every experiment"},
        ),
        markdown="results/{area}/density/metrics.md",
    log:
        "logs/{area}/density_table.log",
    benchmark:
        "benchmarks/{area}/density_table.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # experiment id -> file: the same files as the input (one enumeration, DENSITY_EXPERIMENTS)
        metrics=lambda w: density_files(w.area, "metrics.csv"),
        predictions=lambda w: density_files(w.area, "predictions.csv"),
        split_seeds=SPLIT_SEEDS,
        bootstrap=config["bootstrap"],
    message:
        "Density metrics table of {wildcards.area}"
    script:
        "../workflow_scripts/density_table.py"


rule density_oracle:
    input:
        table=rules.make_chips.output.table,
        truth=rules.generate_event.output.truth_raster,
    output:
        metrics="results/{area}/density/oracle/metrics.csv",
    log:
        "logs/{area}/density_oracle.log",
    benchmark:
        "benchmarks/{area}/density_oracle.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
        omission_rate=lambda w: config["areas"][w.area]["synthetic"]["landslides"][
            "inventory_omission_rate"
        ],
        bootstrap=config["bootstrap"],
    message:
        "Information limit of {wildcards.area}: AUC of the generated truth's expected counts"
    script:
        "../workflow_scripts/density_oracle.py"


rule density_differences:
    input:
        metrics=lambda w: list(density_files(w.area, "metrics.csv").values()),
        predictions=lambda w: list(density_files(w.area, "predictions.csv").values()),
        label_free=rules.density_label_free.output.chips,
    output:
        csv=report(
            "results/{area}/density/differences.csv",
            caption="../report/density_differences.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "paired differences"},
        ),
        markdown="results/{area}/density/differences.md",
    log:
        "logs/{area}/density_differences.log",
    benchmark:
        "benchmarks/{area}/density_differences.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # experiment id -> file: the same files as the input (one enumeration, DENSITY_EXPERIMENTS)
        metrics=lambda w: density_files(w.area, "metrics.csv"),
        predictions=lambda w: density_files(w.area, "predictions.csv"),
        split_seeds=SPLIT_SEEDS,
        bootstrap=config["bootstrap"],
    message:
        "Paired differences of the density experiments of {wildcards.area}"
    script:
        "../workflow_scripts/density_differences.py"


checkpoint choose_density_map:
    input:
        unpack(lambda w: density_map_references(w.area)),
        metrics=lambda w: list(density_map_candidates(w.area).values()),
    output:
        choice="results/{area}/density/map_choice.json",
    log:
        "logs/{area}/choose_density_map.log",
    benchmark:
        "benchmarks/{area}/choose_density_map.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        map=config["density"]["map"],
        # experiment id -> file: the same files as the input (density.map: best; else none)
        metrics=lambda w: density_map_candidates(w.area),
        split_seeds=SPLIT_SEEDS,
        scheme=density_grid.selection_scheme(config),
    message:
        "Choose the experiment that maps {wildcards.area} (density.map: {params.map})"
    script:
        "../workflow_scripts/choose_density_map.py"


rule density_calibration:
    input:
        choice=rules.choose_density_map.output.choice,
        predictions_val=lambda w: density_map_choice(w.area).path(
            w.area, "predictions_val.csv"
        ),
        predictions=lambda w: density_map_choice(w.area).path(w.area, "predictions.csv"),
    output:
        calibration="results/{area}/density/calibration.json",
        csv=report(
            "results/{area}/report/calibration.csv",
            caption="../report/density_calibration.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "calibration (ECE)"},
        ),
        png=report(
            "results/{area}/report/reliability.png",
            caption="../report/density_calibration.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "reliability diagrams"},
        ),
    log:
        "logs/{area}/density_calibration.log",
    benchmark:
        "benchmarks/{area}/density_calibration.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        method=config["calibration"]["density"],
        bins=config["calibration"]["bins"],
    message:
        "Calibration of the density map's class probabilities of {wildcards.area}: fitted on validation chips, scored on the test chips"
    script:
        "../workflow_scripts/density_calibration.py"


rule density_map:
    input:
        table=rules.make_chips.output.table,
        choice=rules.choose_density_map.output.choice,
        predictions=lambda w: density_map_choice(w.area).path(w.area, "predictions.csv"),
        calibration=rules.density_calibration.output.calibration,
    output:
        tif="results/{area}/density/map.tif",
        categories="results/{area}/density/map.tif.aux.xml",
        probability="results/{area}/density/map_probability.tif",
        gpkg="results/{area}/density/map.gpkg",
    log:
        "logs/{area}/density_map.log",
    benchmark:
        "benchmarks/{area}/density_map.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
        provenance=lambda w: map_provenance(w.area),
        min_valid_fraction=config["chips"]["min_valid_fraction"],
    message:
        "Density class map of {wildcards.area}"
    script:
        "../workflow_scripts/density_map.py"
