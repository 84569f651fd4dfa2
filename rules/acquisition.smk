# Acquisition: Sentinel-1 (STAC API or ItemCollection, stackstac), the DEM, the inventory, and the
# published datacubes. What comes from the network lands under resources/, is retried (retries:)
# and is write-protected (protected()) so that --delete-all-output keeps it; network settings
# (areas.<area>.download) are read from the config by the scripts, not passed as params, so that
# changing them does not trigger a re-download.


rule download_sentinel1:
    input:
        stac_items=synthetic_or("sentinel1", rules.generate_event.output.stac_items),
    output:
        zarr=protect_if(
            fetches("sentinel1"), directory("resources/{area}/sentinel1.zarr")
        ),
    log:
        "logs/{area}/download_sentinel1.log",
    benchmark:
        "benchmarks/{area}/download_sentinel1.tsv"
    wildcard_constraints:
        area=areas_regex(ACQUIRED_AREAS),
    retries: download_retries()
    conda:
        "../envs/acquisition.yaml"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        area=area_config("bbox", "resolution", "event_time", "sentinel1", "download"),
    message:
        "Load Sentinel-1 VV/VH of {wildcards.area} onto its grid"
    script:
        "../workflow_scripts/download_sentinel1.py"


rule download_dem:
    input:
        dem=synthetic_or("dem", rules.generate_event.output.dem),
    output:
        tif=protect_if(fetches("dem"), "resources/{area}/dem.tif"),
    log:
        "logs/{area}/download_dem.log",
    benchmark:
        "benchmarks/{area}/download_dem.tsv"
    wildcard_constraints:
        area=areas_regex(ACQUIRED_AREAS),
    retries: download_retries()
    conda:
        "../envs/acquisition.yaml"
    threads: 2
    resources:
        mem_mb=area_mem_mb(1000, 10, grow=False),
        runtime=60,
    params:
        area=area_config("bbox", "resolution", "dem", "download"),
    message:
        "Reproject the DEM of {wildcards.area} onto its grid"
    script:
        "../workflow_scripts/download_dem.py"


rule download_inventory:
    output:
        file=protected("resources/{area}/inventory/{filename}"),
    log:
        "logs/{area}/download_inventory/{filename}.log",
    benchmark:
        "benchmarks/{area}/download_inventory/{filename}.tsv"
    wildcard_constraints:
        area=areas_regex(ACQUIRED_AREAS),
        filename=r"[^/]+",
    retries: download_retries()
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        url=lambda w: config["areas"][w.area]["inventory"]["url"],
        download=lambda w: config["areas"][w.area]["download"],
    message:
        "Download the landslide inventory of {wildcards.area}"
    script:
        "../workflow_scripts/download_inventory.py"


rule rasterize_labels:
    input:
        inventory=synthetic_or("inventory", rules.generate_event.output.inventory),
    output:
        tif="results/{area}/labels.tif",
    log:
        "logs/{area}/rasterize_labels.log",
    benchmark:
        "benchmarks/{area}/rasterize_labels.tsv"
    wildcard_constraints:
        area=areas_regex(ACQUIRED_AREAS),
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1000, 15),
        runtime=10,
    params:
        area=area_config("bbox", "resolution", "inventory"),
        geometry=inventory_geometry,
    message:
        "Rasterise the landslide inventory of {wildcards.area}"
    script:
        "../workflow_scripts/rasterize_labels.py"


rule download_datacube:
    output:
        zarr=protected(directory("resources/{area}/datacube.zarr")),
    log:
        "logs/{area}/download_datacube.log",
    benchmark:
        "benchmarks/{area}/download_datacube.tsv"
    wildcard_constraints:
        area=areas_regex(DATACUBE_AREAS),
    retries: download_retries()
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
    params:
        url=lambda w: config["areas"][w.area]["datacube"]["url"],
        download=lambda w: config["areas"][w.area]["download"],
    message:
        "Download and unpack the published datacube of {wildcards.area}"
    script:
        "../workflow_scripts/download_datacube.py"


rule import_datacube:
    input:
        cube=datacube_input,
    output:
        zarr=directory("results/{area}/cube.zarr"),
    log:
        "logs/{area}/import_datacube.log",
    benchmark:
        "benchmarks/{area}/import_datacube.tsv"
    wildcard_constraints:
        area=areas_regex(DATACUBE_AREAS),
    conda:
        "../envs/acquisition.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        area=area_config("event_time", "bbox", "sentinel1", "datacube"),
    message:
        "Take the published datacube of {wildcards.area} as its cube"
    script:
        "../workflow_scripts/import_datacube.py"


# A datacube area's cube comes from the datacube, never from assemble_cube.
ruleorder: import_datacube > assemble_cube
