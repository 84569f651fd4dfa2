"""The conda environments match the code: every rule's script, followed through the library's
imports (also those inside functions), imports only what the rule's `conda:` env provides, and
every env pins what requirements.txt pins (the one place versions are chosen)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

#: Import name -> package name (conda-forge or PyPI) where they differ.
PACKAGE_OF = {
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "torch": "pytorch",
    "PIL": "pillow",
    "offlinefolium": "folium-offline",
    "pystac_client": "pystac-client",
    "planetary_computer": "planetary-computer",
}
#: Packages that a listed package brings with it (requirements.txt pins none of them).
BROUGHT_BY = {
    "pillow": "matplotlib",
    "joblib": "scikit-learn",
    "branca": "folium-offline",
    "jinja2": "folium-offline",
    "requests": "pystac-client",
    "urllib3": "pystac-client",
}
#: The names requirements.txt and conda-forge give one package.
REQUIREMENT_OF = {"pytorch": "torch"}


def rules_with_scripts() -> dict[str, tuple[str, str]]:
    """rule -> (env file, script) from rules/*.smk (snakefmt's layout: the value on the next line)."""
    out: dict[str, tuple[str, str]] = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            conda = re.search(r'^    conda:\n\s+"\.\./(envs/[^"]+)"', block, re.M)
            script = re.search(r'^    script:\n\s+"\.\./(workflow_scripts/[^"]+)"', block, re.M)
            if script:
                assert conda, f"rule {name} runs a script without a conda env"
                out[name] = (conda.group(1), script.group(1))
    return out


def _module_file(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def third_party_imports(script: Path) -> set[str]:
    """Top-level names of the non-standard-library modules `script` imports, following every
    landslide_sar module it reaches (package __init__ files included)."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if path.name != "__init__.py":
            package = package.rsplit(".", 1)[0] if "." in package else ""
        else:
            package = package.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top == "landslide_sar":
                    for k in range(1, len(name.split(".")) + 1):  # the package's __init__s too
                        f = _module_file(".".join(name.split(".")[:k]))
                        if f is not None:
                            todo.append(f)
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def env_packages(env_file: str) -> dict[str, str | None]:
    """package -> pinned version (None when unpinned) of an env file, conda and pip entries."""
    env = yaml.safe_load((ROOT / env_file).read_text())
    out: dict[str, str | None] = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:==?\s*([^\s#]+))?", entry)
            if m and not entry.startswith("-"):
                out[m.group(1).lower()] = m.group(2)
    return out


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


RULES = rules_with_scripts()


def test_every_scripted_rule_is_found() -> None:
    assert {
        "download_sentinel1",
        "dem_derivatives",
        "train_density",
        "train_detection",
        "density_figures",
        "web_map",
        "detection_map",
    } <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_env_provides_every_import_of_its_script(rule: str) -> None:
    env_file, script = RULES[rule]
    provided = env_packages(env_file)
    missing = []
    for name in sorted(third_party_imports(ROOT / script)):
        package = PACKAGE_OF.get(name, name).lower()
        if package not in provided and BROUGHT_BY.get(package) not in provided:
            missing.append(f"{name} ({package})")
    assert not missing, f"rule {rule} ({script}) imports {missing}, which {env_file} does not provide"


def test_import_walk_follows_the_library() -> None:
    """The walk reaches what train_detection needs through chips -> sentinel1 (pystac, stackstac)."""
    found = third_party_imports(ROOT / "workflow_scripts/train_detection.py")
    assert {"torch", "stackstac", "pystac", "xarray", "numpy"} <= found


@pytest.mark.parametrize("env_file", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "envs").glob("*.yaml")))
def test_env_pins_are_those_of_requirements(env_file: str) -> None:
    pins = requirement_pins()
    for package, version in env_packages(env_file).items():
        if package in ("python", "pip"):
            continue
        name = REQUIREMENT_OF.get(package, package)
        assert name in pins, f"{env_file}: {package} is not pinned in requirements.txt"
        assert version == pins[name], f"{env_file}: {package} {version}; requirements.txt pins {pins[name]}"
