# The embedded synthetic event: SAR COGs + STAC items, a geographic DEM, an inventory and the truth.
# The file names are the library's (landslide_sar.synthetic.files.EVENT_FILES).
from landslide_sar.synthetic.files import EVENT_FILES


rule generate_event:
    output:
        stac_items=f"resources/{{area}}/synthetic/{EVENT_FILES['items']}",
        cogs=directory(f"resources/{{area}}/synthetic/{EVENT_FILES['sentinel1_dir']}"),
        dem=f"resources/{{area}}/synthetic/{EVENT_FILES['dem']}",
        inventory=f"resources/{{area}}/synthetic/{EVENT_FILES['inventory']}",
        truth=f"resources/{{area}}/synthetic/{EVENT_FILES['truth_vectors']}",
        truth_raster=f"resources/{{area}}/synthetic/{EVENT_FILES['truth_raster']}",
        summary=f"resources/{{area}}/synthetic/{EVENT_FILES['truth_summary']}",
    log:
        "logs/{area}/generate_event.log",
    benchmark:
        "benchmarks/{area}/generate_event.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(1000, 45),
        runtime=20,
    params:
        area=area_config("bbox", "resolution", "event_time", "sentinel1", "synthetic"),
        out_dir=subpath(output.stac_items, parent=True),
    message:
        "Generate the embedded synthetic event of {wildcards.area}"
    script:
        "../workflow_scripts/generate_event.py"
