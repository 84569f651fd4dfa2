# Acquisition: Sentinel-1 (STAC API or ItemCollection, stackstac), the DEM and the inventory.


rule download_sentinel1:
    input:
        stac_items=synthetic_or("sentinel1", rules.generate_event.output.stac_items),
    output:
        zarr=directory("resources/{area}/sentinel1.zarr"),
    log:
        "logs/{area}/download_sentinel1.log",
    benchmark:
        "benchmarks/{area}/download_sentinel1.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        area=area_config("bbox", "resolution", "event_time", "sentinel1"),
    message:
        "Load Sentinel-1 VV/VH of {wildcards.area} onto its grid"
    script:
        "../workflow_scripts/download_sentinel1.py"


rule download_dem:
    input:
        dem=synthetic_or("dem", rules.generate_event.output.dem),
    output:
        tif="resources/{area}/dem.tif",
    log:
        "logs/{area}/download_dem.log",
    benchmark:
        "benchmarks/{area}/download_dem.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        area=area_config("bbox", "resolution"),
    message:
        "Reproject the DEM of {wildcards.area} onto its grid"
    script:
        "../workflow_scripts/download_dem.py"


rule rasterize_labels:
    input:
        inventory=synthetic_or("inventory", rules.generate_event.output.inventory),
    output:
        tif="results/{area}/labels.tif",
    log:
        "logs/{area}/rasterize_labels.log",
    benchmark:
        "benchmarks/{area}/rasterize_labels.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        area=area_config("bbox", "resolution"),
    message:
        "Rasterise the landslide inventory of {wildcards.area}"
    script:
        "../workflow_scripts/rasterize_labels.py"
