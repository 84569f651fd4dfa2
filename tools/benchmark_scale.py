"""Scale benchmark (not a test): an embedded event the size of Puerto Rico, and a quarter of it,
through generate_event, download_sentinel1, download_dem, dem_derivatives, rasterize_labels,
assemble_cube and make_chips, via Snakemake (target results/<area>/chips/chips.zarr).

Each rule's wall time, CPU time and max RSS come from Snakemake's benchmark files
(benchmarks/<area>/<rule>.tsv). Snakemake samples RSS every 0.5 s for the first 15 s of a job but
only every 30 s after that, so its max RSS can miss a longer job's peak; the script therefore
also polls the kernel's high-water mark (VmHWM in /proc/<pid>/status: the true peak RSS of the
rule's script process) while Snakemake runs, into benchmarks/<area>/peak_rss.json. Prints one
table per size, the growth factor full / quarter per rule (4.0 would be linear in area), and
writes docs/benchmark_scale.md.

    .venv/bin/python tools/benchmark_scale.py                    # quarter, then full (~9,000 km²)
    .venv/bin/python tools/benchmark_scale.py --sizes quarter    # only the quarter (~2,250 km²)
    .venv/bin/python tools/benchmark_scale.py --sizes quarter full --cores 8 --workdir /scratch/scale

The work directory (default /tmp/landslide-sar-scale) keeps every output, so a run that stops
can be continued; --fresh deletes a size's outputs first. A size that fails (out of memory, a
time limit) is reported as such with the rules that did finish.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = (
    "generate_event",
    "download_sentinel1",
    "download_dem",
    "dem_derivatives",
    "rasterize_labels",
    "assemble_cube",
    "make_chips",
)
#: The memory target: every rule under 4 GiB at full size.
LIMIT_MIB = 4 * 1024
#: Centre of the square areas (Puerto Rico's Cordillera Central) and the full area's side.
CENTRE = (-66.45, 18.22)
FULL_SIDE_KM = 95.0  # 95 km x 95 km ~ 9,000 km², about Puerto Rico's area (~9,100 km²)
SIZES = {"quarter": FULL_SIDE_KM / 2, "full": FULL_SIDE_KM}


def square_bbox(side_km: float, centre: tuple[float, float] = CENTRE) -> list[float]:
    """A lon/lat bbox of about side_km x side_km around `centre`."""
    lon, lat = centre
    dlat = side_km / 2 / 110.574
    dlon = side_km / 2 / (111.320 * math.cos(math.radians(lat)))
    return [round(lon - dlon, 5), round(lat - dlat, 5), round(lon + dlon, 5), round(lat + dlat, 5)]


def scale_config(sizes: list[str]) -> dict:
    """The default config with one embedded area per size (`pr_quarter`, `pr_full`)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    template = cfg["areas"]["embedded"]
    cfg["areas"] = {}
    for size in sizes:
        area = copy.deepcopy(template)
        area["bbox"] = square_bbox(SIZES[size])
        cfg["areas"][f"pr_{size}"] = area
    return cfg


def read_benchmark(path: Path) -> dict[str, float] | None:
    if not path.is_file():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return None
    row = rows[-1]
    return {"s": float(row["s"]), "max_rss": float(row["max_rss"]), "cpu_time": float(row["cpu_time"])}


def grid_shape(workdir: Path, area: str) -> tuple[int, int] | None:
    """Height and width of the area's grid, from its DEM on the grid (once download_dem ran)."""
    tif = workdir / "resources" / area / "dem.tif"
    if not tif.is_file():
        return None
    import rasterio

    with rasterio.open(tif) as src:
        return src.height, src.width


def collect(size: str, workdir: Path, rc: int | str = 0, wall: float | None = None) -> dict:
    """A size's figures from its benchmark files (and the wall time its last run recorded)."""
    area = f"pr_{size}"
    wall_file = workdir / "benchmarks" / area / "scale_wall_s.txt"
    if wall is None:
        wall = float(wall_file.read_text()) if wall_file.is_file() else float("nan")
    rules = {rule: read_benchmark(workdir / "benchmarks" / area / f"{rule}.tsv") for rule in RULES}
    peaks = read_peaks(workdir, area)
    for rule, b in rules.items():
        if b is not None:
            b["peak_rss"] = peaks.get(rule, float("nan"))
    return {
        "size": size,
        "area": area,
        "rc": rc,
        "wall_s": wall,
        "rules": rules,
        "shape": grid_shape(workdir, area),
        "bbox": square_bbox(SIZES[size]),
    }


