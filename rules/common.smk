# Helpers shared by the rules: config validation, input functions and the list of final targets.
import os
import re
import sys
import uuid

from snakemake.utils import min_version

min_version("9.0")

# The library is installed into the environment (tools/setup.sh: pip install -e .; envs/*.yaml:
# pip -e ..); the Snakefile itself imports it from the workflow's folder.
sys.path.insert(0, workflow.basedir)

import landslide_sar
from landslide_sar.config import (
    inventory_filename,
    is_datacube,
    validate_config,
    zone_less_times,
)

from landslide_sar.density import experiments as density_grid
from landslide_sar.density.experiments import SPLIT_PATTERN, parse_split
from landslide_sar.density.transfer import check_rapid_config
from landslide_sar.errors import ConfigError, InputError
from landslide_sar.io import check_writable
from landslide_sar.runner import RUN_ID_ENV

try:
    validate_config(config)
    # a model maps only areas of its training area's resolution, chip size and channels
    check_rapid_config(config)
    # every job writes its log and benchmark, and all but downloads write under results/; a
    # cluster job's own parse of the Snakefile neither probes nor prints again
    if workflow.is_main_process:
        check_writable(
            [
                os.path.join(top, *sub)
                for top in ("results", "logs", "benchmarks")
                for sub in [(), *[(a,) for a in config["areas"]]]
            ]
        )
except (ConfigError, InputError) as err:
    sys.exit(f"ERROR: {err}")
if workflow.is_main_process:
    for line in zone_less_times(config):  # taken as UTC: said once per invocation
        print(f"NOTE: {line}", file=sys.stderr)

# names this invocation for its jobs (inherited), so that a retry of a job that failed on bad
# input ends at once instead of repeating it (landslide_sar.runner.run_rule)
os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex)


AREAS = list(config["areas"])
# the split seeds of the density grid (splits.seeds): each split scheme is drawn once per seed
SPLIT_SEEDS = density_grid.split_seeds(config)
# every density experiment of the table (nets and baseline under every split), in its order
DENSITY_EXPERIMENTS = density_grid.experiments(config)
# the folder suffix of every split (splits.schemes x splits.seeds; "": random, first seed)
SPLITS = list(dict.fromkeys(e.split for e in DENSITY_EXPERIMENTS))
# the two halves of every density split: each trains on its own chips and predicts the other's
HALVES = [0, 1]


