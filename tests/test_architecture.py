"""The house rules, checked by their tools: the library's import layers and independence
(import-linter contracts in pyproject.toml), ruff's lint and format, snakefmt, and no
`# fmt: skip` left in the library and its scripts. Each runs the tool from the test environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CODE = ["landslide_sar", "workflow_scripts", "tests", "tools"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True, check=False)


def test_import_contracts_are_kept() -> None:
    proc = run("lint-imports")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    "module, line, expected",
    [
        # a core module importing a branch breaks the layers
        ("grid.py", "from landslide_sar.density import experiments", "landslide_sar.grid is not allowed to import"),
        # two siblings importing each other: a cycle (as cube -> terrain -> sentinel1 -> cube was)
        ("stats.py", "from landslide_sar import webmap", "No cycles are allowed in landslide_sar."),
    ],
)
def test_a_broken_contract_is_caught(tmp_path, module: str, line: str, expected: str) -> None:
    """The contracts can fail: on a copy of the library with one import added."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "landslide_sar", copy / "landslide_sar", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    path = copy / "landslide_sar" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa: E402, F401\n")
    proc = subprocess.run(
        [str(BIN / "lint-imports")],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": str(BIN)},
    )
    assert proc.returncode != 0 and expected in proc.stdout, proc.stdout[-2000:]


def test_ruff_check_is_clean() -> None:
    proc = run("ruff", "check", *CODE)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_is_clean() -> None:
    proc = run("ruff", "format", "--check", *CODE)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_snakefmt_is_clean() -> None:
    proc = run("snakefmt", "--check", "Snakefile", "rules")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("folder", ["landslide_sar", "workflow_scripts"])
def test_no_format_exemptions(folder: str) -> None:
    found = [
        f"{p.relative_to(ROOT)}:{no}"
        for p in sorted((ROOT / folder).rglob("*.py"))
        for no, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"#\s*fmt:\s*(skip|off)", line)
    ]
    assert not found, found


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "workflow_scripts").glob("*.py")))
def test_a_workflow_script_only_wires(script: str) -> None:
    """The top layer: a script imports only the library, calls one library function through
    run_rule, defines no function but main, and reads the config only through params."""
    import ast

    source = (ROOT / "workflow_scripts" / script).read_text()
    tree = ast.parse(source)
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert all(m.startswith("landslide_sar") for m in modules), modules
    functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert functions == ["main"], functions
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "run_rule"]
    assert len(calls) == 1
    assert "snakemake.config" not in source
