# Rapid response: a trained area's models and forests map a new area that has SAR and a DEM but
# no inventory (config `rapid_response: {new_area: {model_area, inputs, revisits}}`).


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
