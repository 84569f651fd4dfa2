# GIS-ready detection outputs and the offline web map of each area (README: opening them in QGIS
# and in a browser): per transfer region the detection probability COG and landslide polygons
# of the config's detection.map model; per mapped area one self-contained HTML page.


include: "gis_common.smk"


checkpoint choose_detection_map:
    input:
        metrics=list(detection_map_candidates().values()),
    output:
        choice=f"{DETECTION_ROOT}/map_choice.json",
    log:
        "logs/detection/choose_detection_map.log",
    benchmark:
        "benchmarks/detection/choose_detection_map.tsv"
    conda:
        "../envs/density.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        map=DETECTION_MAP,
        # experiment id -> file: the same files as the input (detection.map: best; else none)
        metrics=detection_map_candidates(),
        detection=DETECTION,
    message:
        "Choose the transfer U-Net that maps the detection regions (detection.map: {params.map})"
    script:
        "../workflow_scripts/choose_detection_map.py"


rule detection_calibration:
    input:
        choice=rules.choose_detection_map.output.choice,
        predictions=lambda w: detection_map_choice().path(
            DETECTION_ROOT, "predictions.zarr"
        ),
    output:
        calibration=f"{DETECTION_ROOT}/calibration.json",
        csv=report(
            f"{DETECTION_ROOT}/report/calibration.csv",
            caption="../report/detection_calibration.rst",
            category="Detection",
            labels={"result": "calibration (ECE)"},
        ),
        png=report(
            f"{DETECTION_ROOT}/report/reliability.png",
            caption="../report/detection_calibration.rst",
            category="Detection",
            labels={"result": "reliability diagrams"},
        ),
    log:
        "logs/detection/detection_calibration.log",
    benchmark:
        "benchmarks/detection/detection_calibration.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        train_region=DETECTION["transfer"]["train_region"] if DETECTION else None,
        method=config["calibration"]["detection"],
        bins=config["calibration"]["bins"],
    message:
        "Calibration of the mapped U-Net's pixel probabilities: fitted on the validation chips of its training region, scored on each region's test chips"
    script:
        "../workflow_scripts/detection_calibration.py"


rule detection_map:
    input:
        choice=rules.choose_detection_map.output.choice,
        predictions=lambda w: detection_map_choice().path(
            DETECTION_ROOT, "predictions.zarr"
        ),
        cube=rules.assemble_cube.output.zarr,
        calibration=rules.detection_calibration.output.calibration,
    output:
        tif="results/{area}/detection/probability.tif",
        gpkg="results/{area}/detection/landslides.gpkg",
    log:
        "logs/{area}/detection_map.log",
    benchmark:
        "benchmarks/{area}/detection_map.tsv"
    wildcard_constraints:
        area=areas_regex(DETECTION_MAP_REGIONS),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1000, 20),
        runtime=10,
    params:
        threshold=(
            DETECTION["evaluation"]["probability_threshold"] if DETECTION else None
        ),
        provenance=lambda w: {
            "train_region": DETECTION["transfer"]["train_region"],
            "event_time": config["areas"][w.area].get("event_time", ""),
            "software": f"landslide-sar {landslide_sar.__version__}",
        },
    message:
        "Detection probability map and landslide polygons of {wildcards.area}"
    script:
        "../workflow_scripts/detection_map.py"


rule web_map:
    input:
        unpack(web_map_inputs),
    output:
        html="results/{area}/webmap.html",
    log:
        "logs/{area}/web_map.log",
    benchmark:
        "benchmarks/{area}/web_map.tsv"
    wildcard_constraints:
        area=areas_regex(web_map_areas()),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1500, 40),
        runtime=10,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
        title=lambda w: f"landslide-sar: {w.area}",
    message:
        "Offline web map of {wildcards.area}"
    script:
        "../workflow_scripts/web_map.py"
