"""Configuration checks: the JSON schema in schemas/, reported as one line per problem."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from landslide_sar.errors import ConfigError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
#: Named presets of an area's ``synthetic`` block (file name under the schema folder).
PRESETS_FILE = "synthetic.presets.yaml"


def _sub_schema(path: Path) -> dict:
    """A sub-schema file without its `$schema`: validated by the main schema's validator class
    (jsonschema switches class at a `$schema`, which would drop the filling of defaults)."""
    sub = yaml.safe_load(path.read_text())
    sub.pop("$schema", None)
    return sub


def load_schema(schema_dir: Path = SCHEMA_DIR) -> dict:
    """The main schema with the sub-schemas it references by file name (from an area's
    properties or a top-level property) inlined under $defs."""
    schema = yaml.safe_load((schema_dir / "config.schema.yaml").read_text())
    area = schema["$defs"]["area"]["properties"]
    for key, sub in list(area.items()):
        ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
        if ref.endswith(".yaml"):
            name = Path(ref).stem.replace(".schema", "")
            schema["$defs"][name] = _sub_schema(schema_dir / ref)
            area[key] = {"$ref": f"#/$defs/{name}"}
    top = schema["properties"]  # top-level sections kept in their own file (detection)
    for key, sub in list(top.items()):
        ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
        if ref.endswith(".yaml"):
            name = Path(ref).stem.replace(".schema", "")
            schema["$defs"][name] = _sub_schema(schema_dir / ref)
            top[key] = {"$ref": f"#/$defs/{name}"}
    return schema


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        bad = extra[0] if extra else "?"
        return f"config key {where}{bad} is not allowed; allowed keys at {key}: {', '.join(allowed)}"
    if v == "required":
        return f"config {key}: {error.message}"
    if v == "enum":
        return (
            f"config {key} = {error.instance!r} is not allowed; allowed: {', '.join(map(repr, error.validator_value))}"
        )
    if v == "oneOf":  # a keyword or a mapping (density.map, detection.map: best or one named experiment)
        branches = error.validator_value
        consts = [repr(b["const"]) for b in branches if "const" in b]
        mappings = [i for i, b in enumerate(branches) if b.get("type") == "object"]
        if isinstance(error.instance, dict) and mappings:
            inner = [e for e in error.context if e.schema_path and e.schema_path[0] in mappings]
            if inner:
                return _describe(jsonschema.exceptions.best_match(inner))
        if consts and mappings:
            keys = ", ".join(branches[mappings[0]].get("required", []))
            return f"config {key} = {error.instance!r} is not allowed; expected {' or '.join(consts)} or {{{keys}}}"
    limits = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if v in limits:
        return f"config {key} = {error.instance!r} is not allowed; expected a value {limits[v]} {error.validator_value}"
    if v == "pattern":
        return f"config {key} = {error.instance!r} is not allowed; expected a value matching {error.validator_value!r}"
    if v == "type":
        return f"config {key} = {error.instance!r} is not allowed; expected type {error.validator_value}"
    return f"config {key} = {error.instance!r}: {error.message}"


def _first_error(errors: Iterable[jsonschema.ValidationError]) -> jsonschema.ValidationError | None:
    """jsonschema's most relevant error (None: the config is valid)."""
    return jsonschema.exceptions.best_match(errors)


def synthetic_presets(schema_dir: Path = SCHEMA_DIR) -> dict[str, dict]:
    """The named presets of a ``synthetic`` block (schemas/synthetic.presets.yaml), by name."""
    return yaml.safe_load((schema_dir / PRESETS_FILE).read_text())