class PeakRss(threading.Thread):
    """Polls /proc for the Snakemake script processes of `workdir` (.snakemake/scripts/tmp*.<rule>.py)
    and keeps each one's VmHWM (peak RSS, MiB), by rule and by area (from the rule's log file,
    logs/<area>/..., which the process holds open)."""

    def __init__(self, workdir: Path, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pattern = re.compile(re.escape(str(workdir)) + r"/\.snakemake/scripts/tmp\w+\.(\w+)\.py")
        self.interval, self.stop = interval, threading.Event()
        self.procs: dict[int, dict] = {}

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                m = self.pattern.search(Path(entry.path, "cmdline").read_text())
                if not m:
                    continue
                status = Path(entry.path, "status").read_text()
                hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
                rec = self.procs.setdefault(int(entry.name), {"rule": m.group(1), "area": None, "mib": 0.0})
                if rec["area"] is None:
                    for fd in os.scandir(Path(entry.path, "fd")):
                        a = re.search(r"/logs/([^/]+)/", os.readlink(fd.path))
                        if a:
                            rec["area"] = a.group(1)
                            break
                rec["mib"] = max(rec["mib"], hwm)
            except (OSError, AttributeError, ValueError):
                continue  # the process ended meanwhile

    def save(self, workdir: Path, area: str) -> None:
        """Merge this run's peaks of `area` into benchmarks/<area>/peak_rss.json (rules not run keep theirs)."""
        path = workdir / "benchmarks" / area / "peak_rss.json"
        peaks = json.loads(path.read_text()) if path.is_file() else {}
        for rec in self.procs.values():
            if rec["area"] == area and rec["rule"] in RULES:
                peaks[rec["rule"]] = round(rec["mib"], 1)
        if peaks:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(peaks, indent=1, sort_keys=True))


def read_peaks(workdir: Path, area: str) -> dict[str, float]:
    path = workdir / "benchmarks" / area / "peak_rss.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run_size(size: str, workdir: Path, config: Path, cores: int, fresh: bool, timeout_s: float | None) -> dict:
    area = f"pr_{size}"
    if fresh:
        for sub in ("resources", "results", "benchmarks", "logs"):
            shutil.rmtree(workdir / sub / area, ignore_errors=True)
    target = f"results/{area}/chips/chips.zarr"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--workflow-profile",
        "none",
        "--cores",
        str(cores),
        "--rerun-incomplete",
        target,
    ]
    print(f"\n== {size}: {' '.join(cmd[3:])}", flush=True)
    t0 = time.perf_counter()
    poller = PeakRss(workdir)
    poller.start()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as err:
        rc, tail = "timeout", str(err)
    finally:
        poller.stop.set()
        poller.join()
        poller.save(workdir, area)
    wall = time.perf_counter() - t0
    if rc != 0:
        print(f"   snakemake failed ({rc}):\n{tail}", flush=True)
    # the wall time of the run that made the outputs (a later run that finds them done keeps it)
    wall_file = workdir / "benchmarks" / area / "scale_wall_s.txt"
    if rc == 0 and "Nothing to be done" in tail and wall_file.is_file():
        wall = float(wall_file.read_text())
    elif rc == 0:
        wall_file.write_text(f"{wall:.1f}")
    return collect(size, workdir, rc, wall)


def area_km2(result: dict) -> float | None:
    if not result["shape"]:
        return None
    h, w = result["shape"]
    return h * w * 1e-4  # 10 m pixels


def peak_of(b: dict) -> float:
    """A rule's peak memory: the larger of Snakemake's max RSS and the polled VmHWM."""
    return b["max_rss"] if math.isnan(b.get("peak_rss", float("nan"))) else max(b["max_rss"], b["peak_rss"])


