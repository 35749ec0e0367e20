"""Spurious-correlation datasets (SPEC §2): generators and the shared on-disk format."""

from largelr.datasets.format import CORE, NOISE, SPURIOUS, Split, SpuriousDataset, load_dataset, save_dataset

__all__ = ["CORE", "NOISE", "SPURIOUS", "Split", "SpuriousDataset", "load_dataset", "save_dataset"]