wildcard_constraints:
    area="|".join(AREAS),
    inputs="dem|sar|fused|change|baseline",
    split=SPLIT_PATTERN,
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
    synthetic, the configured file when it is 'file', the downloaded file when it is 'url',
    nothing when it is fetched inside the rule (stac). Never touches the network.
    """

    def get(wildcards):
        area = config["areas"][wildcards.area]
        src = area[kind]
        if src["source"] == "synthetic":
            return synthetic_output.format(area=wildcards.area)
        if src["source"] == "file":
            return src["path"]
        if src["source"] == "url":
            return f"resources/{wildcards.area}/{kind}/{inventory_filename(area)}"
        return []

    return get


def inventory_geometry(wildcards):
    """What rasterize_labels accepts of the area's inventory: polygons (landslide bodies) on a
    detection region, points or polygons elsewhere (the density grid counts heads)."""
    det = config.get("detection")
    if det is None:
        return "any"
    regions = {
        det["within"]["region"],
        det["transfer"]["train_region"],
        det["transfer"]["test_region"],
    }
    return "polygons" if wildcards.area in regions else "any"


def datacube_input(wildcards):
    """The published datacube of an area: its local path, or where download_datacube puts it."""
    cube = config["areas"][wildcards.area]["datacube"]
    return cube.get("path") or f"resources/{wildcards.area}/datacube.zarr"


def areas_regex(names):
    """A wildcard constraint matching exactly these area names (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


DATACUBE_AREAS = [a for a in AREAS if is_datacube(config["areas"][a])]
ACQUIRED_AREAS = [a for a in AREAS if a not in DATACUBE_AREAS]


def fetches(kind):
    """Whether any area fetches `kind` (sentinel1, dem) from the network in its download rule."""
    return any(config["areas"][a][kind]["source"] == "stac" for a in ACQUIRED_AREAS)


def protect_if(flag, path):
    """`path` write-protected when `flag`: what took hours to download survives
    `snakemake --delete-all-output` (delete it by hand: chmod -R u+w PATH; rm -r PATH).
    """
    return protected(path) if flag else path


def fetches_anything(area):
    """Whether an area downloads anything (a STAC source, an inventory URL, a datacube URL)."""
    if is_datacube(area):
        return bool(area["datacube"].get("url"))
    return (
        area["sentinel1"]["source"] == "stac"
        or area["dem"]["source"] == "stac"
        or area["inventory"]["source"] == "url"
    )


def download_retries():
    """Snakemake re-runs of a failed download job (the `retries` directive): the largest
    `download.job_retries` of the areas that download; 0 when none does."""
    return max(
        [0]
        + [
            config["areas"][a]["download"]["job_retries"]
            for a in AREAS
            if fetches_anything(config["areas"][a])
        ]
    )


def density_files(area, filename):
    """experiment id -> results/<area>/density/<id>/<filename> of every experiment of the density
    table and differences (DENSITY_EXPERIMENTS, in order)."""
    return {e.id: e.path(area, filename) for e in DENSITY_EXPERIMENTS}


def density_histories(area):
    """ "<experiment id> half<h>" -> history.csv of every net's halves (first split), in order."""
    return {
        f"{e.id} half{h}": e.path(area, f"half{h}/history.csv")
        for e in density_grid.net_experiments(config)
        for h in HALVES
    }


def split_table(wildcards):
    """The chip table of the experiment's split: make_chips's (random, first split seed) or
    split_chips's."""
    return f"results/{wildcards.area}/chips/chips{wildcards.split}.gpkg"


def density_training(wildcards):
    """density.training for a train_density job; for the change input set also the label-free
    settings of its z-score channel (key label_free). Folded in here rather than a param of its
    own: a new param would change every other net's recorded params and so re-run it."""
    training = config["density"]["training"]
    if wildcards.inputs != "change":
        return training
    return {**training, "label_free": config["label_free"]}


def wildcard_experiment(wildcards, split=None):
    """The density Experiment of a job's wildcards (area aside) under its split (or `split`)."""
    return density_grid.parse(
        f"{wildcards.inputs}_r{wildcards.revisits}{wildcards.split if split is None else split}",
        SPLIT_SEEDS,
    )


def density_features(wildcards):
    """The features of the wildcard experiment's two halves (density_forests)."""
    return wildcard_experiment(wildcards).half_features(wildcards.area, HALVES)


def experiment_features(wildcards):
    """The features of the two halves of the wildcard experiment under every split (SPLITS) in
    order, two per split (evaluate_density)."""
    return [
        f
        for split in SPLITS
        for f in wildcard_experiment(wildcards, split).half_features(
            wildcards.area, HALVES
        )
    ]


def split_tables(wildcards):
    """The chip table of every split (SPLITS), in order."""
    return [f"results/{wildcards.area}/chips/chips{split}.gpkg" for split in SPLITS]


def density_map_candidates(area):
    """experiment id -> metrics.csv of every experiment whose validation scores choose the map
    (density.map: best; none when density.map names the experiment)."""
    return {
        e.id: e.path(area, "metrics.csv") for e in density_grid.map_candidates(config)
    }


def density_map_references(area):
    """The label-free detector's chip scores and the selection scheme's chip tables, scored beside
    the candidates on the same validation chips (density.map: best; else none)."""
    if not density_grid.map_candidates(config):
        return {}
    scheme = density_grid.selection_scheme(config)
    splits = dict.fromkeys(e.split for e in DENSITY_EXPERIMENTS if e.scheme == scheme)
    return {
        "label_free": f"results/{area}/density/label_free/chips.csv",
        **{
            f"table{split}": f"results/{area}/chips/chips{split}.gpkg"
            for split in splits
        },
    }


def density_map_choice(area, key="experiment"):
    """The Experiment the choose_density_map checkpoint chose for an area's map (`key`
    "experiment"), or the net whose embeddings the report shows (`key` "net"; None: no net).
    """
    from landslide_sar.density.choice import read_choice

    choice = read_choice(checkpoints.choose_density_map.get(area=area).output.choice)
    return None if choice[key] is None else density_grid.parse(choice[key], SPLIT_SEEDS)


RAPID_AREAS = list(config.get("rapid_response", {}))
# the rapid-response areas mapped by the label-free detector (method label_free: no trained model)
LABEL_FREE_AREAS = [
    a for a in RAPID_AREAS if config["rapid_response"][a]["method"] == "label_free"
]
# the rapid-response areas mapped by a trained area's models and forests (method model)
RAPID_MODEL_AREAS = [a for a in RAPID_AREAS if a not in LABEL_FREE_AREAS]
# the areas of the density grid and map (config density.areas, each with an inventory); the other
# labelled areas (e.g. the detection regions) get cubes but no density experiment
DENSITY_AREAS = list(config["density"]["areas"])


def labels_input(wildcards):
    """The rasterised inventory of an area; nothing for an area mapped without one."""
    if wildcards.area in RAPID_AREAS:
        return []
    return rules.rasterize_labels.output.tif.format(area=wildcards.area)


def all_targets():
    """The final outputs: for every area of density.areas the density table, map and figures;
    for every rapid-response area its map (and, for a synthetic event mapped by a model, the
    check against its truth; method label_free: the label-free map). Rule `all` adds
    detection_targets() (rules/detection_common.smk).
    """
    targets = []
    for area in DENSITY_AREAS:
        targets += [
            f"results/{area}/density/metrics.csv",
            f"results/{area}/density/differences.csv",
            f"results/{area}/density/map.tif",
            f"results/{area}/density/map.gpkg",
            f"results/{area}/report/map_vs_truth.png",
            f"results/{area}/report/example_chip.png",
            f"results/{area}/report/training_curves.png",
            f"results/{area}/report/density_grid.png",
            f"results/{area}/report/calibration.csv",
            f"results/{area}/report/reliability.png",
        ]
    for area in LABEL_FREE_AREAS:
        targets += [
            f"results/{area}/rapid/label_free.tif",
            f"results/{area}/rapid/label_free.gpkg",
        ]
    for area in RAPID_MODEL_AREAS:
        targets += [f"results/{area}/rapid/map.tif", f"results/{area}/rapid/map.gpkg"]
        if "synthetic" in config["areas"][area]:
            targets.append(f"results/{area}/report/rapid_map_vs_truth.png")
    return targets


def map_provenance(area, experiment=None):
    """Tags of an area's density map: what it shows, from which experiment (None: the choice
    file's, tagged by the library), for which event."""
    return {
        "area": area,
        **({} if experiment is None else {"experiment": experiment}),
        "event_time": config["areas"][area].get("event_time", ""),
        "software": f"landslide-sar {landslide_sar.__version__}",
    }


def rapid_source(wildcards):
    """The trained experiment folder that maps the wildcard area."""
    e = density_grid.rapid_experiment(config, wildcards.area)
    return e.path(config["rapid_response"][wildcards.area]["model_area"])


def area_mpx(area_name):
    """Millions of pixels of an area's grid (its bbox at its resolution); 0 without a bbox."""
    from landslide_sar.grid import area_grid

    area = config["areas"].get(area_name, {})
    if "bbox" not in area or "resolution" not in area:
        return 0.0
    grid = area_grid(area["bbox"], area["resolution"])
    return grid.width * grid.height / 1e6


def area_mem_mb(base, per_mpx=0, grow=True):
    """A rule's `mem_mb` resource: `base` MB plus `per_mpx` MB per million pixels of the
    wildcard area's grid (for a rule whose memory grows with the area; docs/benchmark_scale.md),
    times the attempt when `grow`, so that a retried job (profiles/slurm: retries) asks for
    more. (Download rules, retried for network errors, do not grow.)"""

    def get(wildcards, attempt):
        mpx = area_mpx(wildcards.area) if per_mpx else 0.0
        return int((attempt if grow else 1) * (base + per_mpx * mpx))

    return get


def warn_oversubscription():
    """One warning line when --cores exceeds the CPUs this process may use: torch jobs would then
    share cores and run several times slower (docs/benchmark_training.md), for the same results.
    """
    import os

    cpus = len(os.sched_getaffinity(0))
    try:
        cores = workflow._cores
    except Exception:  # noqa: BLE001 - no core count given (e.g. some dry runs)
        cores = None
    if (
        isinstance(cores, int)
        and cores > cpus
        and workflow.local_exec
        and not workflow.subprocess_exec
    ):
        print(
            f"WARNING: --cores {cores} exceeds the {cpus} CPU(s) of this machine; jobs will share "
            f"cores and training runs several times slower (use --cores all or --cores {cpus})",
            file=sys.stderr,
        )


warn_oversubscription()
