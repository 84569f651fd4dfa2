"""The workflow on a real SLURM cluster: slurmctld + slurmd + munged from Debian's packages, one
node on loopback, started by tools/slurm/start.sh in a temporary folder and stopped by pid.

The tiny event goes through `--profile profiles/slurm` (the profile users adapt) layered with
`tests/profiles/slurm-ci` (squeue for job status, as this cluster has no slurmdbd for sacct; no
GPU asked for). Asserted: every job was a SLURM batch job that SLURM itself recorded as
COMPLETED (scontrol and the job-completion file, by job id), with its SLURM log, the partition
and resources the profile asked for; training and prediction run on the GPU-less "gpu"
partition; a job that fails is a FAILED SLURM job and fails the run.

Skipped when the SLURM binaries are absent, except in CI (CI=true), where that is a failure:
`.ci/run` installs them (tools/slurm/install.sh).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, snakemake, tiny_config, write_config

SLURM_TOOLS = ROOT / "tools" / "slurm"
# the real profile, then the CI layer over it (a later --profile replaces whole top-level keys)
PROFILES = ["--profile", str(ROOT / "profiles" / "slurm"), "--profile", str(ROOT / "tests" / "profiles" / "slurm-ci")]
BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged", "mungekey")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
# The chain up to the chips, then one model trained and applied (the GPU rules, on no GPU).
TARGETS = ("results/tiny/chips/chips.zarr", "results/tiny/density/dem_r0/half0/features.csv")
GPU_RULES = {"train_density"}
# The Snakefile's localrules: downloads run on the submit host (cluster nodes often lack internet).
LOCAL_RULES = {"download_sentinel1", "download_dem", "download_inventory", "download_datacube"}


class Cluster:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conf = path / "slurm.conf"
        self.bin = path / "bin"

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf), "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}"}

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, env={**os.environ, **self.env()}, capture_output=True, text=True, check=True).stdout

    def job(self, jobid: str) -> dict[str, str]:
        """`scontrol show job` of a (finished) job as a dict; finished jobs stay for MinJobAge."""
        out = self.run("scontrol", "show", "job", "--oneliner", jobid)
        return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)

    def completion_record(self, jobid: str) -> dict[str, str]:
        """The job's line in the job-completion file (jobcomp/filetxt), written by slurmctld."""
        for line in (self.path / "log" / "jobcomp.txt").read_text().splitlines():
            record = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if record.get("JobId") == jobid:
                return record
        raise AssertionError(f"job {jobid} is not in SLURM's job-completion file")

    def cpus(self) -> int:
        return int(self.run("sinfo", "--noheader", "--format=%c").split()[0])

    def pids(self) -> list[int]:
        return [int(p.read_text()) for p in (self.path / "pids").iterdir()]


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Iterator[Cluster]:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        reason = f"SLURM binaries not installed ({', '.join(missing)}): bash tools/slurm/install.sh (as root)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the real-SLURM test, but {reason}")
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["bash", str(SLURM_TOOLS / "start.sh"), str(path)], capture_output=True, text=True, timeout=180
    )
    # start.sh stops what it started when the node does not come up
    assert start.returncode == 0, f"the SLURM cluster did not start:\n{start.stdout}\n{start.stderr}"
    cluster = Cluster(path)
    pids = cluster.pids()
    try:
        assert len(pids) == 3 and all(map(_running, pids)), pids  # munged, slurmctld, slurmd
        yield cluster
    finally:
        stop = ["bash", str(SLURM_TOOLS / "stop.sh"), str(path)]
        subprocess.run(stop, capture_output=True, text=True, timeout=120)
        alive = [pid for pid in pids if _running(pid)]
        assert not alive, f"SLURM daemons still running after stop.sh: {alive}"


def _run(workdir: Path, config: Path, cluster: Cluster, monkeypatch, *args: str, check: bool = True):
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    # threads above the node's CPUs could never be scheduled on this one small node
    return snakemake(workdir, config, *PROFILES, "--max-threads", str(cluster.cpus()), *args, check=check)


def _submitted(stdout: str) -> dict[str, list[tuple[str, str]]]:
    """SLURM job id and SLURM log of each submitted job, by rule (from the log path's rule_<name>)."""
    jobs = {}
    for _, jobid, log in SUBMITTED.findall(stdout):
        rule = Path(log).relative_to(Path(log).parents[2]).parts[0].removeprefix("rule_")
        jobs.setdefault(rule, []).append((jobid, log))
    return jobs


