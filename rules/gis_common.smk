# Helpers of rules/gis.smk: the detection map's experiment and regions, the web maps' areas and
# inputs, and the list of final GIS targets.

from landslide_sar.detection import experiments as detection_grid

DETECTION_MAP = (DETECTION or {}).get("map")


def detection_map_candidates():
    """experiment id -> metrics.csv of every transfer experiment whose validation scores choose
    the detection map (detection.map: best; none when it names one)."""
    return {
        e.id: e.path(DETECTION_ROOT, "metrics.csv")
        for e in detection_grid.map_candidates(DETECTION or {})
    }


def detection_map_choice():
    """The transfer Experiment the choose_detection_map checkpoint chose (first split)."""
    from landslide_sar.detection.selection import read_choice

    choice = read_choice(checkpoints.choose_detection_map.get().output.choice)
    return detection_grid.parse(choice["experiment"], DETECTION)


# the transfer regions the detection map covers (every transfer experiment shares them)
DETECTION_MAP_REGIONS = (
    [DETECTION["transfer"]["train_region"], DETECTION["transfer"]["test_region"]]
    if DETECTION_MAP is not None
    else []
)


def web_map_areas():
    """The areas with a web map: the density and rapid-response areas and the detection map's
    regions (each once)."""
    return list(dict.fromkeys(DENSITY_AREAS + RAPID_AREAS + DETECTION_MAP_REGIONS))


def web_map_inputs(wildcards):
    """The layers of an area's web map: its cube (the DEM for the hillshade; the grid), the
    density or rapid-response class map and its class probabilities (the confidence layer), the
    detection probability, the inventory's heads; for a label-free rapid-response area its
    flagged pixels.
    """
    area = wildcards.area
    inputs = {"cube": rules.assemble_cube.output.zarr.format(area=area)}
    if area in DENSITY_AREAS:
        inputs["density"] = rules.density_map.output.tif.format(area=area)
        inputs["density_probability"] = rules.density_map.output.probability.format(
            area=area
        )
    elif area in LABEL_FREE_AREAS:
        inputs["label_free"] = rules.rapid_label_free.output.tif.format(area=area)
    elif area in RAPID_AREAS:
        inputs["density"] = rules.rapid_map.output.tif.format(area=area)
        inputs["density_probability"] = rules.rapid_map.output.probability.format(
            area=area
        )
    if area in DETECTION_MAP_REGIONS:
        inputs["probability"] = f"results/{area}/detection/probability.tif"
    if area not in RAPID_AREAS and area not in DATACUBE_AREAS:
        inventory = synthetic_or("inventory", rules.generate_event.output.inventory)(
            wildcards
        )
        if inventory:
            inputs["inventory"] = inventory
    return inputs


def gis_targets():
    """The final GIS outputs: the detection map of each transfer region and its calibration
    report, a web map per area."""
    targets = []
    for area in DETECTION_MAP_REGIONS:
        targets += [
            f"results/{area}/detection/probability.tif",
            f"results/{area}/detection/landslides.gpkg",
        ]
    if DETECTION_MAP_REGIONS:
        targets += [
            f"{DETECTION_ROOT}/report/calibration.csv",
            f"{DETECTION_ROOT}/report/reliability.png",
        ]
    return targets + [f"results/{area}/webmap.html" for area in web_map_areas()]