def table(result: dict) -> list[str]:
    km2 = area_km2(result)
    mpx = result["shape"][0] * result["shape"][1] / 1e6 if result["shape"] else None
    lines = [
        "| rule | time (s) | CPU time (s) | max RSS (MiB) | peak RSS (MiB) | throughput (km²/s) | under 4 GiB |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for rule in RULES:
        b = result["rules"][rule]
        if b is None:
            lines.append(f"| {rule} | – | – | – | – | – | not run |")
            continue
        tput = f"{km2 / b['s']:.1f}" if km2 and b["s"] > 0 else "–"
        ok = "yes" if peak_of(b) < LIMIT_MIB else "**no**"
        peak = "–" if math.isnan(b["peak_rss"]) else f"{b['peak_rss']:.0f}"
        lines.append(f"| {rule} | {b['s']:.1f} | {b['cpu_time']:.1f} | {b['max_rss']:.0f} | {peak} | {tput} | {ok} |")
    done = [b for b in result["rules"].values() if b]
    if done:
        lines.append(
            f"| **sum of the rules** | {sum(b['s'] for b in done):.1f} | {sum(b['cpu_time'] for b in done):.1f} | "
            f"{max(b['max_rss'] for b in done):.0f} | {max(peak_of(b) for b in done):.0f} (highest) | "
            f"{(km2 / sum(b['s'] for b in done)) if km2 else float('nan'):.1f} | |"
        )
    head = f"**{result['size']}** (`{result['area']}`, bbox {result['bbox']})"
    if result["shape"]:
        head += f": {result['shape'][1]} x {result['shape'][0]} px = {mpx:.1f} Mpx = {km2:,.0f} km² at 10 m"
    if not math.isnan(result["wall_s"]):
        head += f"; Snakemake run {result['wall_s']:.0f} s wall"
    if result["rc"] != 0:
        head += f", **did not finish** ({result['rc']})"
    return [head, "", *lines]


def growth(results: dict[str, dict]) -> list[str]:
    q, f = results.get("quarter"), results.get("full")
    if not (q and f):
        return []
    lines = ["| rule | time full/quarter | CPU time full/quarter | peak RSS full/quarter |", "|---|---:|---:|---:|"]
    for rule in RULES:
        bq, bf = q["rules"][rule], f["rules"][rule]
        if bq and bf:
            lines.append(
                f"| {rule} | {bf['s'] / bq['s']:.2f} | {bf['cpu_time'] / bq['cpu_time']:.2f} | "
                f"{peak_of(bf) / peak_of(bq):.2f} |"
            )
        else:
            lines.append(f"| {rule} | – | – | – |")
    if q["shape"] and f["shape"]:
        ratio = (f["shape"][0] * f["shape"][1]) / (q["shape"][0] * q["shape"][1])
        lines.append(f"| *(pixels)* | {ratio:.2f} | {ratio:.2f} | {ratio:.2f} |")
    return lines


def ran_at(workdir: Path, sizes: list[str]) -> dt.datetime:
    """When the figures were taken: the newest of the sizes' benchmark files."""
    files = [f for size in sizes for f in (workdir / "benchmarks" / f"pr_{size}").glob("*.tsv")]
    stamp = max((f.stat().st_mtime for f in files), default=time.time())
    return dt.datetime.fromtimestamp(stamp).astimezone()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"


def versions() -> str:
    import snakemake

    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "?"
    try:
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "status",
                "--porcelain",
                "--",
                "landslide_sar",
                "rules",
                "workflow_scripts",
                "Snakefile",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        dirty = ""
    tree = " with uncommitted changes to the workflow" if dirty else ""
    return f"snakemake {snakemake.__version__}, Python {platform.python_version()}, commit {commit or '?'}{tree}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), help="which areas (default: quarter full)"
    )
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/landslide-sar-scale"))
    ap.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "benchmark_scale.md", help="the results page ('-': none)"
    )
    ap.add_argument(
        "--fresh", action="store_true", help="delete the sizes' outputs first (otherwise finished rules are kept)"
    )
    ap.add_argument("--timeout-min", type=float, default=None, help="give up on a size after this many minutes")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: rewrite the page from the work directory's benchmark files",
    )
    ap.add_argument("--note", default="", help="a line added to the results page (e.g. what else ran on the machine)")
    args = ap.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    config = args.workdir / "config.yaml"
    if not args.report_only:
        config.write_text(yaml.safe_dump(scale_config(args.sizes), sort_keys=False))
    results = {}
    for size in args.sizes:
        if args.report_only:
            results[size] = collect(size, args.workdir)
        else:
            results[size] = run_size(
                size, args.workdir, config, args.cores, args.fresh, args.timeout_min and args.timeout_min * 60
            )
        print("\n".join(table(results[size])), flush=True)
    g = growth(results)
    if g:
        print("\ngrowth full / quarter (area x4; 4.0 = linear):\n" + "\n".join(g))

    if str(args.output) == "-":
        return
    out = [
        "# Scale benchmark: a Puerto-Rico-sized embedded event",
        "",
        "Generated by `.venv/bin/python tools/benchmark_scale.py "
        + " ".join(["--sizes", *args.sizes, "--cores", str(args.cores)])
        + "` — not a test; figures depend on the machine and on what else runs on it.",
        "",
        f"- date: {ran_at(args.workdir, args.sizes):%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- software: {versions()}",
        f"- Snakemake `--cores {args.cores}`; each rule's time, CPU time and max RSS (resident memory of the "
        "job's whole "
        "process tree, MiB) from its `benchmarks/<area>/<rule>.tsv`; throughput = area / time. Snakemake samples RSS "
        "every 0.5 s for a job's first 15 s, then only every 30 s, so *peak RSS* is also given: the kernel's "
        "high-water mark (VmHWM) of the rule's script process, polled by this script; *under 4 GiB* uses the larger.",
        "- the areas: squares around 66.45° W, 18.22° N; full = 95 km x 95 km (~9,000 km², Puerto Rico's area), "
        "quarter = 47.5 km x 47.5 km; 10 m pixels, 6 acquisitions (+1 extra frame, +1 descending distractor), "
        "128 px chips.",
    ]
    if args.note:
        out.append(f"- note: {args.note}")
    for size in args.sizes:
        out += ["", f"## {size}", "", *table(results[size])]
    if g:
        out += ["", "## Growth, full / quarter (the area grows 4x: 4.0 is linear)", "", *g]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    old = args.output.read_text() if args.output.exists() else ""
    marker = "\n## Analysis"
    analysis = old[old.index(marker) :] if marker in old else ""
    args.output.write_text("\n".join(out) + "\n" + analysis)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
