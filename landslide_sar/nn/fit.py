"""The fit loop of a seed ensemble: every member trained at once, each exactly as it would be alone.

Member k is initialised under torch.manual_seed(seeds[k]) as a one-member module, draws its own
chip order from a generator seeded with seeds[k], has its own early stopping and keeps its own
best weights; the ensemble only shares the work (one grouped module, one optimiser step). A
member whose monitored value has not improved for `patience` epochs is dropped from the module,
so it costs nothing afterwards. What a net adds (loss, data, validation metrics) is a `Task`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn.ensemble import pack_states, select_members, unpack_state
from landslide_sar.nn.optim import Adam
from landslide_sar.nn.runtime import deterministic, progress

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


class Task(Protocol):
    """What a net supplies to the fit loop."""

    n_train: int

    def init_member(self, model: nn.Module) -> None:
        """Adjust a freshly initialised one-member module (e.g. a prior bias); may do nothing."""

    def train_losses(
        self, model: nn.Module, idx: torch.Tensor, epoch: int, members: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member losses (K,) of one step and their weights in the epoch's train loss; idx
        (K, B) holds each active member's train chip indices; members: their seed positions."""

    def validate(self, model: nn.Module, members: Sequence[int]) -> dict[str, np.ndarray]:
        """Per-member validation values (each (K,)), e.g. {"val_loss": ...}; {} without val chips."""


@dataclass
class FitConfig:
    """Settings of one ensemble fit; `monitor` names a value of Task.validate (or train_loss)."""

    seeds: list[int]
    max_epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    weight_decay: float = 0.0
    monitor: str = "val_loss"
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"training seeds={self.seeds}; expected a non-empty list of distinct integers")
        if min(self.max_epochs, self.batch_size, self.patience) < 1:
            raise InputError(
                f"max_epochs={self.max_epochs}, batch_size={self.batch_size}, patience={self.patience}; "
                "expected all >= 1"
            )


@dataclass
class FitResult:
    """Per member (in seed order): best weights (one-member state dicts), history, best epoch."""

    seeds: list[int]
    states: list[dict[str, torch.Tensor]]
    best_epoch: list[int]
    best_value: list[float]
    epochs_run: list[int]
    monitor: str
    histories: list[list[dict[str, float]]] = field(default_factory=list)
    train_seconds: float = 0.0

    def history_frame(self) -> pd.DataFrame:
        """Every member's history in one long table with a `seed` column."""
        rows = [{"seed": s, **h} for s, hist in zip(self.seeds, self.histories) for h in hist]
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """Plain values for the checkpoint (loadable with weights_only=True)."""
        return {
            "seeds": [int(s) for s in self.seeds],
            "best_epoch": [int(e) for e in self.best_epoch],
            "best_value": [float(v) for v in self.best_value],
            "epochs_run": [int(e) for e in self.epochs_run],
            "monitor": self.monitor,
            "train_seconds": float(self.train_seconds),
        }


def init_ensemble(build: Callable[[int], nn.Module], seeds: Sequence[int], task: Task | None = None) -> nn.Module:
    """An ensemble whose member k is the one-member module initialised under manual_seed(seeds[k])."""
    states = []
    for seed in seeds:
        torch.manual_seed(int(seed))
        member = build(1)
        if task is not None:
            task.init_member(member)
        states.append(member.state_dict())
    model = build(len(seeds))
    model.load_state_dict(pack_states(states))
    return model