def _job_stats(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    table = stdout.split("Job stats:")[-1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def test_tiny_event_runs_as_slurm_jobs(slurm_cluster, tmp_path, monkeypatch) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config())
    planned = _job_stats(_run(tmp_path, config, slurm_cluster, monkeypatch, "-n", *TARGETS).stdout)
    assert {"make_chips", *GPU_RULES} <= set(planned) and len(planned) >= 7, planned
    proc = _run(tmp_path, config, slurm_cluster, monkeypatch, *TARGETS)
    out = proc.stdout + proc.stderr
    jobs = _submitted(out)
    finished = set(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", out, flags=re.M))
    local = finished - set(jobs)
    assert set(jobs) | local == set(planned), (sorted(jobs), sorted(local), planned, out[-3000:])
    # the downloads are localrules (run on the submit host); everything else is a SLURM job
    assert local == LOCAL_RULES & set(planned), local
    for rule, submissions in jobs.items():
        assert len(submissions) == planned[rule], (rule, submissions)  # nothing failed, nothing retried
    for rule, jobid, log in ((r, j, lg) for r, subs in jobs.items() for j, lg in subs):
        info = slurm_cluster.job(jobid)
        assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", (rule, info)
        assert info["Comment"].startswith(f"rule_{rule}_wildcards_tiny"), (rule, info["Comment"])
        assert info["WorkDir"] == str(tmp_path)
        assert slurm_cluster.completion_record(jobid)["JobState"] == "COMPLETED"
        # the job's own SLURM log (kept by the CI layer) holds the Snakemake job step that ran it
        assert info["StdOut"] == log and log.startswith(str(tmp_path / ".snakemake" / "slurm_logs" / f"rule_{rule}"))
        text = Path(log).read_text()
        assert "--executor slurm-jobstep" in text and f"--allowed-rules {rule}" in text, text[-2000:]
        # the partition the profile asked for (gpu for the GPU rules), the rule's own mem_mb
        assert int(info["MinMemoryNode"].removesuffix("M")) >= 1000, info["MinMemoryNode"]
        assert info["Partition"] == ("gpu" if rule in GPU_RULES else "compute"), (rule, info["Partition"])
        assert "gres/gpu" not in info.get("TRES", ""), (rule, info)  # a GPU-less cluster: no GPU asked for
    # GPU rules ran on the CPU and produced their outputs
    assert all((tmp_path / target).exists() for target in TARGETS)
    assert (tmp_path / "results/tiny/density/dem_r0/half0/model.pt").is_file()
    # nothing left to do: the outputs SLURM produced are complete in Snakemake's eyes
    again = _run(tmp_path, config, slurm_cluster, monkeypatch, "-n", *TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_failing_job_is_reported_failed(slurm_cluster, tmp_path, monkeypatch) -> None:
    cfg = tiny_config()
    broken = tmp_path / "broken_inventory.gpkg"
    broken.write_text("this is not a GeoPackage\n")
    cfg["areas"]["tiny"]["inventory"] = {"source": "file", "path": str(broken)}
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = _run(tmp_path, config, slurm_cluster, monkeypatch, "results/tiny/labels.tif", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    jobs = _submitted(out)
    assert set(jobs) == {"rasterize_labels"}, out[-3000:]
    # profiles/slurm retries a failed job once: two SLURM jobs, both FAILED, both reported
    submissions = jobs["rasterize_labels"]
    assert len(submissions) == 2, submissions
    for jobid, log in submissions:
        info = slurm_cluster.job(jobid)
        assert info["JobState"] == "FAILED" and info["ExitCode"] != "0:0", info
        assert slurm_cluster.completion_record(jobid)["JobState"] == "FAILED"
        assert f"SLURM-job '{jobid}' failed, SLURM status is: 'FAILED'" in out
        assert Path(log).is_file()  # a failed job's SLURM log is always kept
    assert "Error in rule rasterize_labels" in out
    assert not (tmp_path / "results" / "tiny" / "labels.tif").exists()
    # the rule's own log names the bad file in one line
    assert str(broken) in (tmp_path / "logs" / "tiny" / "rasterize_labels.log").read_text()
