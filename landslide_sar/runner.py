"""Workflow plumbing, not I/O: how a workflow script runs one library function (logging into the
rule's log, tqdm progress into it, bad input as one `ERROR:` line, retries of bad input skipped)
and how many threads a job may use.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from landslide_sar.errors import ConfigError, InputError, NetworkError


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO, mode: str = "w") -> logging.Logger:
    """Send library logging (and warnings) to the rule's log file (`mode` "a": after what it
    holds), or to stderr when run by hand."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler: logging.Handler
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode=mode)
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


#: Where the logs of a job's earlier attempts in this invocation are kept: Snakemake deletes a
#: job's log before each attempt, so that a retry would otherwise lose the first attempt's detail.
ATTEMPT_LOG_DIR = Path(".snakemake") / "landslide_sar" / "attempt_logs"


def _job_key() -> str | None:
    """A hash of the rule and outputs of the Snakemake job running this script (None outside
    Snakemake or without a run id)."""
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if job is None or not os.environ.get(RUN_ID_ENV):
        return None
    key = "\0".join([str(getattr(job, "rule", "")), *map(str, getattr(job, "output", []))])
    return hashlib.sha1(key.encode()).hexdigest()


def _job_marker() -> Path | None:
    """The input-error marker of the Snakemake job running this script: one file per job."""
    key = _job_key()
    return None if key is None else INPUT_ERROR_DIR / f"{key}.txt"


ATTEMPT_HEADER = "--- attempt {n} ({when}) ---"


def _start_log(log_path: str | Path | None, run_id: str) -> Path | None:
    """Begin the job's log with the logs of its earlier attempts in this invocation and a header
    line for this attempt. Returns the copy of the log that the next attempt starts from (None
    outside Snakemake): the attempt logs into it as into the log, so that it survives a kill."""
    key = _job_key()
    kept = None if key is None or not log_path else ATTEMPT_LOG_DIR / f"{key}.log"
    earlier = ""
    if kept is not None and kept.exists():
        first, _, rest = kept.read_text(errors="replace").partition("\n")
        earlier = rest if first == run_id else ""  # else from an earlier invocation
    if not log_path:
        return None
    n = earlier.count("\n--- attempt ") + earlier.startswith("--- attempt ") + 1
    header = ATTEMPT_HEADER.format(n=n, when=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(log_path).write_text(f"{earlier}{header}\n")
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(f"{run_id}\n{earlier}{header}\n")
    return kept


def run_rule(func, log_path: str | Path | None, /, **kwargs):  # type: ignore[no-untyped-def]
    """Run one library function for a rule: logging into the rule's log, and bad input reported
    as ONE line (on stderr and in the log) with a non-zero exit instead of a traceback.

    Bad input (InputError, ConfigError) cannot change between attempts: it is remembered for this
    Snakemake invocation, and a retry of the job (`retries:`) ends at once without repeating the
    work or the line. A NetworkError is reported the same way but not remembered: a retry may help.

    Each attempt's log is kept: the log holds the earlier attempts of this invocation, each after a
    line `--- attempt N (time) ---`."""
    run_id = os.environ.get(RUN_ID_ENV, "")
    kept = _start_log(log_path, run_id)
    logger = setup_logging(log_path, mode="a")
    if kept is not None:
        root = logging.getLogger()
        copy = logging.FileHandler(kept, mode="a")
        copy.setFormatter(root.handlers[0].formatter)
        root.addHandler(copy)
    result = _run(func, logger, run_id, **kwargs)
    if kept is not None:
        kept.unlink(missing_ok=True)  # done: no further attempt needs it
    return result


def _run(func, logger: logging.Logger, run_id: str, /, **kwargs):  # type: ignore[no-untyped-def]
    """run_rule's body: the input-error marker, and each kind of failure as one line."""
    marker = _job_marker()
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
    except OSError as err:
        line = unwritable_output(err)
        if line is None:
            logger.exception("failed")
            raise
        logger.error("%s", line)
        print(f"ERROR: {line}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("failed")
        raise


#: What the operating system (and GDAL, which passes its words on) says when a file cannot be written.
_NOT_WRITABLE = {
    errno.EACCES: "Permission denied",
    errno.EPERM: "Operation not permitted",
    errno.EROFS: "Read-only file system",
}


def unwritable_output(err: OSError) -> str | None:
    """One line naming the path the operating system refused, when `err` says so (PermissionError,
    a read-only file system, or GDAL's "… failed: Operation not permitted"); None for any other
    OSError. A temporary of landslide_sar.io (an output being written: `.<name>.partial-…`,
    `.<name>.scratch-…`) is named by its folder."""
    reason = _NOT_WRITABLE.get(err.errno) if err.errno is not None else None
    path = err.filename
    if reason is None:
        text = " ".join(str(err).split())
        reason = next((r for r in _NOT_WRITABLE.values() if r in text), None)
        quoted = re.search(r"'([^']+)'|\"([^\"]+)\"", text)
        path = (quoted.group(1) or quoted.group(2)) if quoted else None
    if reason is None:
        return None
    if path is None:
        return f"a file could not be opened ({reason}); expected files and folders this user can read and write"
    where = Path(os.fsdecode(path))
    if re.match(r"\..+\.(partial|scratch)-", where.name):  # landslide_sar.io's temporaries: the folder matters
        return f"{where.parent}: cannot be written ({reason}); expected a folder this user can write"
    return f"{where}: {reason}; expected a path this user can read and write"


def usable_threads(threads: int) -> int:
    """Threads for a compute library: what the rule was given, but never more than the cores this
    process may run on (a --cores larger than the machine would otherwise oversubscribe it)."""
    return max(1, min(int(threads), len(os.sched_getaffinity(0))))
