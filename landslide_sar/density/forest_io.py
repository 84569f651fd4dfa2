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

from sklearn.ensemble import RandomForestClassifier

from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: Types a forests file may hold beyond skops' defaults (builtins, numpy, scikit-learn estimators).
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)
#: The file's top-level layout: one forest per half.
FORMAT = "landslide-sar forests v1"


def save_forests(forests: dict[int, RandomForestClassifier], path: PathLike) -> None:
    """Write both halves' forests ({0: forest, 1: forest}) to a skops file (atomically)."""
    import skops.io as sio

    if sorted(forests) != [0, 1] or not all(isinstance(f, RandomForestClassifier) for f in forests.values()):
        raise InputError(f"forests: expected {{0: RandomForestClassifier, 1: RandomForestClassifier}}, got {sorted(forests)}")
    with atomic_path(path) as tmp:
        sio.dump({"format": FORMAT, "half0": forests[0], "half1": forests[1]}, tmp)


def load_forests(path: PathLike) -> dict[int, RandomForestClassifier]:
    """Both halves' forests from a file written by `save_forests`; InputError (one line naming the
    file) for anything else: not a skops file (e.g. a pickle), a type outside the trusted list,
    or another layout."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise InputError(f"{path}: not a skops forests file ({type(err).__name__}: {err}); expected one written by evaluate_density") from None
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
    if not (isinstance(obj, dict) and obj.get("format") == FORMAT
            and all(isinstance(obj.get(f"half{k}"), RandomForestClassifier) for k in (0, 1))):  # fmt: skip
        raise InputError(f"{path}: not a forests file of this pipeline; expected {{format: {FORMAT!r}, half0, half1}} (random forests)")
    log.info("loaded the forests of %s", path)
    return {0: obj["half0"], 1: obj["half1"]}
