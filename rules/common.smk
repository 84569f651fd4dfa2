# Helpers shared by the rules: config validation, input functions and the list of final targets.
import sys

from snakemake.utils import min_version

min_version("9.0")

# The library is installed into the environment (tools/setup.sh: pip install -e .; envs/*.yaml:
# pip -e ..); the Snakefile itself imports it from the workflow's folder.
sys.path.insert(0, workflow.basedir)

from landslide_sar.config import ConfigError, validate_config

try:
    validate_config(config)
except ConfigError as err:
    sys.exit(f"ERROR: {err}")


AREAS = list(config["areas"])


wildcard_constraints:
    area="|".join(AREAS),
    inputs="dem|sar|fused",
    revisits=r"\d+",
    half="0|1",


def area_config(*keys):
    """An input/params function giving the named keys of the wildcard area's config."""

    def get(wildcards):
        area = config["areas"][wildcards.area]
        return {k: area[k] for k in keys if k in area}

    return get


def synthetic_or(kind, synthetic_output):
    """The input of a download rule: the generated event's file when the area's `kind` source is
    synthetic, the configured file when it is 'file', nothing when it is fetched (stac).
    """

    def get(wildcards):
        src = config["areas"][wildcards.area][kind]
        if src["source"] == "synthetic":
            return synthetic_output.format(area=wildcards.area)
        if src["source"] == "file":
            return src["path"]
        return []

    return get


def density_experiments():
    """(inputs, revisits) of every density experiment in the config."""
    return [
        (i, r)
        for i in config["density"]["inputs"]
        for r in config["density"]["revisits"]
    ]


def all_targets():
    """The final outputs of every area: the density table, map and report figures."""
    targets = []
    for area in AREAS:
        targets += [
            f"results/{area}/density/metrics.csv",
            f"results/{area}/density/map.tif",
            f"results/{area}/density/map.gpkg",
            f"results/{area}/report/map_vs_truth.png",
            f"results/{area}/report/example_chip.png",
            f"results/{area}/report/training_curves.png",
        ]
    return targets
