"""Generator benchmark (not a test): the cost of landslide_sar.synthetic.generate_event alone, at
the default area's size, a quarter of Puerto Rico and the whole island.

Two modes:

- ``time`` (default): ``/usr/bin/time -v python -m landslide_sar.synthetic CONFIG AREA OUT`` per
  size, in a fresh process; prints the maximum resident set size (the kernel's high-water mark of
  the process) and the wall time.
- ``trace``: generate in this process under ``tracemalloc`` (numpy reports its buffers to it) and
  print the peak of traced memory between the generator's log lines, i.e. per stage (world,
  bodies and coverage, DEM/inventory/truth, each acquisition): where the peak goes.

The areas are those of tools/benchmark_scale.py (squares around 66.45° W, 18.22° N: full = 95 km,
Puerto Rico's area; quarter = 47.5 km), the default area (config.yaml's ``embedded``), a
``medium`` 20 km square for tracing, and ``island``, config/puerto_rico.yaml's bbox (larger than
the island's area: 182 km x 70 km); all with config.yaml's ``embedded`` synthetic block.

    .venv/bin/python tools/benchmark_generator.py --sizes default quarter
    .venv/bin/python tools/benchmark_generator.py --mode trace --sizes medium
    .venv/bin/python tools/benchmark_generator.py --sizes full --block-rows 256
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from benchmark_scale import SIZES, square_bbox  # noqa: E402

MEDIUM_SIDE_KM = 20.0


def area_of(size: str) -> dict:
    """config.yaml's embedded area with the bbox of ``size``."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    area = copy.deepcopy(cfg["areas"]["embedded"])
    if size == "default":
        return area
    if size == "medium":
        area["bbox"] = square_bbox(MEDIUM_SIDE_KM)
    elif size == "island":
        pr = yaml.safe_load((ROOT / "config" / "puerto_rico.yaml").read_text())
        area["bbox"] = pr["areas"]["puerto_rico"]["bbox"]
    else:
        area["bbox"] = square_bbox(SIZES[size])
    return area


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        mem_kib = 0
    return f"{cpu}, {os.cpu_count()} cores, {mem_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}"


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def time_size(size: str, workdir: Path, block_rows: int | None) -> dict:
    """Run the generator in a fresh process under /usr/bin/time -v."""
    area = area_of(size)
    cfg_path = workdir / f"{size}.yaml"
    cfg_path.write_text(yaml.safe_dump({"areas": {size: area}}))
    out = workdir / size
    if out.exists():
        shutil.rmtree(out)
    code = (
        "import logging, sys, yaml; from landslide_sar.synthetic import generate_event; "
        "logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s'); "
        "a = yaml.safe_load(open(sys.argv[1]))['areas'][sys.argv[2]]; "
        "kw = {'block_rows': int(sys.argv[4])} if len(sys.argv) > 4 else {}; "
        "generate_event(a, sys.argv[3], **kw)"
    )
    cmd = ["/usr/bin/time", "-v", sys.executable, "-c", code, str(cfg_path), size, str(out)]
    if block_rows:
        cmd.append(str(block_rows))
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    err = proc.stderr
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    el = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", err)
    cpu_u = re.search(r"User time \(seconds\): ([\d.]+)", err)
    cpu_s = re.search(r"System time \(seconds\): ([\d.]+)", err)
    shape = None
    truth = out / "truth.tif"
    if truth.is_file():
        import rasterio

        with rasterio.open(truth) as src:
            shape = (src.height, src.width)
    if proc.returncode != 0:
        sys.stderr.write(err[-3000:])
    secs = wall
    if el:
        parts = [float(x) for x in el.group(1).split(":")]
        secs = sum(v * 60**i for i, v in enumerate(reversed(parts)))
    shutil.rmtree(out, ignore_errors=True)
    return {
        "size": size,
        "bbox": area["bbox"],
        "rc": proc.returncode,
        "shape": shape,
        "max_rss_mib": int(rss.group(1)) / 1024 if rss else float("nan"),
        "wall_s": secs,
        "cpu_s": (float(cpu_u.group(1)) + float(cpu_s.group(1))) if cpu_u and cpu_s else float("nan"),
    }


class StagePeaks(logging.Handler):
    """On each log record of the generator: the peak of traced memory since the previous one."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, float, float]] = []
        self.t0 = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        import tracemalloc

        cur, peak = tracemalloc.get_traced_memory()
        self.rows.append((record.getMessage()[:70], peak / 2**20, cur / 2**20))
        tracemalloc.reset_peak()


def trace_size(size: str, workdir: Path, block_rows: int | None) -> None:
    import tracemalloc

    from landslide_sar.synthetic import generate_event

    handler = StagePeaks()
    lg = logging.getLogger("landslide_sar")
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    tracemalloc.start()
    kw = {"block_rows": block_rows} if block_rows else {}
    generate_event(area_of(size), workdir / size, **kw)
    tracemalloc.stop()
    lg.removeHandler(handler)
    print(f"\n{size}: traced memory (numpy buffers, Python objects), MiB, per stage (peak since the previous line)")
    print("| stage (log line that ends it) | peak (MiB) | held after (MiB) |\n|---|---:|---:|")
    for msg, peak, cur in handler.rows:
        print(f"| {msg} | {peak:,.0f} | {cur:,.0f} |")
    shutil.rmtree(workdir / size, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = ["default", "medium", "quarter", "full", "island"]
    ap.add_argument("--sizes", nargs="+", default=["default", "quarter"], choices=sizes)
    ap.add_argument("--mode", choices=["time", "trace"], default="time")
    ap.add_argument("--block-rows", type=int, default=None, help="generate_event's block_rows (default: the library's)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the events are written (removed after each size)")
    a = ap.parse_args()
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="landslide-sar-gen-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- machine: {machine()}")
    print(f"- commit: {commit()}, Python {platform.python_version()}")
    if a.mode == "trace":
        for size in a.sizes:
            trace_size(size, workdir, a.block_rows)
        return
    print("\n| size | grid (px) | Mpx | max RSS (MiB) | wall (s) | CPU (s) | rc |\n|---|---|---:|---:|---:|---:|---:|")
    for size in a.sizes:
        r = time_size(size, workdir, a.block_rows)
        shape = f"{r['shape'][1]} x {r['shape'][0]}" if r["shape"] else "-"
        mpx = f"{r['shape'][0] * r['shape'][1] / 1e6:.1f}" if r["shape"] else "-"
        rss, wall, cpu = f"{r['max_rss_mib']:,.0f}", f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}"
        row = f"| {size} | {shape} | {mpx} | {rss} | {wall} | {cpu} | {r['rc']} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
