"""The ``largelr`` console script: watch a sweep from its results folder (issue 19).

``largelr status`` prints the cells of a preset (done, training, not started), the status
counts of the done ones and the progress of every running training job; ``largelr summarize``
(``--partial`` implied) writes ``summary/runs.partial.csv`` and ``tables/claims.partial.{csv,md}``
from the runs finished so far; ``largelr tensorboard`` writes every cell's curves and hyper-parameters
as TensorBoard runs under ``results/{preset}/tensorboard/`` (issue 28, :mod:`largelr.tensorboard_runs`).
They read only ``results/{preset}/`` and ``config.yaml`` (for the preset's grid): they never run or
touch the Snakemake DAG (:mod:`largelr.monitor`). ``largelr fixtures DIR`` writes tiny real-format
CIFAR-100 / CelebA / Waterbirds / ImageNet trees and random Swin-T / DeepLabV3 weights and prints the
``--config`` that points ``paper`` at them (:mod:`largelr.fixtures`, issue 25: the ``paper`` smoke
without licensed data).
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
                            ("summarize", "tables of the runs finished so far (runs.partial.csv, claims.partial.*)"),
                            ("tensorboard", "write every cell's curves and hparams under results/P/tensorboard/")):
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
    fixtures = commands.add_parser("fixtures", help="tiny real-format data and random weights for the paper smoke",
                                   description=_fixtures_help())
    fixtures.add_argument("dir", type=Path, help="the folder to write (the printed data_root)")
    fixtures.add_argument("--link-from", type=Path, default=Path("../shared/data"),
                          help="link its MNIST/ and cifar-10-batches-py/ into DIR when present "
                               "(default: ../shared/data); else download: true fetches them")
    return parser


def _fixtures_help() -> str:
    from largelr import fixtures

    return fixtures.__doc__.split("\n\n")[0]


def _fixtures(args: argparse.Namespace) -> int:
    """``largelr fixtures DIR``: write them, print the snakemake command of the paper smoke on them."""
    import shlex

    from largelr.fixtures import config_arguments, write_fixtures

    config = write_fixtures(args.dir, args.link_from)
    arguments = " ".join(shlex.quote(argument) for argument in config_arguments(config))
    print(f"wrote {args.dir} (tiny data, RANDOM weights: a dress rehearsal only); the paper smoke on them:")
    print(f"snakemake --cores all --config preset=paper smoke=true {arguments}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fixtures":
        return _fixtures(args)
    args.config = args.config or [Path("config.yaml")]
    if missing := [str(path) for path in args.config if not path.exists()]:
        sys.exit(f"largelr: no {', '.join(missing)} (the preset's grid is read from it); run from the workflow's "
                 "folder or pass --config")
    name, preset = monitor.load_preset(args.config, args.preset)
    results = args.results / name
    if args.command == "status":
        print(monitor.format_status(monitor.survey(results, name, preset)))
        return 0
    if args.command == "tensorboard":
        return _tensorboard(results, preset)
    summary = monitor.summarize_partial(results, preset)
    print(f"{results / monitor.PARTIAL_RUNS}: {summary.evaluated} runs ({summary.trained} of {summary.cells} "
          f"trained, {summary.trained - summary.evaluated} not yet evaluated)")
    verdicts = ", ".join(f"{n} {verdict}" for verdict, n in summary.verdicts.items()) or "no rows yet"
    print(f"{results / monitor.PARTIAL_CLAIMS}.{{csv,md}}: {summary.claims_rows} rows ({verdicts})")
    return 0


def _tensorboard(results: Path, preset: dict) -> int:
    from largelr import tensorboard_runs

    if (hint := tensorboard_runs.tensorboard_missing()) is not None:
        print(hint, file=sys.stderr)
        return 1
    written = tensorboard_runs.write_tensorboard(results, preset)
    print(f"{results / 'tensorboard'}: {written.runs} of {written.cells} cells have a run so far "
          f"({written.rewritten} written now, the others up to date); "
          f"view: tensorboard --logdir {results / 'tensorboard'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
