"""envs/*.yaml must provide every third-party module that the rules using them import.

Conda channels are unreachable where this project is developed, so the environments are
kept true by this test: for every rule with a ``script:``, follow the script's imports
through the ``largelr`` package and check each third-party module against the packages
listed in the rule's ``conda:`` file (conda and pip sections). Imports guarded by
``try/except ImportError`` are optional and skipped. pandas imports some packages only when a
method needs them (``to_markdown``: tabulate, ``to_latex`` and ``.style``: jinja2): a call of one
counts as an import of its package (:data:`PANDAS_OPTIONAL`).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

# import name -> package name in conda-forge / PyPI (when they differ)
PACKAGE_OF = {"yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "cv2": "opencv",
              "segmentation_models_pytorch": "segmentation-models-pytorch", "skimage": "scikit-image"}
EQUIVALENT = {"matplotlib": {"matplotlib", "matplotlib-base"}, "opencv": {"opencv", "opencv-python-headless"}}

# pandas' optional dependencies: a method call that needs one (pandas imports it only then)
PANDAS_OPTIONAL = {"to_markdown": "tabulate", "to_latex": "jinja2", "style": "jinja2"}
RULE = re.compile(r"^rule (\w+):(.*?)(?=^rule |\Z)", re.S | re.M)
DIRECTIVE = r"^\s+{}:\s*\n\s+\"([^\"]+)\""


def rules_with_scripts(repo: Path) -> list[tuple[str, Path, Path]]:
    found = []
    for smk in sorted((repo / "workflow/rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            script = re.search(DIRECTIVE.format("script"), body, re.M)
            conda = re.search(DIRECTIVE.format("conda"), body, re.M)
            if script:
                assert conda, f"rule {name} in {smk.name} runs a script but declares no conda env"
                found.append((name, (smk.parent / script.group(1)).resolve(), (smk.parent / conda.group(1)).resolve()))
    return found


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"} for h in node.handlers
        ):
            return True
    return False


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not _optional(node, parents):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute) and node.attr in PANDAS_OPTIONAL and "pandas" in _imported_tops(tree):
            names.add(PANDAS_OPTIONAL[node.attr])
    return names


def _imported_tops(tree: ast.AST) -> set[str]:
    return {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def third_party_imports(script: Path, src: Path) -> set[str]:
    """Top-level third-party modules reachable from ``script`` through the largelr package."""
    seen, todo, third_party = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "largelr":
                base = src / Path(*module.split("."))
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.exists():
                        todo.append(candidate)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def env_packages(env_file: Path) -> set[str]:
    spec = yaml.safe_load(env_file.read_text())
    names = set()
    for dep in spec["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            names.add(re.split(r"[=<>!~ \[]", entry.strip(), maxsplit=1)[0].lower())
    return names


def test_every_script_rule_is_found(repo):
    names = {name for name, _, _ in rules_with_scripts(repo)}
    assert {"generate_dataset", "train_group", "evaluate", "summarize", "figure"} <= names


REPO = Path(__file__).resolve().parents[1]
RULES = rules_with_scripts(REPO)


@pytest.mark.parametrize(("name", "script", "env_file"), RULES, ids=[rule[0] for rule in RULES])
def test_conda_env_provides_every_import_of_the_rule(repo, name, script, env_file):
    provided = env_packages(env_file)
    for module in sorted(third_party_imports(script, repo / "src")):
        package = PACKAGE_OF.get(module, module).lower()
        assert EQUIVALENT.get(package, {package}) & provided, (
            f"rule {name}: {script.name} imports {module!r} but {env_file.name} does not list {package!r}"
        )


def test_plotting_env_stays_free_of_torch(repo):
    for name, script, env_file in rules_with_scripts(repo):
        if env_file.name == "plot.yaml":
            assert "torch" not in third_party_imports(script, repo / "src"), name


CONDA = re.compile(r"^\s+conda:\s*\n?\s*\"([^\"]+)\"", re.M)
USED_BY = re.compile(r"^# Used by rules: (.+)\.$", re.M)


def rules_by_env(repo: Path) -> dict[str, set[str]]:
    """``envs/*.yaml`` file name -> the rules (of ``workflow/rules/*.smk``) whose ``conda:`` names it."""
    found: dict[str, set[str]] = {}
    for smk in sorted((repo / "workflow/rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda = CONDA.search(body)
            if conda:
                found.setdefault(Path(conda.group(1)).name, set()).add(name)
    return found


@pytest.mark.parametrize("env_file", sorted((REPO / "envs").glob("*.yaml")), ids=lambda path: path.name)
def test_env_header_names_the_rules_that_use_it(repo, env_file):
    """The header line ``# Used by rules: a, b, prefix*.`` lists every rule of the env, and only those."""
    header = USED_BY.search(env_file.read_text())
    assert header, f"{env_file.name}: no '# Used by rules: ...' header line"
    named = [word.strip() for word in header.group(1).split(",")]
    using = rules_by_env(repo).get(env_file.name, set())

    def covers(word: str, rule: str) -> bool:
        return rule.startswith(word[:-1]) if word.endswith("*") else rule == word

    missing = sorted(rule for rule in using if not any(covers(word, rule) for word in named))
    stale = [word for word in named if not any(covers(word, rule) for rule in using)]
    assert not missing, f"{env_file.name}'s header does not name rules that use it: {missing}"
    assert not stale, f"{env_file.name}'s header names rules that do not use it (or no longer exist): {stale}"
