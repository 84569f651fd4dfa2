# Rapid response: a new area that has SAR and a DEM but no inventory is mapped by a trained
# area's models and forests (config `rapid_response: {new_area: {model_area, inputs, revisits}}`,
# method model) or, with no trained model at all, by the label-free detector on its own cube
# (`rapid_response: {new_area: {method: label_free}}`, rule rapid_label_free).


rule predict_rapid:
    input:
        chips=rules.make_chips.output.zarr,
        model=lambda w: f"{rapid_source(w)}/half{w.half}/model.pt",
        # the chips the model was trained on: their resolution and size must be this area's
        trained_chips=lambda w: rules.make_chips.output.zarr.format(
            area=config["rapid_response"][w.area]["model_area"]
        ),
    output:
        features="results/{area}/rapid/half{half}/features.csv",
        embeddings=directory("results/{area}/rapid/half{half}/embeddings.zarr"),
    log:
        "logs/{area}/predict_rapid/half{half}.log",
    benchmark:
        "benchmarks/{area}/predict_rapid/half{half}.tsv"
    wildcard_constraints:
        area=areas_regex(RAPID_MODEL_AREAS),
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=1,
    params:
        percentiles=config["density"]["forest"]["percentiles"],
        model_area=lambda w: config["rapid_response"][w.area]["model_area"],
    message:
        "Apply the half-{wildcards.half} model of the trained area to every chip of {wildcards.area}"
    script:
        "../workflow_scripts/predict_rapid.py"


rule classify_rapid:
    input:
        features=expand("results/{{area}}/rapid/half{half}/features.csv", half=HALVES),
        forests=lambda w: f"{rapid_source(w)}/forests.skops",
        table=rules.make_chips.output.table,
    output:
        predictions="results/{area}/rapid/predictions.csv",
    log:
        "logs/{area}/classify_rapid.log",
    benchmark:
        "benchmarks/{area}/classify_rapid.tsv"
    wildcard_constraints:
        area=areas_regex(RAPID_MODEL_AREAS),
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        min_valid_fraction=config["chips"]["min_valid_fraction"],
    message:
        "Density class of every chip of {wildcards.area} from the trained forests"
    script:
        "../workflow_scripts/classify_rapid.py"


rule rapid_map:
    input:
        table=rules.make_chips.output.table,
        predictions=rules.classify_rapid.output.predictions,
    output:
        tif="results/{area}/rapid/map.tif",
        categories="results/{area}/rapid/map.tif.aux.xml",
        probability="results/{area}/rapid/map_probability.tif",
        gpkg="results/{area}/rapid/map.gpkg",
    log:
        "logs/{area}/rapid_map.log",
    benchmark:
        "benchmarks/{area}/rapid_map.tsv"
    wildcard_constraints:
        area=areas_regex(RAPID_MODEL_AREAS),
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
        provenance=lambda w: map_provenance(w.area, rapid_source(w)),
        min_valid_fraction=config["chips"]["min_valid_fraction"],
    message:
        "Rapid-response density map of {wildcards.area}"
    script:
        "../workflow_scripts/density_map.py"


rule rapid_truth_check:
    input:
        map=rules.rapid_map.output.gpkg,
        truth=rules.generate_event.output.truth,
    output:
        csv="results/{area}/rapid/truth_check.csv",
        png=report(
            "results/{area}/report/rapid_map_vs_truth.png",
            caption="../report/rapid_map_vs_truth.rst",
            category="Rapid response",
            subcategory="{area}",
            labels={"area": "{area}", "result": "rapid map vs truth"},
        ),
    log:
        "logs/{area}/rapid_truth_check.log",
    benchmark:
        "benchmarks/{area}/rapid_truth_check.tsv"
    wildcard_constraints:
        area=areas_regex(RAPID_MODEL_AREAS),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
    message:
        "Compare the rapid-response map of {wildcards.area} with the synthetic truth"
    script:
        "../workflow_scripts/rapid_truth_check.py"


rule rapid_label_free:
    input:
        cube=rules.assemble_cube.output.zarr,
    output:
        tif="results/{area}/rapid/label_free.tif",
        gpkg="results/{area}/rapid/label_free.gpkg",
    log:
        "logs/{area}/rapid_label_free.log",
    benchmark:
        "benchmarks/{area}/rapid_label_free.tsv"
    wildcard_constraints:
        area=areas_regex(LABEL_FREE_AREAS),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1500, 60),
        runtime=30,
    params:
        settings=config["label_free"],
        revisits=lambda w: config["rapid_response"][w.area].get("revisits"),
        event_time=lambda w: config["areas"][w.area].get("event_time"),
        provenance=lambda w: {
            **map_provenance(w.area),
            "area": w.area,
        },
    message:
        "Label-free rapid-response map of {wildcards.area} from its own cube (no trained model)"
    script:
        "../workflow_scripts/rapid_label_free.py"
