"""Name → generator table used by the ``generate_dataset`` rule (config ``datasets.*.generator``)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Sequence

from largelr.datasets.celeba_waterbirds import NATURAL_GENERATORS
from largelr.datasets.format import SpuriousDataset
from largelr.datasets.imagenet import IMAGENET_GENERATORS
from largelr.datasets.semisynthetic import SEMISYNTHETIC_GENERATORS
from largelr.datasets.standard import STANDARD_GENERATORS
from largelr.datasets.synthetic import generate_moon_star, generate_parity

GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {
    "parity": generate_parity,
    "moon_star": generate_moon_star,
    **SEMISYNTHETIC_GENERATORS,
    **STANDARD_GENERATORS,  # cifar10, cifar100
    **NATURAL_GENERATORS,  # celeba, waterbirds
    **IMAGENET_GENERATORS,  # imagenet (ImageFolder layout, Fig 11)
}
# Generators whose region masks mark some pixels CORE and others SPURIOUS, so that core vs. spurious
# attribution % (suppl. E.1, Figs 1, 3, 26) means something; the masks themselves say so at run time
# (largelr.analyses.attribution_stats.regions_separate_core_and_spurious), this flag at config time.
# Not here: Colored MNIST (the colour lies on the digit's pixels), Corrupted CIFAR-10 (the corruption
# covers the image), CIFAR-10/100, CelebA, Waterbirds, ImageNet (all pixels CORE).
REGION_SEPARATING_GENERATORS = frozenset({"parity", "moon_star", "double_mnist", "mnist_cifar"})
# Generators reading MNIST / CIFAR-10 files also receive these preset-level keys.
SOURCE_KEYS = ("data_root", "download")


def _generator(name: str) -> Callable[..., SpuriousDataset]:
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset generator {name!r}; known: {sorted(GENERATORS)}")
    return GENERATORS[name]


def masks_separate_core_and_spurious(generator: str) -> bool:
    """Whether the datasets of ``generator`` have separate CORE and SPURIOUS pixels (see the flag above)."""
    _generator(generator)
    return generator in REGION_SEPARATING_GENERATORS


def check_params(dataset_name: str, spec: dict[str, Any]) -> None:
    """Fail at parse time, naming the key, if ``params`` holds an argument the generator lacks."""
    accepted = set(inspect.signature(_generator(spec["generator"])).parameters) - set(SOURCE_KEYS)
    unknown = sorted(set(spec.get("params", {})) - accepted)
    if unknown:
        raise ValueError(
            f"datasets.{dataset_name}.params: unknown key(s) {unknown} for generator "
            f"{spec['generator']!r}; accepted: {sorted(accepted)}"
        )


def resolve_data_root(data_root: str | Sequence[str]) -> str:
    """The first existing folder of ``data_root`` (a folder or a list of candidates).

    When none exists the first candidate is returned: a generator then downloads into it
    (``download: true``) or fails naming the exact files it needs there.
    """
    candidates = [data_root] if isinstance(data_root, str) else list(data_root)
    return next((c for c in candidates if Path(c).is_dir()), candidates[0])


def build_dataset(spec: dict[str, Any], seed: int = 0, **source: Any) -> SpuriousDataset:
    """Run the generator of a ``datasets:`` entry; ``source`` holds data_root/download if it needs them."""
    generator = _generator(spec["generator"])
    accepted = inspect.signature(generator).parameters
    if "data_root" in source:
        source = {**source, "data_root": resolve_data_root(source["data_root"])}
    extra = {k: v for k, v in source.items() if k in accepted}
    params = dict(spec.get("params", {}))
    seed = params.pop("seed", seed)
    return generator(seed=seed, **params, **extra)
