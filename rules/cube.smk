# The area's datacube and its chips.


rule assemble_cube:
    input:
        sentinel1=rules.download_sentinel1.output.zarr,
        dem=rules.download_dem.output.tif,
        derivatives=rules.dem_derivatives.output.tif,
        labels=labels_input,
    output:
        zarr=directory("results/{area}/cube.zarr"),
    log:
        "logs/{area}/assemble_cube.log",
    benchmark:
        "benchmarks/{area}/assemble_cube.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 2
    resources:
        mem_mb=area_mem_mb(2000),
        runtime=20,
    message:
        "Assemble the datacube of {wildcards.area}"
    script:
        "../workflow_scripts/assemble_cube.py"


rule make_chips:
    input:
        cube=rules.assemble_cube.output.zarr,
    output:
        zarr=directory("results/{area}/chips/chips.zarr"),
        table="results/{area}/chips/chips.gpkg",
    log:
        "logs/{area}/make_chips.log",
    benchmark:
        "benchmarks/{area}/make_chips.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 2
    resources:
        mem_mb=area_mem_mb(2000),
        runtime=20,
    params:
        chips=config["chips"],
        splits={
            k: config["splits"][k][:1] if k == "seeds" else config["splits"][k]
            for k in (
                "seeds",
                "train_fraction",
                "val_fraction",
                "min_train_chips",
                "min_val_chips",
            )
        },
        area=area_config("event_time", "sentinel1"),
    message:
        "Cut {wildcards.area} into chips"
    script:
        "../workflow_scripts/make_chips.py"
