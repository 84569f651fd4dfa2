"""Workflow plumbing, not I/O: how a workflow script runs one library function (logging into the
rule's log, tqdm progress into it, bad input as one `ERROR:` line, retries of bad input skipped)
and how many threads a job may use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

from landslide_sar.errors import ConfigError, InputError, NetworkError


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send library logging (and warnings) to the rule's log file, or to stderr when run by hand."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler: logging.Handler
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return logging.getLogger("landslide_sar")


class LogStream:
    """A file-like object that tqdm can write progress bars into; lines go to a logger."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def write(self, text: str) -> None:
        text = text.strip("\r\n ")
        if text:
            self.logger.info(text)

    def flush(self) -> None:  # tqdm calls it
        pass


#: Environment variable naming the Snakemake invocation (set in rules/common.smk, inherited by jobs).
RUN_ID_ENV = "LANDSLIDE_SAR_RUN_ID"


#: Where a job's input error is remembered for the retries of the same invocation.
INPUT_ERROR_DIR = Path(".snakemake") / "landslide_sar" / "input_errors"


def _job_marker() -> Path | None:
    """The input-error marker of the Snakemake job running this script (None outside Snakemake or
    without a run id): one file per job, named by a hash of its rule and outputs."""
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    run_id = os.environ.get(RUN_ID_ENV)
    if job is None or not run_id:
        return None
    key = "\0".join([str(getattr(job, "rule", "")), *map(str, getattr(job, "output", []))])
    return INPUT_ERROR_DIR / f"{hashlib.sha1(key.encode()).hexdigest()}.txt"


def run_rule(func, log_path: str | Path | None, /, **kwargs):  # type: ignore[no-untyped-def]
    """Run one library function for a rule: logging into the rule's log, and bad input reported
    as ONE line (on stderr and in the log) with a non-zero exit instead of a traceback.

    Bad input (InputError, ConfigError) cannot change between attempts: it is remembered for this
    Snakemake invocation, and a retry of the job (`retries:`) ends at once without repeating the
    work or the line. A NetworkError is reported the same way but not remembered: a retry may help."""
    logger = setup_logging(log_path)
    marker = _job_marker()
    run_id = os.environ.get(RUN_ID_ENV, "")
    if marker is not None and marker.exists():
        first = marker.read_text().split("\n", 1)
        if first[0] == run_id:
            logger.error(
                "not retried: bad input does not change between attempts: %s", first[1] if len(first) > 1 else ""
            )
            print("not retried: the bad input reported by the first attempt does not change", file=sys.stderr)
            raise SystemExit(1)
        marker.unlink()  # from an earlier invocation: the input may have been fixed since
    try:
        return func(**kwargs)
    except (InputError, ConfigError) as err:
        logger.error("%s", err)
        print(f"ERROR: {err}", file=sys.stderr)
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{run_id}\n{err}")
        raise SystemExit(1) from None
    except NetworkError as err:
        logger.error("%s", err)
        print(f"ERROR: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("failed")
        raise


def usable_threads(threads: int) -> int:
    """Threads for a compute library: what the rule was given, but never more than the cores this
    process may run on (a --cores larger than the machine would otherwise oversubscribe it)."""
    return max(1, min(int(threads), len(os.sched_getaffinity(0))))
