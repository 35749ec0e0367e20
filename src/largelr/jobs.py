"""What every Snakemake job does first: log to the rule's log file, pin CPU threads."""

from __future__ import annotations

import logging
import sys
from typing import Any


def start_job(snakemake: Any) -> logging.Logger:
    """Send log records (and uncaught tracebacks) to ``snakemake.log[0]``; use ``threads`` threads."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        # open for the job's whole life: stderr and the log handler write to it
        log_file = open(snakemake.log[0], "w", buffering=1, encoding="utf-8")
        sys.stderr = log_file
        handlers = [logging.StreamHandler(log_file)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    try:  # plotting jobs run in an environment without torch
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(max(1, int(snakemake.threads)))
    return logging.getLogger(f"largelr.{snakemake.rule}")
