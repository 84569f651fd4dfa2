# DEM derivatives with richdem's definitions (computed with xdem and richdem's curvature formula).


rule dem_derivatives:
    input:
        dem=rules.download_dem.output.tif,
    output:
        tif="results/{area}/dem_derivatives.tif",
    log:
        "logs/{area}/dem_derivatives.log",
    benchmark:
        "benchmarks/{area}/dem_derivatives.tsv"
    conda:
        "../envs/acquisition.yaml"
    threads: 1
    resources:
        mem_mb=area_mem_mb(2000),
        runtime=10,
    params:
        smoothing_sigma_px=config["terrain"]["smoothing_sigma_px"],
    message:
        "Slope, aspect and curvature of {wildcards.area}"
    script:
        "../workflow_scripts/dem_derivatives.py"
