"""Packaging and user-facing text: `pip install .` declares every dependency requirements.txt
pins, the license is an SPDX expression with its LICENSE file, and no user-facing file speaks of
the project's internal issue numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

from conftest import ROOT


def _requirements() -> tuple[list[str], list[str]]:
    runtime, dev = (ROOT / "requirements.txt").read_text().split("# development and tests")
    names = lambda text: [m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", text, re.M)]  # noqa: E731
    return names(runtime), names(dev)


def test_pyproject_declares_the_pinned_packages_and_an_spdx_license(tmp_path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = _requirements()
    assert project["dependencies"] == runtime
    assert project["optional-dependencies"]["test"] == dev
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    # the metadata setuptools builds (what pip installs from): Requires-Dist and License-Expression
    code = "import sys; from setuptools import build_meta as b; print(b.prepare_metadata_for_build_wheel(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    meta = (tmp_path / out.stdout.strip().splitlines()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in meta
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.\-]+)$", meta, re.M)
    assert requires == runtime


def test_no_issue_numbers_in_user_facing_files() -> None:
    files = [ROOT / "README.md", ROOT / "Snakefile", ROOT / "config.yaml", ROOT / "pyproject.toml"]
    for folder in (
        "docs",
        "config",
        "rules",
        "schemas",
        "report",
        "workflow_scripts",
        "landslide_sar",
        "profiles",
        "envs",
        "tools",
    ):
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in (".md", ".rst", ".smk", ".yaml", ".py", ".sh", "")
        ]
    hits = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in files
        for m in re.finditer(r"\bissues? #?\d+", p.read_text(errors="ignore"), re.I)
    ]
    assert not hits, hits
