# The embedded synthetic event: SAR COGs + STAC items, a geographic DEM, an inventory and the truth.


rule generate_event:
    output:
        stac_items="resources/{area}/synthetic/sentinel1_items.json",
        cogs=directory("resources/{area}/synthetic/sentinel1"),
        dem="resources/{area}/synthetic/dem.tif",
        inventory="resources/{area}/synthetic/inventory.gpkg",
        truth="resources/{area}/synthetic/truth.gpkg",
        truth_raster="resources/{area}/synthetic/truth.tif",
    log:
        "logs/{area}/generate_event.log",
    benchmark:
        "benchmarks/{area}/generate_event.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1000, 120),
        runtime=20,
    params:
        area=area_config("bbox", "resolution", "event_time", "sentinel1", "synthetic"),
        out_dir=subpath(output.stac_items, parent=True),
    message:
        "Generate the embedded synthetic event of {wildcards.area}"
    script:
        "../workflow_scripts/generate_event.py"
