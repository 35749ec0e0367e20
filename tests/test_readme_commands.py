"""Every command in the fenced code blocks of README.md and docs/*.md is checked, so neither can drift
from the workflow: `snakemake` commands dry-run; `largelr` and `python <script>.py` commands run with
``--help`` appended (their options are parsed as written: a removed option or a misspelt value fails).

What is taken from README.md and docs/*.md: the lines of its fenced code blocks (```` ``` ````), with ``\\``
continuations joined and ``#`` comments dropped, split at ``&&`` / ``||`` / ``;``; every part whose
first word is ``snakemake`` is one test case, named by the command (so
``pip install -e . && snakemake --cores all`` checks ``snakemake --cores all``). Commands in
inline code or prose are not read.

How a case is checked: the command's own arguments, plus ``-n --quiet --directory <tmp>``, run
as ``python -m snakemake ...`` from the repository root, as a reader would type them there:
relative paths (``--profile profiles/local``, targets) resolve as in the README, the Snakefile and
``config.yaml`` are the checkout's, and results, locks and ``.snakemake/`` go to ``<tmp>`` (a fresh
folder: the dry-run plans the whole DAG, as on a first run). It must exit 0. Raw data is not
needed: building the DAG reads no dataset files.

Where a dry-run cannot carry the command as written, it is said here and in the skip reason:

- ``--report FILE`` builds a report from finished results; with ``-n`` Snakemake still tries
  to build it and fails on the first missing result. So the full command line is parsed by
  Snakemake's own argument parser (a misspelt or removed flag fails the test), then the report
  flag is dropped and the rest dry-runs (the DAG whose outputs the report shows). A real report
  is built by ``tests/test_workflow.py::test_report_builds_with_the_figures`` (marker ``workflow``).
- ``--profile profiles/slurm`` (a profile or ``--executor`` naming a plugin executor) needs
  ``snakemake-executor-plugin-slurm``: skipped, with that reason, where the plugin is not
  importable. The dry-run submits nothing, so no cluster is needed.
- ``--use-conda`` makes even a dry-run call ``conda info``: skipped where no ``conda`` / ``mamba``
  is on PATH (the environments themselves are checked by ``tests/test_envs.py``).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil

import pytest
import yaml

from helpers import REPO, run_snakemake

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
FENCE = re.compile(r"^\s*(```|~~~)")
SNAKEMAKE = re.compile(r"\bsnakemake\b")


def fenced_lines(text: str) -> list[str]:
    """The logical lines of the fenced code blocks: ``\\``-continued lines joined."""
    lines, inside, pending = [], False, ""
    for line in text.splitlines():
        if FENCE.match(line):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return lines


def shell_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, as argument lists (comments dropped, split at && || ;)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True  # only the operators break words: `'training={max_iters: 300}'` stays one
    commands, current = [], []
    for token in lexer:
        if token in {"&&", "||", ";", "&", "|"}:
            commands.append(current)
            current = []
        else:
            current.append(token)
    return [command for command in commands + [current] if command]


def readme_snakemake_commands(text: str) -> list[list[str]]:
    """Every ``snakemake`` command of the fenced code blocks, once each, in README order."""
    found = []
    for line in fenced_lines(text):
        if not SNAKEMAKE.search(line):  # a block may hold a file tree or YAML, not shell
            continue
        for command in shell_commands(line):
            if command[0] == "snakemake" and command not in found:
                found.append(command)
    return found


COMMANDS = readme_snakemake_commands(README.read_text())
for _doc in DOCS:
    COMMANDS += [command for command in readme_snakemake_commands(_doc.read_text()) if command not in COMMANDS]


def program_commands(text: str) -> list[list[str]]:
    """Every ``largelr`` and ``python <script>.py`` command of the fenced code blocks, once each."""
    found = []
    for line in fenced_lines(text):
        if line.split()[:1] not in (["largelr"], ["python"], ["python3"]):  # a block may hold a file tree or output
            continue
        for command in shell_commands(line):
            script = len(command) > 1 and command[0] in ("python", "python3") and command[1].endswith(".py")
            if (command[0] == "largelr" or script) and command not in found:
                found.append(command)
    return found


PROGRAMS = [command for path in [README, *DOCS] for command in program_commands(path.read_text())]
PROGRAMS = [command for i, command in enumerate(PROGRAMS) if command not in PROGRAMS[:i]]


def test_readme_lists_snakemake_commands():
    assert len(COMMANDS) >= 5, COMMANDS  # a parser that finds nothing must not pass silently


def test_parser_joins_continuations_splits_operators_and_keeps_quoted_values():
    text = ("prose snakemake --nope\n```bash\npip install -e . && snakemake --cores all \\\n"
            "  --config 'training={max_iters: 300}'   # a comment\n```\nsnakemake --outside\n")
    assert readme_snakemake_commands(text) == [["snakemake", "--cores", "all", "--config",
                                                "training={max_iters: 300}"]]


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` / ``--name=VALUE`` in ``args`` (None when absent)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _executor(args: list[str]) -> str | None:
    """The executor the command asks for: ``--executor`` / ``-e``, else its ``--profile``'s ``executor:``."""
    named = _option(args, "--executor") or _option(args, "-e")
    profile = _option(args, "--profile")
    if named or not profile or not (REPO / profile / "config.yaml").exists():
        return named
    return (yaml.safe_load((REPO / profile / "config.yaml").read_text()) or {}).get("executor")


def _without_report(args: list[str]) -> list[str]:
    """``args`` less ``--report FILE`` / ``--report=FILE``."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--report":
            skip = True
        elif not arg.startswith("--report="):
            out.append(arg)
    return out


@pytest.mark.parametrize("command", COMMANDS, ids=shlex.join)
def test_readme_command_dry_runs(command, tmp_path):
    args = command[1:]
    executor = _executor(args)
    if executor not in (None, "local", "dryrun") and importlib.util.find_spec(
            f"snakemake_executor_plugin_{executor}") is None:
        pytest.skip(f"needs snakemake-executor-plugin-{executor} (pip install snakemake-executor-plugin-{executor})")
    if "--use-conda" in args and not (shutil.which("conda") or shutil.which("mamba")):
        pytest.skip("--use-conda: even a dry-run calls `conda info`, and no conda/mamba is on PATH")
    if _option(args, "--report") is not None:
        from snakemake.cli import get_argument_parser

        try:
            get_argument_parser().parse_args(args)  # the report command as written
        except SystemExit:
            pytest.fail(f"snakemake does not accept {shlex.join(command)} (see the usage message above)")
        args = _without_report(args)
    result = run_snakemake(tmp_path / "work", *args, "-n", "--quiet", timeout=600, cwd=REPO)
    assert result.returncode == 0, f"{shlex.join(command)} -n failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"


def test_docs_list_program_commands():
    assert any(command[0] == "largelr" for command in PROGRAMS), PROGRAMS


@pytest.mark.parametrize("command", PROGRAMS, ids=shlex.join)
def test_readme_and_docs_program_commands_parse(command):
    """A ``largelr`` / ``python script.py`` command, its options as written, plus ``--help``: exits 0."""
    import os
    import subprocess
    import sys

    program = [sys.executable, "-m", "largelr.cli"] if command[0] == "largelr" else [sys.executable, command[1]]
    args = command[1:] if command[0] == "largelr" else command[2:]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([*program, *args, "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "usage" in done.stdout.lower(), f"{shlex.join(command)} --help:\n{done.stderr[-2000:]}"
