"""The ``largelr`` console script: watch a sweep from its results folder (issue 19).

``largelr status`` prints the cells of a preset (done, training, not started), the status
counts of the done ones and the progress of every running training job; ``largelr summarize``
(``--partial`` implied) writes ``summary/runs.partial.csv`` and ``tables/claims.partial.{csv,md}``
from the runs finished so far. Both read only ``results/{preset}/`` and ``config.yaml`` (for the preset's
grid): they never run or touch the Snakemake DAG (:mod:`largelr.monitor`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from largelr import monitor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="largelr", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("status", "cells done / training / not started and the progress of running jobs"),
                            ("summarize", "tables of the runs finished so far (runs.partial.csv, claims.partial.*)")):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--preset", help="preset to read (default: config.yaml's `preset`)")
        command.add_argument("--results", default="results", type=Path,
                             help="the results folder holding one folder per preset (default: results)")
        command.add_argument("--config", action="append", type=Path,
                             help="the workflow's config file, for the preset's grid (default: config.yaml); "
                                  "repeat it to add a --configfile of the run, merged in order as Snakemake does")
        if name == "summarize":
            command.add_argument("--partial", action="store_true",
                                 help="accepted and implied: summarize always writes the partial files "
                                      "summary/runs.partial.csv and tables/claims.partial.{csv,md} (the full "
                                      "tables are Snakemake targets)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.config = args.config or [Path("config.yaml")]
    if missing := [str(path) for path in args.config if not path.exists()]:
        sys.exit(f"largelr: no {', '.join(missing)} (the preset's grid is read from it); run from the workflow's "
                 "folder or pass --config")
    name, preset = monitor.load_preset(args.config, args.preset)
    results = args.results / name
    if args.command == "status":
        print(monitor.format_status(monitor.survey(results, name, preset)))
        return 0
    summary = monitor.summarize_partial(results, preset)
    print(f"{results / monitor.PARTIAL_RUNS}: {summary.evaluated} runs ({summary.trained} of {summary.cells} "
          f"trained, {summary.trained - summary.evaluated} not yet evaluated)")
    verdicts = ", ".join(f"{n} {verdict}" for verdict, n in summary.verdicts.items()) or "no rows yet"
    print(f"{results / monitor.PARTIAL_CLAIMS}.{{csv,md}}: {summary.claims_rows} rows ({verdicts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
