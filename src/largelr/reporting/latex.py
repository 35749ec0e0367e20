"""Tables 1 and 2 as LaTeX that compiles and reads as the paper's tables (§4.2 Table 1, §5 Table 2).

One row per dataset and model (Table 2: and intervention), each quantity a min–max pair, ours
beside the paper's. The CSV keeps every column (:func:`largelr.reporting.tables.write_table`); this
module only lays out what a reader compares. Every text cell and the caption are escaped
(:func:`latex_escape`): pandas' ``to_latex`` escapes nothing by default, and names such as
``test_acc_min`` or ``moon_star`` break LaTeX. The fragment needs ``graphicx`` (``\\resizebox``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "†": r"\dag{}", "‡": r"\ddag{}", "κ": r"$\kappa$", "η": r"$\eta$", "ρ": r"$\rho$", "×": r"$\times$",
            "≥": r"$\geq$", "≤": r"$\leq$", "…": r"\dots{}", "–": "--", "—": "---", "<": r"$<$", ">": r"$>$"}


def latex_escape(text: Any) -> str:
    """``text`` as LaTeX text: the special characters escaped, the few symbols the tables use spelled out."""
    return "".join(_SPECIAL.get(char, char) for char in str(text))


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "--"
    return f"{value:.4g}" if isinstance(value, (int, float)) else latex_escape(value)


def min_max_quantities(frame: pd.DataFrame) -> list[str]:
    """The quantities of ``frame`` with a ``<q>_min`` and ``<q>_max`` column, in column order."""
    found = []
    for column in frame.columns:
        quantity = column[:-len("_min")] if column.endswith("_min") else None
        if quantity and f"{quantity}_max" in frame and quantity not in found:
            found.append(quantity)
    return found


def _pair(row: pd.Series, quantity: str, suffix: str = "") -> str:
    low, high = row.get(f"{quantity}_min{suffix}"), row.get(f"{quantity}_max{suffix}")
    return "--" if _number(low) == "--" and _number(high) == "--" else f"{_number(low)}--{_number(high)}"


def latex_table(frame: pd.DataFrame, keys: Sequence[str], caption: str = "") -> str:
    """``frame`` as a LaTeX ``table``: the ``keys`` columns, then per min–max quantity the pair of
    ours and, where ``frame`` has ``<q>_min_paper``, the paper's."""
    quantities = min_max_quantities(frame)
    with_paper = {q: f"{q}_min_paper" in frame or f"{q}_max_paper" in frame for q in quantities}
    spec = "l" * len(keys) + "".join("|cc" if with_paper[q] else "|c" for q in quantities)
    head = [latex_escape(k) for k in keys] + [
        rf"\multicolumn{{{2 if with_paper[q] else 1}}}{{c}}{{{latex_escape(q)}}}" for q in quantities]
    sub = [""] * len(keys) + [cell for q in quantities for cell in (("ours", "paper") if with_paper[q] else ("ours",))]
    lines = [r"\begin{table}[ht]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    lines += [r"\resizebox{\textwidth}{!}{%", rf"\begin{{tabular}}{{{spec}}}", r"\hline",
              " & ".join(head) + r" \\", " & ".join(sub) + r" \\", r"\hline"]
    for _, row in frame.iterrows():
        cells = [latex_escape(row[k]) for k in keys]
        for q in quantities:
            cells.append(_pair(row, q))
            if with_paper[q]:
                cells.append(_pair(row, q, "_paper"))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}}", r"\end{table}", ""]
    return "\n".join(lines)
