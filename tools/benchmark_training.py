"""Training throughput of the density net and the detection U-Net against this machine's sgemm.

Prints, in one run (Markdown tables, figures not pass/fail):
1. the sgemm rate of torch here (2048 x 2048 float32) on 1 and 2 threads;
2. per net and input (density: each input set at the default 128 px chips and batch 8, as the fit
   loop runs it: multilooked once, nn.optim.Adam; detection: the default 64 px at batch 4 and
   128 px at batch 16), on 1 and 2 threads: FLOPs per sample of a training step
   (forward + backward, torch.utils.flop_counter.FlopCounterMode), samples/s, achieved GFLOP/s
   and its ratio to an sgemm measured right before it (so a loaded machine shifts both alike),
   for one model and for a 3-member ensemble (the default run's seeds), and layout variants
   (channels_last, undilated convs, batch 32);
3. the K = 1, 3, 5 ensemble against K separate trainings of the same members (wall time of a
   fixed number of epochs of the real fit loop, no early stopping), density and detection.

Usage: .venv/bin/python tools/benchmark_training.py [--device cpu|cuda] [--quick]
The figures of a run go to docs/benchmark_training.md by hand, with machine, date and load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from landslide_sar.density.model import DensityNet, block_counts, loss_from_sums, multilook_chips, weighted_loss_sums
from landslide_sar.density.train import DensityTask
from landslide_sar.detection.data import ChipArrays
from landslide_sar.detection.model import ResNetUNet
from landslide_sar.detection.train import DetectionTask, member_cross_entropy
from landslide_sar.nn.fit import FitConfig, fit_ensemble
from landslide_sar.nn.optim import Adam

DENSITY_MODEL = {"width": 16, "depth": 3, "multilook": 4}  # config.yaml's density.model
DETECTION_MODEL = {"base_width": 8, "depth": 3, "blocks_per_stage": 1}  # config.yaml's detection.model
DENSITY_INPUTS = {"DEM only": (4, 0), "SAR only, 3 revisits": (0, 12), "fused, 3 revisits": (4, 12)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def sgemm_gflops(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """Median rate of an n x n float32 matrix product (GFLOP/s)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    times = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def step_rate(step: Callable[[], None], device: torch.device, reps: int) -> float:
    """Median seconds of one call of `step` after one warm-up call."""
    step()
    times = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def density_step(
    n_dem: int,
    n_sar: int,
    members: int,
    batch: int,
    px: int,
    device: torch.device,
    *,
    dilated: bool = True,
    channels_last: bool = False,
    multilook: int = DENSITY_MODEL["multilook"],
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one training step, one forward+backward for the FLOP counter) of the density net as the
    fit loop runs it (density.train.DensityTask): chips of `px` multilooked once beforehand, the
    loss on the coarse output with per-block label counts, nn.optim.Adam."""
    model = DensityNet(
        n_dem,
        n_sar,
        DENSITY_MODEL["width"],
        DENSITY_MODEL["depth"],
        dilated=dilated,
        multilook=multilook,
        members=members,
    )
    model = model.to(device)
    x = multilook_chips(torch.randn(batch, members, n_dem + n_sar, px, px, device=device), multilook)
    y = torch.rand(batch, members, px, px, device=device) > 0.99
    pos, neg = block_counts(y, torch.ones_like(y), multilook)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = Adam(model.parameters(), lr=1e-3)

    def fwd_bwd() -> None:
        loss_from_sums(*weighted_loss_sums(model(x, multilooked=True), pos, neg)).sum().backward()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        fwd_bwd()
        opt.step()

    return step, fwd_bwd


def detection_step(
    members: int, batch: int, px: int, device: torch.device, *, channels_last: bool = False, n_in: int = 7
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one training step, one forward+backward) of the detection U-Net (SAR+DEM: 7 channels)."""
    model = ResNetUNet(n_in, **DETECTION_MODEL, members=members).to(device)
    x = torch.randn(batch, members, n_in, px, px, device=device)
    t = (torch.rand(batch, members, px, px, device=device) > 0.97).long()
    w = torch.tensor([1.0, 1.0], device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = Adam(model.parameters(), lr=1e-3)

    def fwd_bwd() -> None:
        member_cross_entropy(model(x), t, w)[0].sum().backward()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        fwd_bwd()
        opt.step()

    return step, fwd_bwd


def flops(fwd_bwd: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fwd_bwd()
    return int(counter.get_total_flops())


def throughput_rows(device: torch.device, threads: list[int], reps: int, quick: bool) -> list[dict]:
    """One row per (net, input, variant, threads). FLOPs are counted on the one-member model and
    multiplied by K (FlopCounterMode over-counts grouped convolutions' backward)."""
    Make = Callable[[int], tuple[Callable[[], None], Callable[[], None]]]
    cases: list[tuple[str, str, int, int, Make]] = []  # net, label, members, batch, make(members)
    for name, (n_dem, n_sar) in DENSITY_INPUTS.items():
        for k in (1, 3):
            cases.append(
                ("density", f"{name}, K={k}", k, 8, lambda m, d=n_dem, s=n_sar: density_step(d, s, m, 8, 128, device))
            )
    fused = DENSITY_INPUTS["fused, 3 revisits"]
    if not quick:
        for ml in (1, 2):  # the default is DENSITY_MODEL's (4); 1 = every 10 m pixel
            cases.append(
                (
                    "density",
                    f"fused r3, K=1, multilook {ml}",
                    1,
                    8,
                    lambda m, ml=ml: density_step(*fused, m, 8, 128, device, multilook=ml),
                )
            )
        cases.append(
            (
                "density",
                "fused r3, K=1, channels_last",
                1,
                8,
                lambda m: density_step(*fused, m, 8, 128, device, channels_last=True),
            )
        )
        cases.append(
            (
                "density",
                "fused r3, K=1, undilated",
                1,
                8,
                lambda m: density_step(*fused, m, 8, 128, device, dilated=False),
            )
        )
        cases.append(("density", "fused r3, K=1, batch 32", 1, 32, lambda m: density_step(*fused, m, 32, 128, device)))
    for px, batch in ((64, 4), (128, 16)):  # the default (64 px chips, batch 4) and larger steps
        for k in (1, 3):
            cases.append(
                (
                    "detection",
                    f"{px} px, batch {batch}, K={k}",
                    k,
                    batch,
                    lambda m, px=px, batch=batch: detection_step(m, batch, px, device),
                )
            )
    if not quick:
        cases.append(
            (
                "detection",
                "64 px, batch 4, K=3, channels_last",
                3,
                4,
                lambda m: detection_step(m, 4, 64, device, channels_last=True),
            )
        )
        cases.append(("detection", "64 px, batch 16, K=3", 3, 16, lambda m: detection_step(m, 16, 64, device)))
    rows = []
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        for net, label, members, batch, make in cases:
            f = flops(make(1)[1]) * members
            step, _ = make(members)
            peak = sgemm_gflops(device)
            sec = step_rate(step, device, reps)
            achieved = f / sec / 1e9
            rows.append(
                {
                    "net": net,
                    "case": label,
                    "threads": n_threads,
                    "flop_per_sample": f / (batch * members),
                    "samples_per_s": batch * members / sec,
                    "gflops": achieved,
                    "sgemm": peak,
                    "ratio": achieved / peak,
                    "ms_per_step": 1000 * sec,
                }
            )
            print(
                f"  {net:9s} {label:38s} {n_threads} thr: {achieved:6.1f} GFLOP/s = {achieved / peak:5.0%} of sgemm "
                f"{peak:5.1f}, {1000 * sec:7.1f} ms/step",
                flush=True,
            )
    return rows


def toy_density_task(n: int, px: int, device: torch.device) -> DensityTask:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 16, px, px, generator=g)
    y = torch.rand(n, px, px, generator=g) > 0.99
    v = torch.ones(n, px, px, dtype=torch.bool)
    return DensityTask((x, y, v), (x[:4], y[:4], v[:4]), 8, device, DENSITY_MODEL["multilook"])


def toy_detection_task(n: int, px: int, seeds: list[int], device: torch.device) -> DetectionTask:
    rng = np.random.default_rng(0)
    x = rng.normal(-12, 3, (n, 7, px, px)).astype(np.float32)
    label = (rng.random((n, px, px)) > 0.97).astype(np.uint8)
    arr = ChipArrays(x=x, label=label, channels=[f"c{i}" for i in range(7)], is_log=[True] * 4 + [False] * 3)
    val = ChipArrays(x=x[:8], label=label[:8], channels=arr.channels, is_log=arr.is_log)
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))
    return DetectionTask(arr, val, mean, std, seeds, {}, torch.tensor([1.0, 1.0]), 16, device)


