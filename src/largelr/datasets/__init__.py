"""Spurious-correlation datasets (§4.1, suppl. C): generators and the shared on-disk format."""

from largelr.datasets.format import CORE, NOISE, SPURIOUS, Split, SpuriousDataset, load_dataset, save_dataset

__all__ = ["CORE", "NOISE", "SPURIOUS", "Split", "SpuriousDataset", "load_dataset", "save_dataset"]
