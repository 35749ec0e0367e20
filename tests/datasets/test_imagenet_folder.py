"""ImageNet-1k from its class-folder layout (paper §5, Fig 11) on a tiny tree of PNGs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from largelr.datasets.format import CORE
from largelr.datasets.imagenet import generate_imagenet
from largelr.datasets.registry import build_dataset, check_params
from largelr.fixtures import write_imagenet

# class folder -> (colour of its images, images in train/, images in val/)
CLASSES = {"n01440764": ((255, 0, 0), 3, 2), "n01443537": ((0, 255, 0), 2, 1), "n15075141": ((0, 0, 255), 4, 2)}


def _tree(root):
    """{root}/imagenet/{train,val}/<wnid>/*.png, one solid colour per class (20x12, not square):
    the writer of ``largelr fixtures``."""
    write_imagenet(root, CLASSES)
    return root


def test_generator_reads_the_image_folder_tree_with_sorted_class_labels(tmp_path):
    dataset = generate_imagenet(data_root=_tree(tmp_path), image_size=8, num_workers=1)
    assert dataset.num_classes == 3 and dataset.input_shape == (3, 8, 8)
    assert dataset.meta["class_names"] == sorted(CLASSES)
    for split, column in (("train", 1), ("test", 2)):
        data = dataset.split(split)
        expected = np.repeat(np.arange(3), [CLASSES[w][column] for w in sorted(CLASSES)])
        assert np.array_equal(np.sort(data.y), expected)
        assert np.array_equal(data.b, data.y) and (data.region == CORE).all()
        for image, label in zip(data.x, data.y):  # each image is its class's colour
            colour = CLASSES[sorted(CLASSES)[label]][0]
            assert np.array_equal(image[:, 4, 4], colour)


def test_generator_is_registered_and_takes_a_stratified_subset(tmp_path):
    spec = {"generator": "imagenet", "params": {"image_size": 4, "subset_train": 3, "num_workers": 1}}
    check_params("imagenet", spec)
    dataset = build_dataset(spec, data_root=[str(tmp_path / "absent"), str(_tree(tmp_path))])
    assert sorted(dataset.train.y.tolist()) == [0, 1, 2] and len(dataset.test) == 5


def test_a_missing_folder_is_an_error_naming_the_path_to_fill(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        generate_imagenet(data_root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "imagenet" / "train") in message and str(tmp_path / "imagenet" / "val") in message
    (tmp_path / "imagenet" / "train").mkdir(parents=True)
    (tmp_path / "imagenet" / "val").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "imagenet" / "train"))):
        generate_imagenet(data_root=tmp_path)
