"""Configuration checks: the JSON schema in schemas/, reported as one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


class ConfigError(ValueError):
    """A config value the schema does not allow; the message names key, value and what is allowed."""


def load_schema(schema_dir: Path = SCHEMA_DIR) -> dict:
    """The main schema with the sub-schemas it references by file name inlined under $defs."""
    schema = yaml.safe_load((schema_dir / "config.schema.yaml").read_text())
    area = schema["$defs"]["area"]["properties"]
    for key, sub in list(area.items()):
        ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
        if ref.endswith(".yaml"):
            name = Path(ref).stem.replace(".schema", "")
            schema["$defs"][name] = yaml.safe_load((schema_dir / ref).read_text())
            area[key] = {"$ref": f"#/$defs/{name}"}
    return schema


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        return f"config key {where}{extra[0] if extra else '?'} is not allowed; allowed keys at {key}: {', '.join(allowed)}"
    if v == "required":
        return f"config {key}: {error.message}"
    if v == "enum":
        return f"config {key} = {error.instance!r} is not allowed; allowed: {', '.join(map(repr, error.validator_value))}"
    limits = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if v in limits:
        return f"config {key} = {error.instance!r} is not allowed; expected a value {limits[v]} {error.validator_value}"
    if v == "type":
        return f"config {key} = {error.instance!r} is not allowed; expected type {error.validator_value}"
    return f"config {key} = {error.instance!r}: {error.message}"


def validate_config(config: dict[str, Any], schema_dir: Path = SCHEMA_DIR) -> None:
    """Raise ConfigError with one line for the most relevant schema violation, plus checks the
    schema cannot express (revisits within the acquisitions after the event, bbox on Earth)."""
    from .grid import InputError, check_bbox

    validator = jsonschema.Draft202012Validator(load_schema(schema_dir))
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))
    for name, area in config["areas"].items():
        try:
            check_bbox(area["bbox"], where=f"config areas.{name}.bbox")
        except InputError as err:
            raise ConfigError(str(err)) from None
        after = area["sentinel1"]["acquisitions_after"]
        wanted = max([*config["density"]["revisits"], config["density"]["map"]["revisits"]])
        if wanted > after:
            raise ConfigError(
                f"config density.revisits = {wanted} is not allowed for area {name}; "
                f"expected at most areas.{name}.sentinel1.acquisitions_after = {after}"
            )
        for kind in ("dem", "inventory"):
            src = area[kind]
            if src["source"] == "file" and not src.get("path"):
                raise ConfigError(f"config areas.{name}.{kind}.path is missing; expected a file path when source is 'file'")
        if "synthetic" in (area["sentinel1"]["source"], area["dem"]["source"], area["inventory"]["source"]) and "synthetic" not in area:
            raise ConfigError(f"config areas.{name}.synthetic is missing; expected it when a source is 'synthetic'")
    map_exp = config["density"]["map"]
    if map_exp["inputs"] not in config["density"]["inputs"] or map_exp["revisits"] not in config["density"]["revisits"]:
        raise ConfigError(
            f"config density.map = {map_exp} is not allowed; expected one of the experiments in "
            f"density.inputs {config['density']['inputs']} x density.revisits {config['density']['revisits']}"
        )
