"""Datasets on the device as uint8, decoded per batch (issue 25 item 4; largelr.training.device_data).

The new path must give exactly the floats of the old one (Split.as_float) and so, on the ``ci``
image groups (Colored MNIST with the FCN stack and the CNN, MNIST-CIFAR), the same weights,
stopping iteration and status bit for bit; a job whose data and models do not fit fails first,
naming the preset keys to lower.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import torch_threads, workflow_preset
from largelr.config import cell_training, recipe_name, training_grid
from largelr.datasets import load_dataset, save_dataset
from largelr.datasets.registry import build_dataset
from largelr.io import read_json
from largelr.training.device_data import BYTE_VALUES, DeviceImages, check_fits, data_bytes, device_inputs, rows
from largelr.training.recipes import train_settings
from largelr.training.runs import init_model, train_group

#: the ci preset's image groups (dataset, model): a stacked FCN pair, a CNN cell, a CIFAR-based set
CI_IMAGE_GROUPS = [("colored_mnist", "fcn_small"), ("colored_mnist", "cnn_small"), ("mnist_cifar", "fcn_small")]


def test_the_byte_table_is_as_float_for_every_byte_and_a_batch_decodes_to_the_old_floats():
    every_byte = np.arange(256, dtype=np.uint8)
    assert BYTE_VALUES.tobytes() == (every_byte.astype(np.float32) / 255.0).tobytes()
    x = np.random.default_rng(0).integers(0, 256, size=(50, 3, 4, 4), dtype=np.uint8)
    images = device_inputs(x, torch.device("cpu"))
    old = torch.from_numpy(x.astype(np.float32) / 255.0)
    index = torch.tensor([7, 3, 3, 49])
    assert isinstance(images, DeviceImages) and images.shape == x.shape and len(images) == 50
    assert torch.equal(images[index], old[index]) and torch.equal(images[10:20], old[10:20])
    assert torch.equal(rows(images, index).float(), old[index]) and rows(images, index).raw.dtype == torch.uint8
    floats = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)  # synthetic data stays float
    assert torch.equal(device_inputs(floats, torch.device("cpu")), torch.from_numpy(floats))
    assert torch.equal(device_inputs(x, torch.device("cpu"), "float32"), old)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (x / 255 on CUDA is the risk)")
def test_batches_decoded_on_cuda_are_numpys_floats_for_every_byte():
    x = np.tile(np.arange(256, dtype=np.uint8), (4, 3, 1)).reshape(4, 3, 16, 16)
    images = device_inputs(x, torch.device("cuda"))
    assert images.device.type == "cuda"
    assert images[torch.arange(4, device="cuda")].cpu().numpy().tobytes() == (x.astype(np.float32) / 255.0).tobytes()


@pytest.fixture(scope="module")
def ci_datasets(shared_data, tmp_path_factory):
    root, ci = tmp_path_factory.mktemp("ci_data"), workflow_preset("ci")
    for name in sorted({dataset for dataset, _ in CI_IMAGE_GROUPS}):
        dataset = build_dataset(ci["datasets"][name], data_root=[str(shared_data)], download=False)
        assert dataset.train.x.dtype == np.uint8
        save_dataset(dataset, root / f"{name}.npz")
    return root


def _train(ci, path, run_root, dataset, model, encoding):
    grid = training_grid(ci)
    cells = [{**row, "lr": float(row["lr"]), "seed": int(row["seed"])}
             for row in grid[(grid.dataset == dataset) & (grid.model == model)].to_dict("records")]
    settings = [train_settings(cell, ci["recipes"][recipe_name(cell["recipe"])], cell_training(ci, cell))
                for cell in cells]
    dirs = [run_root / encoding / f"lr{cell['lr']}_s{cell['seed']}" for cell in cells]
    engine = cell_training(ci, cells[0])["engine"]
    with torch_threads(1):
        records = train_group(path, dirs, cells, ci["models"][model], settings, device="cpu", engine=engine,
                              data_encoding=encoding)
    return records, dirs


@pytest.mark.parametrize("dataset,model", CI_IMAGE_GROUPS)
def test_uint8_on_the_device_trains_the_ci_image_groups_to_the_same_weights_bit_for_bit(ci_datasets, tmp_path,
                                                                                       dataset, model):
    ci = workflow_preset("ci")
    old, old_dirs = _train(ci, ci_datasets / f"{dataset}.npz", tmp_path, dataset, model, "float32")
    new, new_dirs = _train(ci, ci_datasets / f"{dataset}.npz", tmp_path, dataset, model, "uint8")
    for before, after, before_dir, after_dir in zip(old, new, old_dirs, new_dirs, strict=True):
        assert (after["status"], after["iterations"]) == (before["status"], before["iterations"])
        assert after["engine"] == before["engine"]
        first = torch.load(before_dir / "model.pt", weights_only=True)
        second = torch.load(after_dir / "model.pt", weights_only=True)
        assert first.keys() == second.keys()
        for key in first:
            assert torch.equal(first[key], second[key]), key
        assert (before_dir / "history.csv").read_text() == (after_dir / "history.csv").read_text()
        assert read_json(after_dir / "run.json")["final_train_acc"] == read_json(before_dir / "run.json")[
            "final_train_acc"]


def test_a_job_that_does_not_fit_fails_naming_the_preset_keys(ci_datasets):
    dataset = load_dataset(ci_datasets / "colored_mnist.npz")
    model = init_model(dataset, {"arch": "fcn", "width": 64, "depth": 2}, seed=0)
    cell = {"dataset": "colored_mnist", "model": "fcn_small"}
    cuda = torch.device("cuda")  # the check only: nothing goes to the device
    need = check_fits(dataset, model, 4, cuda, cell, available=10**12)
    parameters = sum(p.numel() for p in model.parameters())
    assert need == data_bytes(dataset) + 4 * 16 * parameters  # bytes on the device, 4 models' training state
    assert data_bytes(dataset, "float32") - data_bytes(dataset) == 3 * (dataset.train.x.size + dataset.test.x.size)
    with pytest.raises(MemoryError) as error:
        check_fits(dataset, model, 4, cuda, cell, available=need - 1)
    message = str(error.value)
    for key in ("datasets.colored_mnist.params", "subset_train", "models.fcn_small", "training.engine: sequential"):
        assert key in message, key
    check_fits(dataset, model, 4, cuda, cell, available=need)  # exactly enough
