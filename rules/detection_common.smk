# Helpers of rules/detection.smk: the experiments of the config's `detection` section, the input
# and params functions of train_detection and the list of final detection targets.

from landslide_sar.detection.experiments import experiments as detection_experiments_of

DETECTION = config.get("detection")
DETECTION_ROOT = "results/detection"
DETECTION_EXPERIMENTS = (
    detection_experiments_of(DETECTION) if DETECTION is not None else []
)
from landslide_sar.detection.experiments import lookup as lookup_detection_experiment


wildcard_constraints:
    experiment="within|transfer",
    aug="aug|noaug",


def detection_experiment(wildcards):
    """The Experiment of a train_detection job's wildcards; one the config does not list is
    refused (one line)."""
    return lookup_detection_experiment(
        f"{wildcards.experiment}/{wildcards.inputs}_r{wildcards.revisits}_{wildcards.aug}{wildcards.split}",
        DETECTION,
    )


def detection_settings(wildcards):
    """The detection settings a train_detection job reads: chips (without chips.split_seeds: the
    experiment carries its own split seed, so adding a split seed re-runs no existing
    experiment), model, training, augment (None without augmentation), evaluation, baseline and
    the label-free detector's settings (the config's top-level `label_free`).
    """
    return {
        "chips": {k: v for k, v in DETECTION["chips"].items() if k != "split_seeds"},
        "model": DETECTION["model"],
        "training": DETECTION["training"],
        "augment": DETECTION["augment"] if wildcards.aug == "aug" else None,
        "evaluation": DETECTION["evaluation"],
        "baseline": DETECTION["baseline"],
        "label_free": config["label_free"],
    }


def detection_cubes(wildcards):
    """The cubes of the training region and, for transfer, of the test region."""
    e = detection_experiment(wildcards)
    cubes = {"train": rules.assemble_cube.output.zarr.format(area=e.train_region)}
    if e.test_region is not None:
        cubes["test"] = rules.assemble_cube.output.zarr.format(area=e.test_region)
    return cubes


def detection_event_times(wildcards):
    """The event times of the experiment's regions (from the areas' config), keyed as its cubes."""
    e = detection_experiment(wildcards)
    times = {"train": config["areas"][e.train_region]["event_time"]}
    if e.test_region is not None:
        times["test"] = config["areas"][e.test_region]["event_time"]
    return times


def detection_files(filename, experiment=None, first_split=False):
    """experiment id -> `filename` of every detection experiment (of one kind when `experiment`
    is given; of the first split seed only with `first_split`), in DETECTION_EXPERIMENTS' order.
    """
    return {
        e.id: e.path(DETECTION_ROOT, filename)
        for e in DETECTION_EXPERIMENTS
        if experiment in (None, e.experiment) and (e.first_split or not first_split)
    }


def detection_outputs(filename, experiment=None, first_split=False):
    """The files of detection_files, as a list (a rule's input)."""
    return list(detection_files(filename, experiment, first_split).values())


def detection_truth_regions():
    """The synthetic detection regions (their generated truth feeds the oracle row)."""
    regions = dict.fromkeys(
        r for e in DETECTION_EXPERIMENTS for r in (e.train_region, e.test_region) if r
    )
    return [r for r in regions if "synthetic" in config["areas"][r]]


def detection_oracle_inputs(wildcards):
    """One predictions zarr per experiment kind, of the first split seed (its experiments share
    the chips), and the truth rasters of the synthetic regions."""
    first = {}
    for e in DETECTION_EXPERIMENTS:
        if e.first_split:
            first.setdefault(e.experiment, e.path(DETECTION_ROOT, "predictions.zarr"))
    return {
        **first,
        "truth": [
            rules.generate_event.output.truth_raster.format(area=r)
            for r in detection_truth_regions()
        ],
    }


def detection_targets():
    """The final detection outputs: the tables (metrics, differences) and the three figures."""
    if DETECTION is None:
        return []
    return [
        f"{DETECTION_ROOT}/metrics.csv",
        f"{DETECTION_ROOT}/metrics.md",
        f"{DETECTION_ROOT}/differences.csv",
        f"{DETECTION_ROOT}/differences.md",
        f"{DETECTION_ROOT}/report/auprc_vs_revisits.png",
        f"{DETECTION_ROOT}/report/pr_curves.png",
        f"{DETECTION_ROOT}/report/transfer_maps.png",
    ]
