"""One name per concept: the names of earlier versions are gone from the code, the configs, the
docs and the tests (they live on only in CHANGELOG.md and in the test that an old config key is
refused as unknown), and every rule is named like its script."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: old name -> the name that replaced it (post-event acquisitions: revisits; input set: inputs;
#: pre/post for identifiers; rules named like their scripts)
OLD_NAMES = {
    "band_set": "inputs",
    "time_steps": "revisits",
    "max_steps": "max_revisits",
    "n_steps": "revisits",
    "n_after": "revisits / n_post",
    "n_before": "n_pre",
    "vvvh": "sar",
    "sar_dem": "fused",
    "acquisitions_before": "acquisitions_pre",
    "acquisitions_after": "acquisitions_post",
    "sar_before": "sar_pre",
    "sar_after": "sar_post",
    "detection_train": "train_detection",
    "download_file": "download_inventory",
    "make_report": "density_figures",
    "auprc_vs_timesteps": "auprc_vs_revisits",
    "bootstrap_samples": "bootstrap.samples",
}
#: a rule sharing another stage's script (the rapid-response variant of the same step)
SHARED_SCRIPTS = {"rapid_map": "density_map"}


def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    keep = (".py", ".smk", ".yaml", ".yml", ".md", ".rst", ".toml", ".sh", ".txt")
    return [ROOT / p for p in out if (p.endswith(keep) or p == "Snakefile") and (ROOT / p).is_file()]


def test_old_names_are_gone_but_for_the_changelog() -> None:
    pattern = re.compile(r"\b(" + "|".join(OLD_NAMES) + r")\b")
    found = []
    for path in tracked_text_files():
        if path in (Path(__file__).resolve(), ROOT / "CHANGELOG.md"):
            continue
        for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = pattern.search(line)
            if not m:
                continue
            if path.name == "test_config.py" and re.search(r'^\s*\("[\w.]+", "\w+", "\w+"\),', line):
                continue  # the parametrised test that an old key fails naming the new one
            found.append(f"{path.relative_to(ROOT)}:{no}: {m.group(1)} (now {OLD_NAMES[m.group(1)]})")
    assert not found, "\n".join(found)


def rule_scripts() -> dict[str, str]:
    """rule name -> script stem, from rules/*.smk."""
    pairs = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        rule = None
        for line in smk.read_text().splitlines():
            if m := re.match(r"(?:rule|checkpoint) (\w+):", line):
                rule = m.group(1)
            elif rule and (m := re.search(r'"\.\./workflow_scripts/(\w+)\.py"', line)):
                pairs[rule] = m.group(1)
    return pairs


def test_every_rule_is_named_like_its_script() -> None:
    pairs = rule_scripts()
    assert {"train_detection", "download_inventory", "density_figures"} <= set(pairs)
    wrong = {r: s for r, s in pairs.items() if s != SHARED_SCRIPTS.get(r, r)}
    assert not wrong, wrong
    scripts = {p.stem for p in (ROOT / "workflow_scripts").glob("*.py")}
    assert scripts == set(pairs.values()), scripts ^ set(pairs.values())  # no script without its rule


@pytest.mark.parametrize("name", ["Acquisition"])
def test_one_class_per_name_in_the_library(name: str) -> None:
    defined = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "landslide_sar").rglob("*.py")
        if re.search(rf"^class {name}\b", p.read_text(), re.M)
    ]
    assert defined == ["landslide_sar/sentinel1.py"], defined