def ensemble_rows(device: torch.device, threads: int, epochs: int, quick: bool) -> list[dict]:
    """Wall time of fitting K members at once against K separate one-member fits (same members,
    `epochs` epochs each, no early stopping)."""
    torch.set_num_threads(threads)
    rows = []
    ks = (1, 3) if quick else (1, 3, 5)

    def density(grouped: bool) -> Callable[[int], torch.nn.Module]:
        def build(k: int) -> torch.nn.Module:
            net = DensityNet(
                4, 12, DENSITY_MODEL["width"], DENSITY_MODEL["depth"], multilook=DENSITY_MODEL["multilook"], members=k
            )
            net.grouped = grouped
            return net

        return build

    def detection(k: int) -> torch.nn.Module:
        return ResNetUNet(7, **DETECTION_MODEL, members=k)

    dens = "density (fused r3, 128 px, 32 chips)"
    # (task, build, batch, monitor, higher is better, vectorise)
    nets = {
        f"{dens}, grouped convs": (
            lambda seeds: toy_density_task(32, 128, device),
            density(True),
            8,
            "val_loss",
            False,
            True,
        ),
        f"{dens}, one module member by member": (
            lambda seeds: toy_density_task(32, 128, device),
            density(False),
            8,
            "val_loss",
            False,
            True,
        ),
        f"{dens}, members one after another": (
            lambda seeds: toy_density_task(32, 128, device),
            density(False),
            8,
            "val_loss",
            False,
            False,
        ),
        "detection (SAR+DEM, 64 px, 32 chips), grouped convs": (
            lambda seeds: toy_detection_task(32, 64, seeds, device),
            detection,
            4,
            "val_auprc",
            True,
            True,
        ),
    }
    for name, (make_task, build, batch, monitor, higher, vectorise) in nets.items():
        for k in ks:
            seeds = list(range(k))

            def fit(
                s: list[int],
                make_task=make_task,
                build=build,
                batch=batch,
                monitor=monitor,
                higher=higher,
                vectorise=vectorise,
            ) -> float:
                cfg = FitConfig(
                    seeds=s,
                    max_epochs=epochs,
                    batch_size=batch,
                    learning_rate=1e-3,
                    patience=epochs + 1,
                    monitor=monitor,
                    higher_is_better=higher,
                )
                task = make_task(s)
                t = time.perf_counter()
                fit_ensemble(build, task, cfg, device, vectorise=vectorise)
                sync(device)
                return time.perf_counter() - t

            together = fit(seeds)
            apart = sum(fit([s]) for s in seeds)
            one = apart / k
            rows.append(
                {
                    "net": name,
                    "K": k,
                    "together_s": together,
                    "separate_s": apart,
                    "ratio": together / apart,
                    "vs_one": together / one,
                }
            )
            print(
                f"  {name}: K={k} at once {together:6.1f} s, separately {apart:6.1f} s "
                f"({together / apart:.2f} of separate, {together / one:.2f}x one member)",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer cases and repetitions (a smoke run)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each fit in the ensemble comparison")
    parser.add_argument("--ensembles-only", action="store_true", help="only the ensemble comparison")
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = 2 if args.quick else 5
    cpus = len(os.sched_getaffinity(0))
    threads = [1] if args.quick else sorted({1, min(2, cpus)})
    load = os.getloadavg()
    print(
        f"# benchmark_training: {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()}, {cpus} CPU(s), "
        f"torch {torch.__version__}, device {device}, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )
    if device.type == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name(device)}")
    for n in threads:
        torch.set_num_threads(n)
        print(f"sgemm 2048^2 float32, {n} thread(s): {sgemm_gflops(device):.1f} GFLOP/s")
    print("\n## Training-step throughput (K > 1: grouped convs)")
    rows = [] if args.ensembles_only else throughput_rows(device, threads, reps, args.quick)
    print("\n| net | case | threads | GFLOP per sample | samples/s | GFLOP/s | sgemm GFLOP/s | of sgemm | ms/step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['net']} | {r['case']} | {r['threads']} | {r['flop_per_sample'] / 1e9:.2f} | "
            f"{r['samples_per_s']:.1f} | "
            f"{r['gflops']:.1f} | {r['sgemm']:.1f} | {r['ratio']:.0%} | {r['ms_per_step']:.0f} |"
        )
    print(f"\n## Ensemble of K members against K separate trainings ({args.epochs} epochs, 1 thread)")
    ens = ensemble_rows(device, 1, args.epochs, args.quick)
    print("\n| net | K | at once (s) | separately (s) | at once / separately | at once / one member |")
    print("|---|---|---|---|---|---|")
    for r in ens:
        print(
            f"| {r['net']} | {r['K']} | {r['together_s']:.1f} | {r['separate_s']:.1f} | {r['ratio']:.2f} | "
            f"{r['vs_one']:.2f} |"
        )
    print(f"\nload average at the end: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
