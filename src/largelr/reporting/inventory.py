"""Which of the paper's figures a preset builds, panel by panel, and why the others are left out.

``PAPER_FIGURES`` lists every figure of the paper (1–34) with its caption in short and, for
the figures a CPU-only preset cannot reach, the reason. ``PAPER_PANELS`` splits a figure into
the panels its caption names ("(top left)", "(right)", one per dataset where the caption
compares datasets); a figure not listed there is one panel. A panel is drawn by one figure of a
preset (its ``figures:`` key, e.g. ``fig28d``), and, where it shows one dataset, only if that
figure draws a dataset of that generator. A figure counts as built only when every panel is.
:func:`figure_inventory` reads which preset builds what from the resolved presets (all of
them: the inventory of one preset names the presets that build what it lacks) and gives the
table written to ``results/{preset}/figures/inventory``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from largelr.figure_spec import figure_datasets

# number → (short paper caption, why a CPU preset without extra data cannot build it, or "")
PAPER_FIGURES: dict[int, tuple[str, str]] = {
    1: ("overview: Double MNIST statistics and low- vs high-LR attributions", ""),
    2: ("example images of the semi-synthetic datasets", ""),
    3: ("parity: metrics vs LR (left), attributions through training (right)", ""),
    4: ("semi-synthetic data: accuracy, prunability, activation compressibility vs LR", ""),
    5: ("semi-synthetic data: accuracy, CSI, class separation vs LR", ""),
    6: ("hyper-parameters, regularisers and losses vs LR (interventions)", ""),
    7: ("CelebA + Swin-T: attributions and statistics vs LR",
        "CelebA is licence-restricted (manual download) and Swin-T needs a GPU"),
    8: ("ResNet18 attributions of hard samples, low vs high LR",
        "needs ResNet18 trained on CIFAR-10/100 with 10 seeds per LR (GPU)"),
    9: ("training loss, unbiased accuracy and spurious-utilisation landscapes", ""),
    10: ("CIFAR-10/100: accuracy, prunability, attribution entropy, background attribution %",
         "background % needs DeepLabV3 VOC weights as a local file (analysis.segmenter.weights_path)"),
    11: ("ImageNet-1k + ResNet18: statistics and attributions",
         "ImageNet-1k is licence-restricted and needs a GPU cluster"),
    12: ("unbiased accuracy vs max BC-loss ratio", ""),
    13: ("training dynamics: attribution maps and statistics through training", ""),
    14: ("Integrated Gradients vs DeepLift", ""),
    15: ("moon-star: metrics vs LR", ""),
    16: ("Corrupted CIFAR-10: metrics vs LR", ""),
    17: ("representation statistics vs LR", ""),
    18: ("Waterbirds: metrics vs LR",
         "Waterbirds is not downloadable offline (place the Sagawa et al. release under data_root)"),
    19: ("interventions with ResNet18 / ResNet50", "ResNet interventions need a GPU"),
    20: ("column pruning curves per LR", ""),
    21: ("global magnitude pruning curves per LR", ""),
    22: ("LR annealing (LR x 0.1 after iteration 1000)", ""),
    23: ("Adam", ""),
    24: ("training to a loss below 1e-5", ""),
    25: ("alternative compressibility notions (parameters and activations)", ""),
    26: ("CSI vs core-feature attribution %", ""),
    27: ("BC-loss ratio and accuracy vs LR (ResNet18 / ResNet50)", ""),
    28: ("optimizers and schedules (PSGD-Kron + WSD, AdamW + cosine), LR drop, single neuron", ""),
    29: ("attribution gallery: Colored MNIST", ""),
    30: ("attribution gallery: MNIST-CIFAR", ""),
    31: ("attribution gallery: Double MNIST", ""),
    32: ("attribution gallery: CelebA", "CelebA is licence-restricted and Swin-T needs a GPU"),
    33: ("attribution gallery: CIFAR-10 (ResNet18)", "ResNet18 on CIFAR-10 with 10 seeds per LR needs a GPU"),
    34: ("attribution gallery: CIFAR-100 (ResNet18)", "ResNet18 on CIFAR-100 with 10 seeds per LR needs a GPU"),
}




@dataclass(frozen=True)
class Panel:
    """One panel of a paper figure: its label, the preset figure that draws it (``figures:``
    key), the dataset generator it shows ("" = any) and the intervention whose cells it must
    draw ("" = none; e.g. Fig 9's focal-loss models, a landscape figure's ``interventions``); ``missing``
    says why no preset draws it, where none does."""

    label: str
    file: str
    generator: str = ""
    intervention: str = ""
    missing: str = ""


SEMI_SYNTHETIC = (("Colored MNIST", "colored_mnist"), ("Corrupted CIFAR-10", "corrupted_cifar10"),
                  ("MNIST-CIFAR", "mnist_cifar"), ("Double MNIST", "double_mnist"))


def _per_dataset(file: str, datasets: tuple[tuple[str, str], ...] = SEMI_SYNTHETIC) -> tuple[Panel, ...]:
    return tuple(Panel(label, file, generator) for label, generator in datasets)


# figure number → its panels, after the captions (figures not listed: one panel, figure fNN)
PAPER_PANELS: dict[int, tuple[Panel, ...]] = {
    1: (Panel("top left: statistics vs LR", "fig01"), Panel("top right: attributions", "fig01b"),
        Panel("bottom: standard classification (background vulnerability vs accuracy)", "fig01c",
              missing="no figure kind draws it; Fig 10 draws the same CIFAR runs' background attribution")),
    2: _per_dataset("fig02"),
    3: (Panel("left: metrics vs LR", "fig03"), Panel("right: attributions through training", "fig03b")),
    4: _per_dataset("fig04"),
    5: _per_dataset("fig05"),
    7: (Panel("top: attributions", "fig07b"), Panel("bottom: statistics vs LR", "fig07")),
    8: _per_dataset("fig08", (("MNIST-CIFAR", "mnist_cifar"), ("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"))),
    9: (Panel("models with different LRs", "fig09"),
        Panel("focal-loss models (FL)", "fig09", intervention="focal_gamma")),
    10: _per_dataset("fig10", (("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"))),
    11: (Panel("left: statistics vs LR", "fig11"), Panel("right: attributions", "fig11b")),
    12: _per_dataset("fig12"),
    13: _per_dataset("fig13", (("Colored MNIST", "colored_mnist"), ("CIFAR-10", "cifar10"))),
    16: (Panel("Corrupted CIFAR-10", "fig16", "corrupted_cifar10"),),
    17: _per_dataset("fig17"),
    19: (Panel("top: Double MNIST, ResNet18", "fig19", "double_mnist"),
         Panel("bottom: Colored MNIST, ResNet50", "fig19b", "colored_mnist")),
    20: _per_dataset("fig20", (("top: Double MNIST", "double_mnist"), ("bottom: Colored MNIST", "colored_mnist"))),
    21: _per_dataset("fig21", (("top: Double MNIST", "double_mnist"), ("bottom: Colored MNIST", "colored_mnist"))),
    24: (Panel("top: metrics vs LR", "fig24"),
         Panel("bottom: test accuracy beyond convergence (through training)", "fig24b",
               missing="no figure kind draws test accuracy through training (history.csv holds it)")),
    28: (Panel("top left: PSGD-Kron + WSD", "fig28"), Panel("top centre: AdamW + cosine + validation", "fig28b"),
         Panel("top right: LR drop at iteration i", "fig28d"), Panel("bottom: one neuron's spurious utilisation",
                                                                       "fig28c")),
}


def paper_panels(number: int) -> tuple[Panel, ...]:
    """The panels of paper figure ``number`` (one panel ``figNN`` where the caption names none)."""
    return PAPER_PANELS.get(number, (Panel("whole figure", f"fig{number:02d}"),))


def builds_panel(preset: dict[str, Any], panel: Panel) -> bool:
    """Whether ``preset`` (its ``figures`` and ``datasets`` blocks) draws ``panel``."""
    spec = preset.get("figures", {}).get(panel.file)
    if spec is None:
        return False
    generators = {preset["datasets"][d]["generator"] for d in figure_datasets(spec) if d in preset["datasets"]}
    if panel.generator and panel.generator not in generators:
        return False
    return not panel.intervention or any(label.startswith(f"{panel.intervention}=")
                                         for label in spec.get("interventions", []))


def figure_number(name: str) -> int | None:
    """``fig07`` / ``fig07b`` → 7; a name that is not ``figNN…`` → ``None``."""
    digits = name[3:5] if name.startswith("fig") else ""
    return int(digits) if len(digits) == 2 and digits.isdigit() else None


def paper_caption(name: str) -> str:
    number = figure_number(name)
    return PAPER_FIGURES[number][0] if number in PAPER_FIGURES else name


def _names(presets: list[str]) -> str:
    return ("preset " if len(presets) == 1 else "presets ") + ", ".join(presets)


def panel_inventory(preset_name: str, presets: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per panel of every paper figure: drawn by preset ``preset_name`` or not, why
    not, and which of ``presets`` (name → resolved preset, ``preset_name`` among them) draw it."""
    rows = []
    for number, (_, blocker) in PAPER_FIGURES.items():
        for panel in paper_panels(number):
            built = builds_panel(presets[preset_name], panel)
            by = [name for name, preset in presets.items() if builds_panel(preset, panel)]
            reason = ""
            if not built:
                why = blocker or ("CPU time budget" if by else panel.missing)
                reason = (f"not requested by preset '{preset_name}'" if by else "drawn by no preset") + (
                    f" ({why})" if why else "") + (f"; built by {_names(by)}" if by else "")
            rows.append({"figure": number, "panel": panel.label, "file": panel.file, "built": built,
                         "built_by": ", ".join(by), "reason": reason})
    return pd.DataFrame(rows)


def figure_inventory(preset_name: str, presets: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per paper figure: built by preset ``preset_name`` (every panel drawn) or not, the
    panels drawn, each missing panel with its reason, and the presets that build the figure whole
    (``built_by``; see :func:`panel_inventory`)."""
    panels = panel_inventory(preset_name, presets)
    own = presets[preset_name].get("figures", {})
    scale = "paper" if presets[preset_name].get("scale") == "full" else "reduced scale"
    rows = []
    for number, (caption, _) in PAPER_FIGURES.items():
        mine = panels[panels["figure"] == number]
        missing = mine[~mine["built"]]
        whole = [name for name in presets if all(builds_panel(presets[name], p) for p in paper_panels(number))]
        rows.append({"figure": number, "paper_caption": caption,
                     "files": ", ".join(sorted(n for n in own if figure_number(n) == number)),
                     "built": missing.empty, "panels_built": f"{int(mine['built'].sum())}/{len(mine)}",
                     "scale": scale if mine["built"].any() else "", "built_by": ", ".join(whole),
                     "reason": "; ".join(f"{row.panel}: {row.reason}" for row in missing.itertuples())
                     if len(mine) > 1 else (missing["reason"].iloc[0] if len(missing) else "")})
    return pd.DataFrame(rows)
