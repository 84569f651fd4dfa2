"""Where and how training runs: device, determinism, threads, and progress into the rule's log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

import torch
from tqdm import tqdm

from landslide_sar.errors import InputError
from landslide_sar.runner import LogStream, usable_threads

logger = logging.getLogger(__name__)


class _LogStream(LogStream):
    """LogStream for tqdm without the bar's opening 0% refresh, which says nothing in a log."""

    def write(self, text: str) -> None:
        if "| 0/" not in text:
            super().write(text)


def progress(iterable: Sequence | range, desc: str, log: logging.Logger = logger) -> tqdm:
    """A tqdm bar written to `log` at INFO; refreshed at most every 10 s so logs stay short."""
    return tqdm(
        iterable,
        desc=desc,
        file=_LogStream(log),
        mininterval=10.0,
        ascii=True,
        disable=not log.isEnabledFor(logging.INFO),
    )


def resolve_device(device: str) -> torch.device:
    """ "auto" -> cuda when available, else cpu; anything else as given (cuda must be available)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={device!r} but CUDA is not available; expected auto or cpu")
    return dev


def set_threads(threads: int) -> int:
    """torch's intra-op threads: the rule's `threads`, never more than this process's cores."""
    n = usable_threads(threads)
    torch.set_num_threads(n)
    return n


def _use_deterministic_algorithms(mode: bool, warn_only: bool) -> None:
    """torch.use_deterministic_algorithms without its import of torch._inductor (2-3 s in every
    training job): that import only sets inductor's flag for torch.compile, which the project never
    uses; once inductor is loaded (by a user's code) the public call sets both."""
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch and use deterministic algorithms inside the block (restored after)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.manual_seed(seed)
    _use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        _use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn
