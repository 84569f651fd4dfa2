"""Random forests saved and loaded without pickle: skops.io, with a list of trusted types.

Rapid response applies forests trained elsewhere; a pickle (joblib) from someone else runs any
code it names when it is loaded. A skops file is a zip of JSON and numpy arrays; loading it builds
only the types it lists, and anything beyond the scikit-learn forest types (a function such as
os.system, any other class) is refused before anything is built.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping

import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from landslide_sar.density.evaluate import (
    check_forest_cfg,
    fit_half_forest,
    member_seeds,
    read_features,
    train_val_table,
)
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: Types a forests file may hold beyond skops' defaults (builtins, numpy, scikit-learn estimators).
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)
#: The file's top-level layout: per member (training seed) one forest per half.
FORMAT = "landslide-sar forests v2"
Forests = dict[int, dict[int, RandomForestClassifier]]


def save_forests(forests: Forests, path: PathLike) -> None:
    """Write every member's forests of both halves ({seed: {0: forest, 1: forest}}) to a skops
    file (atomically)."""
    import skops.io as sio

    ok = forests and all(
        sorted(h) == [0, 1] and all(isinstance(f, RandomForestClassifier) for f in h.values()) for h in forests.values()
    )
    if not ok:
        raise InputError(
            f"forests: expected {{seed: {{0: RandomForestClassifier, 1: RandomForestClassifier}}}}, got "
            f"{forests!r:.200}"
        )
    payload = {"format": FORMAT, "seeds": [int(s) for s in forests]}
    payload.update({f"seed{int(s)}_half{k}": h[k] for s, h in forests.items() for k in (0, 1)})
    with atomic_path(path) as tmp:
        sio.dump(payload, tmp)


def load_forests(path: PathLike) -> Forests:
    """Every member's forests from a file written by `save_forests`; InputError (one line naming
    the file) for anything else: not a skops file (e.g. a pickle), a type outside the trusted
    list, or another layout."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise InputError(
            f"{path}: not a skops forests file ({type(err).__name__}: {err}); expected one written by density_forests"
        ) from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise InputError(
            f"{path}: holds type(s) {refused} that are not trusted; refused without loading "
            f"(a forests file holds scikit-learn forests only: {list(TRUSTED_TYPES)} beyond skops' defaults)"
        )
    try:
        obj = sio.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways
        raise InputError(f"{path}: could not be read as a forests file ({type(err).__name__}: {err})") from None
    seeds = obj.get("seeds") if isinstance(obj, dict) else None
    if not (
        obj.get("format") == FORMAT
        and isinstance(seeds, list)
        and seeds
        and all(isinstance(obj.get(f"seed{s}_half{k}"), RandomForestClassifier) for s in seeds for k in (0, 1))
    ):
        raise InputError(
            f"{path}: not a forests file of this pipeline; expected "
            f"{{format: {FORMAT!r}, seeds, seed<s>_half<k>}} (random forests)"
        )
    log.info("loaded the forests of %s (seeds %s)", path, seeds)
    return {int(s): {k: obj[f"seed{s}_half{k}"] for k in (0, 1)} for s in seeds}


def density_forests(
    chips_table: PathLike | pd.DataFrame,
    features_half0: PathLike | pd.DataFrame,
    features_half1: PathLike | pd.DataFrame,
    forest_cfg: Mapping,
    forests_out: PathLike,
    *,
    threads: int = 1,
) -> dict[int, dict[int, RandomForestClassifier]]:
    """Every member's forests of both halves ({seed: {half: forest}}), fitted exactly as
    evaluate_density fits them (same chips, features and seed, so the same trees), saved for rapid
    response on areas without inventory (skops, see density.forest_io: loading never runs code).
    A rule of its own, for the one experiment rapid response uses: serialising 1,800 trees took
    most of every evaluate_density job."""
    check_forest_cfg(forest_cfg)
    table = train_val_table(chips_table)
    frames = [read_features(features_half0), read_features(features_half1)]
    forests = {
        seed: {k: fit_half_forest(table, frames[k][seed], k, forest_cfg, threads)[0] for k in (0, 1)}
        for seed in member_seeds(frames, "density_forests")
    }
    save_forests(forests, forests_out)
    log.info("saved the forests of seeds %s (halves 0 and 1) to %s", sorted(forests), forests_out)
    return forests
