"""The shared training core (landslide_sar.nn): its Adam is torch's, without the compiler imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from landslide_sar.nn.optim import Adam


def _train(optimiser: type, weight_decay: float, steps: int = 25) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 1, 1))
    opt = optimiser(model.parameters(), lr=0.01, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(2, 3, 8, 8, generator=gen)
        opt.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_equals_torch_optim_adam_bit_for_bit(weight_decay: float) -> None:
    ours, theirs = _train(Adam, weight_decay), _train(torch.optim.Adam, weight_decay)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert not torch.equal(ours[0], _train(Adam, weight_decay, steps=0)[0])  # it did train


def test_adam_skips_parameters_without_gradient() -> None:
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt = Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert torch.all(a < 1) and torch.equal(b.detach(), torch.ones(3)) and b not in opt.state


def test_a_fit_does_not_import_the_compiler() -> None:
    """torch.optim.Optimizer imports torch._dynamo (3 s per job); the fit loop must not."""
    code = """
import sys, numpy as np, torch
from landslide_sar.nn.fit import FitConfig, fit_ensemble

class Task:
    n_train = 8
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(8, 2, generator=g), torch.randn(8, generator=g)
    def init_member(self, model): pass
    def train_losses(self, model, idx, epoch, members):
        out = model(self.x[idx[0]])[:, 0]
        return ((out - self.y[idx[0]]) ** 2).mean().reshape(1), torch.ones(1)
    @torch.no_grad()
    def validate(self, model, members):
        return {"val_loss": np.array([float(((model(self.x)[:, 0] - self.y) ** 2).mean())])}

cfg = FitConfig(seeds=[0], max_epochs=3, batch_size=4, learning_rate=0.01, patience=2)
res = fit_ensemble(lambda k: torch.nn.Linear(2, 1), Task(), cfg, torch.device("cpu"))
assert res.epochs_run == [3], res.epochs_run
print("torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


@pytest.mark.parametrize(
    ("script", "absent"),
    [
        # every detection job imports these: sklearn (1.2 s), rioxarray (0.5 s), stackstac and
        # scipy.stats are used by other rules only
        ("train_detection.py", ("sklearn", "rioxarray", "stackstac", "pystac_client", "scipy.stats")),
        ("train_density.py", ("sklearn", "rioxarray", "stackstac", "geopandas", "scipy.stats")),
    ],
)
def test_training_scripts_import_only_what_they_use(script: str, absent: tuple[str, ...]) -> None:
    """A training job starts a Python process that imports its script's modules: libraries it
    never calls must not be among them (they cost seconds of every one of 68 jobs)."""
    path = Path(__file__).resolve().parents[1] / "workflow_scripts" / script
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("rule_script", {str(path)!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(" ".join(m for m in {absent!r} if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{script} imports {out.stdout.strip()}"