def _merged(base: dict, over: dict) -> dict:
    """`base` with `over`'s keys replacing its own, key by key in nested mappings (a new dict)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand_preset(block: Any, where: str = "synthetic", schema_dir: Path = SCHEMA_DIR) -> Any:
    """A ``synthetic`` block with its ``preset`` replaced by that preset's values, the block's own
    keys winning key by key (a preset may start from another preset). A block without ``preset``
    (or not a mapping) is returned as is; an unknown name is a ConfigError line naming the key."""
    if not isinstance(block, dict) or "preset" not in block:
        return block
    presets = synthetic_presets(schema_dir)
    seen: list[str] = []
    while isinstance(block, dict) and "preset" in block:
        name = block["preset"]
        if not isinstance(name, str) or name not in presets:
            raise ConfigError(
                f"config {where}.preset = {name!r} is not allowed; allowed presets: "
                f"{', '.join(map(repr, sorted(presets)))} (schemas/{PRESETS_FILE})"
            )
        if name in seen:
            raise ConfigError(f"preset {name!r} of schemas/{PRESETS_FILE} starts from itself ({' -> '.join(seen)})")
        seen.append(name)
        own = {k: v for k, v in block.items() if k != "preset"}
        block = _merged(presets[name], own)
        where = f"schemas/{PRESETS_FILE}: {name}"
    return _in_schema_order(block, _sub_schema(schema_dir / "synthetic.schema.yaml"))


def _in_schema_order(value: Any, schema: dict) -> Any:
    """`value` with the keys of every mapping in the order of the schema's properties (others
    after them): the order a full block written in that order has, whatever the preset's."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(value, dict) or not props:
        return value
    keys = [k for k in props if k in value] + [k for k in value if k not in props]
    return {k: _in_schema_order(value[k], props.get(k, {})) for k in keys}


def expand_presets(config: dict[str, Any], schema_dir: Path = SCHEMA_DIR) -> None:
    """Every area's ``synthetic`` block with its preset expanded (expand_preset), in place."""
    areas = config.get("areas")
    if not isinstance(areas, dict):
        return
    for name, area in areas.items():
        if isinstance(area, dict) and "synthetic" in area:
            area["synthetic"] = expand_preset(area["synthetic"], f"areas.{name}.synthetic", schema_dir)


