"""Display names of the datasets in figure titles (torch- and matplotlib-free: the Snakefile imports it)."""

DISPLAY_NAMES = {
    "colored_mnist": "Colored MNIST",
    "double_mnist": "Double MNIST",
    "mnist_cifar": "MNIST-CIFAR",
    "corrupted_cifar10": "Corrupted CIFAR-10",
    # the FCN cells of the CIFAR-based datasets train on rho_train = 0.25 (§4.1; paper preset)
    "mnist_cifar_fcn": "MNIST-CIFAR (ρ = 0.25)",
    "corrupted_cifar10_fcn": "Corrupted CIFAR-10 (ρ = 0.25)",
    "moon_star": "Moon-star",
    "parity": "Parity",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "celeba": "CelebA",
    "waterbirds": "Waterbirds",
}


SMOKE_NOTE = "SMOKE run: a dress rehearsal, not evidence"


def scale_note(preset: str, scale: str = "reduced") -> str:
    """The footer line saying that a figure comes from a reduced preset ("" for a preset whose
    ``scale`` is ``full``, the paper's data and grid); a smoke preset (``paper-smoke``, issue 25)
    says it is one, whatever its scale."""
    if preset.endswith("-smoke"):  # largelr.config.smoke.SUFFIX (this module stays import-free)
        return f"preset '{preset}': {SMOKE_NOTE}"
    if scale == "full":
        return ""
    return f"preset '{preset}': reduced scale (smaller data and grid than the paper's)"
