# The embedded synthetic event: SAR COGs + STAC items, a geographic DEM, an inventory and the truth.
# The file names are the library's (landslide_sar.synthetic.files.EVENT_FILES).
from landslide_sar.synthetic.files import EVENT_FILES


def event_file(key):
    """Path pattern of one file of the generated event of {area}."""
    return "resources/{area}/synthetic/" + EVENT_FILES[key]


rule generate_event:
    output:
        stac_items=event_file("items"),
        cogs=directory(event_file("sentinel1_dir")),
        dem=event_file("dem"),
        inventory=event_file("inventory"),
        truth=event_file("truth_vectors"),
        truth_raster=event_file("truth_raster"),
        summary=event_file("truth_summary"),
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