def _filling_defaults(validator_class: type) -> type:
    """A validator class that also sets the schema's `default:` of every absent property (the
    jsonschema documentation's recipe), so that defaults live in the schema, documented, and the
    rules see them in `config` (and pass them through `params:`) like any value set by hand."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001, ANN202
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_config(
    config: dict[str, Any],
    schema_dir: Path = SCHEMA_DIR,
    produced: Callable[[str], bool] | None = None,
) -> None:
    """Raise ConfigError with one line for the most relevant schema violation, plus checks the
    schema cannot express (revisits within the acquisitions after the event, bbox on Earth and
    not across the antimeridian, area size, class edges increasing, split fractions summing to
    one half, the files of `source: file` present, the chips each area gives: _check_chip_counts).
    Absent optional keys get the schema's documented `default:` values, in place.

    `produced(path)` says whether a rule of the workflow makes a file that does not exist yet
    (default: `generated_by_pipeline`, the synthetic events' files). An area's
    ``synthetic: {preset: NAME, ...}`` is first expanded in place (expand_presets), and dates or
    times the YAML loader made of unquoted values become ISO strings (normalise_times)."""
    normalise_times(config)
    expand_presets(config, schema_dir)
    validator = _filling_defaults(jsonschema.Draft202012Validator)(load_schema(schema_dir))
    error = _first_error(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))
    _check_chips_and_splits(config)
    for name, area in config["areas"].items():
        check_area(name, area)
        check_area_size(name, area, config["limits"]["max_area_km2"])
    _check_source_files(config, produced or generated_by_pipeline(config))
    _check_density_areas(config)
    for name, area in config["areas"].items():
        if name not in config["density"]["areas"] and name not in _model_rapid_areas(config):
            continue  # no density experiment reads its revisits (e.g. a detection region, a label-free area)
        n_post = area["sentinel1"]["acquisitions_post"]
        wanted = max(config["density"]["revisits"])  # density.map's, when named, is one of them (below)
        if wanted > n_post:
            raise ConfigError(
                f"config density.revisits = {wanted} is not allowed for area {name}; "
                f"expected at most areas.{name}.sentinel1.acquisitions_post = {n_post}"
            )
    _check_rapid_response(config)
    if "detection" in config:
        _check_detection(config["detection"], list(config["areas"]))
    _check_chip_counts(config)
    window = config["label_free"]["window_px"]
    if window % 2 == 0:
        raise ConfigError(f"config label_free.window_px = {window} is not allowed; expected an odd number of pixels")
    map_exp = config["density"]["map"]
    if map_exp != "best" and (
        map_exp["inputs"] not in config["density"]["inputs"] or map_exp["revisits"] not in config["density"]["revisits"]
    ):
        raise ConfigError(
            f"config density.map = {map_exp} is not allowed; expected one of the experiments in "
            f"density.inputs {config['density']['inputs']} x density.revisits {config['density']['revisits']}"
        )


def _check_chips_and_splits(config: dict[str, Any]) -> None:
    """Class edges increasing; train + val fractions one half (each half splits into train/val)."""
    edges = config["chips"]["density_class_edges_per_km2"]
    if not edges[0] < edges[1]:
        raise ConfigError(
            f"config chips.density_class_edges_per_km2 = {edges} is not allowed; expected two increasing "
            "values [upper edge of class 0, upper edge of class 1] per km², e.g. [0, 25]"
        )
    sp = config["splits"]
    total = sp["train_fraction"] + sp["val_fraction"]
    if abs(total - 0.5) > 1e-9:
        raise ConfigError(
            f"config splits.train_fraction + splits.val_fraction = {sp['train_fraction']} + {sp['val_fraction']} "
            f"= {total:g} is not allowed; expected 0.5 (each of the two random halves is split into train and val)"
        )


def _iso(value: date) -> str:
    """A date or datetime as the ISO string it was written as (UTC spelt ``Z``)."""
    text = value.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def normalise_times(config: Any) -> Any:
    """`config` with every date or datetime (what a YAML loader makes of an unquoted
    ``event_time: 2017-09-20`` or ``search_end: 2023-10-20T00:00:00Z``) replaced by its ISO string,
    in place, at any depth: a time is accepted quoted or not, in the main config and every area."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(config, dict):
        items = list(config.items())
    elif isinstance(config, list):
        items = list(enumerate(config))
    else:
        return config
    for key, value in items:
        if isinstance(value, date):  # datetime is a date
            config[key] = _iso(value)
        else:
            normalise_times(value)
    return config


def zone_less_times(config: dict[str, Any]) -> list[str]:
    """One line per configured time without a zone (``2017-09-20``, ``2017-09-20T06:00:00``):
    such a time is taken as UTC, and the line says so (rules/common.smk prints it once)."""
    lines = []
    for name, area in config.get("areas", {}).items():
        keys = [("event_time", area.get("event_time"))]
        keys += [(f"sentinel1.{k}", area.get("sentinel1", {}).get(k)) for k in ("search_start", "search_end")]
        for key, value in keys:
            if not isinstance(value, str):
                continue
            try:
                t = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue  # refused by check_area
            if t.tzinfo is None:
                utc = t.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                lines.append(
                    f"config areas.{name}.{key} = {value!r} has no time zone: taken as UTC, {utc} "
                    f"(write {utc!r} to say so)"
                )
    return lines


def _check_chip_counts(config: dict[str, Any]) -> None:
    """What the config alone decides about the chips, before any job: chips.size a multiple of
    density.model.multilook; at least one chip on every density, rapid-response and detection area
    (chips.size, detection.chips.size within the area's grid); and enough chips per half on every
    density area for splits.min_train_chips / min_val_chips, even with every chip usable, and at
    least two blocks (one per half) under the blocked scheme (splits.block_km)."""
    from .chips import half_sizes
    from .grid import area_grid

    size = config["chips"]["size"]
    multilook = config["density"]["model"]["multilook"]
    if size % multilook:
        raise ConfigError(
            f"config chips.size = {size} is not allowed with density.model.multilook = {multilook}; expected a "
            f"multiple of {multilook} (the density net averages {multilook} x {multilook} pixels)"
        )
    areas = config["areas"]
    uses = {name: ("chips.size", size) for name in [*config["density"]["areas"], *_model_rapid_areas(config)]}
    if "detection" in config:
        d = config["detection"]
        regions = [d["within"]["region"], d["transfer"]["train_region"], d["transfer"]["test_region"]]
        uses.update({name: ("detection.chips.size", d["chips"]["size"]) for name in regions if name not in uses})
    sp = config["splits"]
    for name, (key, chip) in uses.items():
        area = areas.get(name)
        if not isinstance(area, dict) or is_datacube(area) or "bbox" not in area:
            continue  # a published datacube's grid is known only from the cube
        grid = area_grid(area["bbox"], area["resolution"])
        ny, nx = grid.height // chip, grid.width // chip
        on = f"areas.{name} ({grid.width} x {grid.height} px at {grid.resolution:g} m, bbox {list(area['bbox'])})"
        if ny == 0 or nx == 0:
            raise ConfigError(
                f"config {key} = {chip} is not allowed for {on}; expected at most "
                f"{min(grid.width, grid.height)} px, the area's shorter side"
            )
        if key == "chips.size" and name in config["density"]["areas"]:
            for k, (n_train, n_val) in enumerate(half_sizes(ny * nx, sp["val_fraction"])):
                if n_train < sp["min_train_chips"] or n_val < sp["min_val_chips"]:
                    raise ConfigError(
                        f"config chips.size = {chip} gives {on} {ny * nx} chip(s) ({ny} x {nx}); even with every "
                        f"chip usable, half {k} has {n_train} train and {n_val} validation chip(s), expected at "
                        f"least splits.min_train_chips = {sp['min_train_chips']} and splits.min_val_chips = "
                        f"{sp['min_val_chips']} (a smaller chips.size or a larger area give more chips)"
                    )
            if "blocked" in sp["schemes"]:
                side = max(1, math.ceil(sp["block_km"] / (chip * grid.resolution / 1000) - 1e-9))  # chips
                blocks = ((ny - 1) // side + 1) * ((nx - 1) // side + 1)
                if blocks < 2:
                    raise ConfigError(
                        f"config splits.block_km = {sp['block_km']:g} gives {on} {blocks} block of {side} x {side} "
                        f"chips ({ny} x {nx} chips of {chip} px); expected at least 2 blocks for the blocked "
                        "scheme's two halves (a smaller splits.block_km or chips.size, or a larger area)"
                    )


def check_area_size(name: str, area: dict[str, Any], max_km2: float) -> None:
    """An acquired area's grid (its bbox in UTM at its resolution) at most `max_km2` km²."""
    if is_datacube(area) or "bbox" not in area or "resolution" not in area:
        return
    from .grid import area_grid

    grid = area_grid(area["bbox"], area["resolution"])
    km2 = grid.width * grid.height * grid.resolution**2 / 1e6
    if km2 > max_km2:
        raise ConfigError(
            f"config areas.{name}.bbox = {list(area['bbox'])} covers {km2:,.0f} km² ({grid.width} x {grid.height} px "
            f"at {grid.resolution:g} m); expected at most limits.max_area_km2 = {max_km2:g} km² (raise it for "
            "a larger area)"
        )


def generated_by_pipeline(config: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a path is made by the workflow itself: the files rule generate_event writes under
    resources/<area>/synthetic/ for an area with a `synthetic` block."""
    folders = [os.path.join("resources", name, "synthetic") for name, a in config["areas"].items() if "synthetic" in a]

    def produced(path: str) -> bool:
        p = os.path.normpath(path)
        return any(os.path.dirname(p) == f for f in folders)

    return produced


def _check_source_files(config: dict[str, Any], produced: Callable[[str], bool]) -> None:
    """Every `source: file` path (dem, inventory) and datacube.path exists, or a rule makes it."""
    for name, area in config["areas"].items():
        entries = [
            (f"{kind}.path", area[kind].get("path"))
            for kind in ("dem", "inventory")
            if kind in area and area[kind]["source"] == "file"
        ]
        if is_datacube(area) and area.get("datacube", {}).get("path"):
            entries.append(("datacube.path", area["datacube"]["path"]))
        for key, path in entries:
            if path and not os.path.exists(path) and not produced(path):
                raise ConfigError(
                    f"config areas.{name}.{key} = {path!r} does not exist (working directory {os.getcwd()}); "
                    "expected an existing file"
                )


def is_datacube(area: dict[str, Any]) -> bool:
    """Whether the area's data come from a published datacube (not acquired)."""
    return area["sentinel1"]["source"] == "datacube"


def inventory_filename(area: dict[str, Any]) -> str:
    """File name of a downloaded inventory: `inventory.filename`, else the URL's last path part."""
    inv = area["inventory"]
    if inv.get("filename"):
        return inv["filename"]
    from urllib.parse import urlparse

    name = Path(urlparse(inv["url"]).path).name
    return name if "." in name else ""


def check_area(name: str, area: dict[str, Any]) -> None:
    """The checks on one area that the schema cannot express, as one ConfigError line each:
    the keys each source needs, bbox on Earth, the event inside an explicit search window."""
    from landslide_sar.errors import InputError
    from landslide_sar.grid import check_bbox
    from landslide_sar.products import product_of

    where = f"config areas.{name}"
    s1 = area["sentinel1"]
    if "bbox" in area:
        try:
            check_bbox(area["bbox"], where=f"{where}.bbox")
        except InputError as err:
            raise ConfigError(str(err)) from None
    try:
        event = datetime.fromisoformat(area["event_time"].replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{where}.event_time = {area['event_time']!r} is not an ISO 8601 time; expected e.g. 2017-09-20T00:00:00Z"
        ) from None
    event = event if event.tzinfo else event.replace(tzinfo=UTC)

    if is_datacube(area):
        cube = area.get("datacube")
        if not cube or bool(cube.get("url")) == bool(cube.get("path")):
            raise ConfigError(
                f"{where}.datacube is missing or ambiguous; expected exactly one of datacube.url or "
                "datacube.path when sentinel1.source is 'datacube'"
            )
        extra = [k for k in ("dem", "inventory", "resolution", "synthetic") if k in area]
        if extra:
            raise ConfigError(
                f"{where}.{extra[0]} is not allowed with sentinel1.source 'datacube'; the datacube holds SAR, "
                "DEM, labels and its own grid"
            )
        return
    if "datacube" in area:
        raise ConfigError(
            f"{where}.datacube is not allowed with sentinel1.source {s1['source']!r}; expected "
            "sentinel1.source 'datacube'"
        )
    for key in ("bbox", "resolution", "dem", "inventory"):
        if key not in area:
            raise ConfigError(f"{where}.{key} is missing; expected it when sentinel1.source is {s1['source']!r}")
    if s1["source"] == "stac" and not s1.get("collection"):
        raise ConfigError(f"{where}.sentinel1.collection is missing; expected a STAC collection, e.g. sentinel-1-rtc")
    product = product_of(s1, f"{where}.sentinel1")
    if product.orbit == "burst_id" and not s1.get("orbit_state"):
        raise ConfigError(
            f"{where}.sentinel1.orbit_state is missing; the items of {product.collection} do not say their orbit "
            "direction: expected ascending or descending"
        )
    if s1.get("search_start") or s1.get("search_end"):
        for key in ("search_start", "search_end"):
            value = s1.get(key)
            if value:
                try:
                    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                except ValueError:
                    raise ConfigError(f"{where}.sentinel1.{key} = {value!r} is not an ISO 8601 time") from None
                t = t if t.tzinfo else t.replace(tzinfo=UTC)
                if (key == "search_start" and t >= event) or (key == "search_end" and t <= event):
                    raise ConfigError(
                        f"{where}.event_time = {area['event_time']!r} is outside the search window "
                        f"(sentinel1.{key} = {value!r}); expected search_start < event_time < search_end"
                    )
    dem, inv = area["dem"], area["inventory"]
    if dem["source"] == "file" and not dem.get("path"):
        raise ConfigError(f"{where}.dem.path is missing; expected a file path when source is 'file'")
    if dem["source"] == "stac" and not dem.get("collection"):
        raise ConfigError(f"{where}.dem.collection is missing; expected a STAC collection, e.g. cop-dem-glo-30")
    if inv["source"] == "file" and not inv.get("path"):
        raise ConfigError(f"{where}.inventory.path is missing; expected a file path when source is 'file'")
    if inv["source"] == "url":
        if not inv.get("url"):
            raise ConfigError(f"{where}.inventory.url is missing; expected an http(s) URL when source is 'url'")
        if not inventory_filename(area):
            raise ConfigError(
                f"{where}.inventory.filename is missing; the URL {inv['url']!r} names no file, so set e.g. "
                "filename: landslides.zip"
            )
    if "synthetic" in (s1["source"], dem["source"], inv["source"]) and "synthetic" not in area:
        raise ConfigError(f"{where}.synthetic is missing; expected it when a source is 'synthetic'")


def _inventory_source(area: dict[str, Any]) -> str | None:
    """An area's inventory source; None for a published datacube (its labels are inside)."""
    return area["inventory"]["source"] if "inventory" in area else None


def _check_density_areas(config: dict[str, Any]) -> None:
    """The density grid runs on configured areas with an inventory (a published datacube holds its
    labels); region_a/region_b-like detection areas are left out of it explicitly."""
    areas = config["areas"]
    labelled = sorted(a for a in areas if _inventory_source(areas[a]) != "none")
    for name in config["density"]["areas"]:
        if name not in areas:
            raise ConfigError(
                f"config density.areas: no area {name!r}; expected areas with an inventory among {labelled}"
            )
        if name not in labelled:
            raise ConfigError(
                f"config density.areas: area {name!r} has no inventory (areas.{name}.inventory.source = 'none'); "
                f"expected areas with an inventory among {labelled}"
            )


#: The rapid-response methods: a trained area's models and forests, or the label-free detector.
RAPID_MODEL, RAPID_LABEL_FREE = "model", "label_free"
#: The keys that name the trained models (method model only).
RAPID_MODEL_KEYS = ("model_area", "inputs", "revisits")


def rapid_method(name: str, r: Mapping[str, Any]) -> str:
    """The method of rapid_response.<name> (`method`; absent: model with a model_area, label_free
    without), or a one-line ConfigError for a wrong combination: method model lacking model_area,
    inputs or revisits, method label_free with model_area or inputs (no trained model to name)."""
    where = f"config rapid_response.{name}"
    method = r.get("method", RAPID_MODEL if "model_area" in r else RAPID_LABEL_FREE)
    if method == RAPID_MODEL:
        missing = [k for k in RAPID_MODEL_KEYS if k not in r]
        if missing:
            raise ConfigError(
                f"{where}: method model needs {', '.join(missing)}; expected model_area, inputs and revisits naming "
                "the trained experiment, or method label_free (no trained model)"
            )
    elif method == RAPID_LABEL_FREE:
        named = [k for k in ("model_area", "inputs") if k in r]
        if named:
            raise ConfigError(
                f"{where}: {', '.join(named)} is not allowed with method label_free (it trains nothing); expected "
                "method model to map with a trained area's models, or no model_area and inputs"
            )
    else:
        raise ConfigError(f"{where}.method = {method!r} is not allowed; expected model or label_free")
    return method


def _model_rapid_areas(config: Mapping[str, Any]) -> list[str]:
    """The rapid-response areas of method model (chipped and mapped by a density experiment)."""
    return [n for n, r in config.get("rapid_response", {}).items() if rapid_method(n, r) == RAPID_MODEL]


def _check_rapid_response(config: dict[str, Any]) -> None:
    """Rapid-response areas have no inventory; method model: mapped by a trained area's
    experiment; method label_free: revisits at most the area's post-event acquisitions. Fills
    each area's `method`."""
    density = config["density"]
    for name, r in config.get("rapid_response", {}).items():
        where = f"config rapid_response.{name}"
        areas = config["areas"]
        if name not in areas:
            raise ConfigError(f"{where}: no area {name!r}; expected one of the areas {sorted(areas)}")
        if _inventory_source(areas[name]) != "none":
            raise ConfigError(
                f"{where}: areas.{name}.inventory.source = {_inventory_source(areas[name])!r}; expected 'none' "
                "for an area mapped without inventory"
            )
        r["method"] = rapid_method(name, r)
        if r["method"] == RAPID_LABEL_FREE:
            n_post = areas[name].get("sentinel1", {}).get("acquisitions_post")
            if "revisits" in r and (r["revisits"] < 1 or (n_post is not None and r["revisits"] > n_post)):
                raise ConfigError(
                    f"{where}.revisits = {r['revisits']} is not allowed; expected 1 to "
                    f"areas.{name}.sentinel1.acquisitions_post = {n_post} (post-event acquisitions read)"
                )
            continue
        src = r["model_area"]
        if src not in density["areas"]:
            raise ConfigError(
                f"{where}.model_area = {src!r} is not allowed; expected an area of density.areas {density['areas']}"
            )
        if r["inputs"] not in density["inputs"] or (r["inputs"] != "dem" and r["revisits"] not in density["revisits"]):
            raise ConfigError(
                f"{where} = {r['inputs']} with {r['revisits']} revisits is not allowed; expected an experiment of "
                f"density.inputs {density['inputs']} x density.revisits {density['revisits']}"
            )
    for name, area in config["areas"].items():
        if _inventory_source(area) == "none" and name not in config.get("rapid_response", {}):
            raise ConfigError(
                f"config areas.{name}.inventory.source = 'none' needs rapid_response.{name}; expected the "
                "trained area that maps it"
            )


def _check_detection(detection: dict[str, Any], areas: list[str]) -> None:
    """Detection regions are areas (train and test differ), chips.max_revisits covers every
    revisits of the grid, val + test fractions leave train chips, detection.map is one of the
    transfer experiments."""
    within, transfer = detection["within"], detection["transfer"]
    for where, region in (
        ("within.region", within["region"]),
        ("transfer.train_region", transfer["train_region"]),
        ("transfer.test_region", transfer["test_region"]),
    ):
        if region not in areas:
            raise ConfigError(f"config detection.{where} = {region!r} is not an area; expected one of {areas}")
    if transfer["train_region"] == transfer["test_region"]:
        raise ConfigError(
            f"config detection.transfer.test_region = {transfer['test_region']!r} is the training region; "
            "expected another area"
        )
    max_revisits = detection["chips"]["max_revisits"]
    wanted = max([*within["revisits"], transfer["revisits"]])
    lowest = min(max_revisits) if isinstance(max_revisits, list) else max_revisits
    if lowest is not None and wanted > lowest:
        raise ConfigError(
            f"config detection.chips.max_revisits = {max_revisits!r} is not allowed; expected at least the "
            f"largest revisits, {wanted}"
        )
    ch = detection["chips"]
    if ch["val_fraction"] + ch["test_fraction"] >= 1:
        raise ConfigError(
            f"config detection.chips.val_fraction + detection.chips.test_fraction = {ch['val_fraction']} + "
            f"{ch['test_fraction']} is not allowed; expected < 1 (the rest of the training region's chips train)"
        )
    m = detection.get("map")
    if (
        m is not None
        and m != "best"
        and (m["inputs"] not in transfer["inputs"] or m["augment"] not in transfer["augment"])
    ):
        raise ConfigError(
            f"config detection.map = {m} is not a transfer experiment; expected inputs in "
            f"detection.transfer.inputs {transfer['inputs']} and augment in detection.transfer.augment "
            f"{transfer['augment']}"
        )


def validate_section(value: Any, schema: dict, where: str) -> None:
    """Raise ConfigError with the one line validate_config would give for `value` at key path
    `where` (e.g. ``synthetic``) against `schema` (a sub-schema such as
    schemas/synthetic.schema.yaml): the same validator and wording for a block passed by hand
    (landslide_sar.synthetic.check_params) as for the block inside config.yaml."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = _first_error(validator.iter_errors(value))
    if error is not None:
        error.path.extendleft(reversed(where.split(".")))
        raise ConfigError(_describe(error))