def fit_ensemble(
    build: Callable[[int], nn.Module],
    task: Task,
    cfg: FitConfig,
    device: torch.device,
    name: str = "",
    *,
    vectorise: bool = True,
) -> FitResult:
    """Train len(cfg.seeds) members of `build(K)` with Adam, in one call; see the module docstring.

    vectorise: all members at once in one module (one grouped step); False trains them one after
    another (the same members, bit for bit, as each seed alone) where a grouped step measured
    slower than the members' own steps (the density net on a CPU: docs/benchmark_training.md)."""
    if not vectorise and len(cfg.seeds) > 1:
        parts = [fit_ensemble(build, task, replace(cfg, seeds=[s]), device, f"{name}seed {s}: ") for s in cfg.seeds]
        return FitResult(
            seeds=[int(s) for s in cfg.seeds],
            states=[p.states[0] for p in parts],
            best_epoch=[p.best_epoch[0] for p in parts],
            best_value=[p.best_value[0] for p in parts],
            epochs_run=[p.epochs_run[0] for p in parts],
            monitor=parts[0].monitor,
            histories=[p.histories[0] for p in parts],
            train_seconds=sum(p.train_seconds for p in parts),
        )
    seeds = [int(s) for s in cfg.seeds]
    n_members = len(seeds)
    with deterministic(seeds[0]):
        model = init_ensemble(build, seeds, task).to(device)
        opt = Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        active = list(range(n_members))
        sign = 1.0 if cfg.higher_is_better else -1.0
        best_value = [-np.inf] * n_members
        best_epoch = [0] * n_members
        best_states = unpack_state(model.state_dict(), n_members)
        stale = [0] * n_members
        histories: list[list[dict[str, float]]] = [[] for _ in seeds]
        monitor = cfg.monitor
        t_train = time.perf_counter()
        for epoch in range(1, cfg.max_epochs + 1):
            t0 = time.perf_counter()
            model.train()
            perm = torch.stack([torch.randperm(task.n_train, generator=gens[k]) for k in active])
            loss_sum = torch.zeros(len(active), dtype=torch.float64)
            weight_sum = torch.zeros(len(active), dtype=torch.float64)
            bar = progress(range(0, task.n_train, cfg.batch_size), desc=f"{name}epoch {epoch}/{cfg.max_epochs}")
            for s in bar:
                losses, weights = task.train_losses(model, perm[:, s : s + cfg.batch_size], epoch, active)
                opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                opt.step()
                loss_sum += losses.detach().double().cpu() * weights.double().cpu()
                weight_sum += weights.double().cpu()
                bar.set_postfix(loss=f"{float(losses.detach().mean()):.4f}", refresh=False)
            bar.close()
            train_loss = (loss_sum / weight_sum.clamp_min(1e-300)).numpy()
            values = task.validate(model, active)
            if epoch == 1 and not values and monitor != "train_loss":
                logger.warning("%sno val chips: early stopping and model selection use the train loss", name)
                monitor, sign = "train_loss", -1.0
            seconds = time.perf_counter() - t0
            state = None
            stopped = []
            for j, k in enumerate(active):
                row = {
                    "epoch": epoch,
                    "train_loss": float(train_loss[j]),
                    **{key: float(v[j]) for key, v in values.items()},
                    "seconds": seconds,
                }
                histories[k].append(row)
                value = row[monitor]
                improved = bool(np.isfinite(value)) and sign * value > best_value[k]
                if improved:
                    if state is None:
                        state = unpack_state(model.state_dict(), len(active))
                    best_value[k], best_epoch[k], best_states[k], stale[k] = sign * value, epoch, state[j], 0
                else:
                    stale[k] += 1
                logger.info(
                    "%sseed %d epoch %d: %s, %.2f s%s",
                    name,
                    seeds[k],
                    epoch,
                    ", ".join(f"{key} {v:.4f}" for key, v in row.items() if key not in ("epoch", "seconds")),
                    seconds,
                    " (best)" if improved else "",
                )
                if stale[k] >= cfg.patience:
                    logger.info(
                        "%sseed %d: no %s improvement for %d epochs, stopping", name, seeds[k], monitor, cfg.patience
                    )
                    stopped.append(k)
            if stopped:
                keep = [j for j, k in enumerate(active) if k not in stopped]
                active = [active[j] for j in keep]
                if not active:
                    break
                model, opt = select_members(model, opt, len(keep) + len(stopped), keep, build)
        train_seconds = time.perf_counter() - t_train
    result = FitResult(
        seeds=seeds,
        states=best_states,
        best_epoch=best_epoch,
        best_value=[sign * v for v in best_value],
        epochs_run=[len(h) for h in histories],
        monitor=monitor,
        histories=histories,
        train_seconds=train_seconds,
    )
    logger.info(
        "%strained %d member(s) in %.1f s; epochs %s, best epochs %s, best %s %s",
        name,
        n_members,
        train_seconds,
        result.epochs_run,
        best_epoch,
        monitor,
        [round(v, 4) for v in result.best_value],
    )
    return result


def save_checkpoint(path: PathLike, checkpoint: dict[str, Any]) -> None:
    """torch.save of tensors and plain containers only (so it loads with weights_only=True), atomically."""
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path: PathLike) -> dict[str, Any]:
    """A checkpoint written by save_checkpoint; weights_only=True: loading never runs code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_history(path: PathLike, result: FitResult) -> None:
    """The members' histories as one CSV (seed, epoch, train_loss, validation values, seconds)."""
    with atomic_path(path) as tmp:
        result.history_frame().to_csv(tmp, index=False)
