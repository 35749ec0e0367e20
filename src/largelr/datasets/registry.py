"""Name → generator table used by the ``generate_dataset`` rule (config ``datasets.*.generator``)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from largelr.datasets.format import SpuriousDataset
from largelr.datasets.synthetic import generate_moon_star, generate_parity

GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {
    "parity": generate_parity,
    "moon_star": generate_moon_star,
}
# Generators reading MNIST / CIFAR-10 files also receive these preset-level keys.
SOURCE_KEYS = ("data_root", "download")


def _generator(name: str) -> Callable[..., SpuriousDataset]:
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset generator {name!r}; known: {sorted(GENERATORS)}")
    return GENERATORS[name]


def check_params(dataset_name: str, spec: dict[str, Any]) -> None:
    """Fail at parse time, naming the key, if ``params`` holds an argument the generator lacks."""
    accepted = set(inspect.signature(_generator(spec["generator"])).parameters) - set(SOURCE_KEYS)
    unknown = sorted(set(spec.get("params", {})) - accepted)
    if unknown:
        raise ValueError(
            f"datasets.{dataset_name}.params: unknown key(s) {unknown} for generator "
            f"{spec['generator']!r}; accepted: {sorted(accepted)}"
        )


def build_dataset(spec: dict[str, Any], seed: int = 0, **source: Any) -> SpuriousDataset:
    """Run the generator of a ``datasets:`` entry; ``source`` holds data_root/download if it needs them."""
    generator = _generator(spec["generator"])
    accepted = inspect.signature(generator).parameters
    extra = {k: v for k, v in source.items() if k in accepted}
    params = dict(spec.get("params", {}))
    seed = params.pop("seed", seed)
    return generator(seed=seed, **params, **extra)
