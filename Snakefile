"""landslide-sar: Sentinel-1 time series + DEM + landslide inventory -> models, metrics and maps.

Run `snakemake --cores all all` for the default run (config.yaml): the density grid and map of the
embedded event and, when the config has a `detection` section, the detection tables and figures;
see README.md and docs/detection.md.
"""

# config.yaml is the default run: loaded only when no --configfile is given, so that
# `snakemake --configfile X` runs exactly config X (Snakemake would otherwise merge X into it).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/synthetic.smk"
include: "rules/acquisition.smk"
include: "rules/terrain.smk"
include: "rules/cube.smk"
include: "rules/density.smk"
include: "rules/report.smk"
include: "rules/rapid.smk"
include: "rules/detection.smk"
include: "rules/gis.smk"


# Downloads run where Snakemake runs (the submit host on a cluster, whose compute nodes often
# lack internet); everything else is a cluster job under profiles/slurm.
localrules:
    download_sentinel1,
    download_dem,
    download_inventory,
    download_datacube,


rule all:
    default_target: True
    input:
        all_targets(),
        detection_targets(),
        gis_targets(),
