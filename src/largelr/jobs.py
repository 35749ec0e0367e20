"""What every Snakemake job does first: log to the rule's log file, pin the CPU kernels and threads."""

from __future__ import annotations

import logging
import sys
from typing import Any

from largelr.portable import check_pinned, pin_cpu_kernels, pins_preset


def start_job(snakemake: Any) -> logging.Logger:
    """Send log records (and uncaught tracebacks) to ``snakemake.log[0]``; in a preset with
    ``portable_numbers`` pin the CPU kernels (:func:`largelr.portable.pin_cpu_kernels`: the same
    numbers on any x86-64 CPU with AVX2); use the rule's ``threads`` threads; log the kernels."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        # open for the job's whole life: stderr and the log handler write to it
        log_file = open(snakemake.log[0], "w", buffering=1, encoding="utf-8")
        sys.stderr = log_file
        handlers = [logging.StreamHandler(log_file)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    log = logging.getLogger(f"largelr.{snakemake.rule}")
    threads = max(1, int(snakemake.threads))
    preset = getattr(snakemake.wildcards, "preset", None)
    if pins_preset(preset):  # before torch's first op (the libraries read it then)
        why_not = pin_cpu_kernels(threads)
    else:
        why_not = f"portable_numbers is off for preset {preset!r}"
    try:  # plotting jobs run in an environment without torch
        import torch
    except ImportError:
        return log
    torch.set_num_threads(threads)
    kernels = check_pinned(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())
    log.info("CPU kernels: %s%s", kernels, f" (not pinned: {why_not})" if why_not else "")
    return log
