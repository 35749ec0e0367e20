"""Which of the paper's figures a preset builds, and why the others are left out (SPEC §6, §8).

``PAPER_FIGURES`` lists every figure of the paper (1–34) with its caption in short and, for
the figures a CPU-only preset cannot reach, the reason. :func:`figure_inventory` turns a
preset's ``figures`` block into the table written to ``results/{preset}/figures/inventory``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

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


def figure_number(name: str) -> int | None:
    """``fig07`` / ``fig07b`` → 7; a name that is not ``figNN…`` → ``None``."""
    digits = name[3:5] if name.startswith("fig") else ""
    return int(digits) if len(digits) == 2 and digits.isdigit() else None


def paper_caption(name: str) -> str:
    number = figure_number(name)
    return PAPER_FIGURES[number][0] if number in PAPER_FIGURES else name


def figure_inventory(preset_name: str, figures: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per paper figure (and per extra figure of the preset): built here or not, and why."""
    built: dict[int, list[str]] = {}
    for name in figures:
        built.setdefault(figure_number(name) or 0, []).append(name)
    scale = "paper" if preset_name == "paper" else "demo scale"
    rows = []
    for number, (caption, blocker) in PAPER_FIGURES.items():
        names = built.get(number, [])
        reason = "" if names else (blocker or f"not requested by preset '{preset_name}' (CPU time budget)")
        rows.append({"figure": number, "paper_caption": caption, "files": ", ".join(sorted(names)),
                     "built": bool(names), "scale": scale if names else "", "reason": reason})
    return pd.DataFrame(rows)
