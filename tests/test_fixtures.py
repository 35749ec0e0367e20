"""``largelr fixtures DIR`` (issue 25 item 2): tiny real-format trees and random weights the ``paper`` smoke reads.

Each check goes through the code the workflow runs: the dataset generators of the ``paper-smoke``
preset on the written trees, the model builder on the Swin-T file, the segmenter loader on the
DeepLabV3 file, and Snakemake's own ``--config`` parser on the printed arguments.
"""

from __future__ import annotations

import copy
import shlex
import warnings

import pytest

from largelr.cli import main
from largelr.config import resolve_config, smoke_name
from largelr.datasets.registry import build_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LICENSED = ("cifar100", "celeba", "celeba_text_orientation", "waterbirds", "imagenet")  # paper's entries


@pytest.fixture(scope="module")
def written(tmp_path_factory, shared_data):
    """The folder `largelr fixtures` wrote and the snakemake command it printed."""
    import contextlib
    import io

    root, printed = tmp_path_factory.mktemp("fixtures"), io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["fixtures", str(root), "--link-from", str(shared_data)]) == 0
    return root, shlex.split(printed.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def smoke(written, repo):
    """The paper smoke resolved with the config `largelr fixtures` prints."""
    import yaml
    from snakemake.cli import parse_config  # as `snakemake --config` reads the printed words

    from largelr.config import deep_merge

    _, command = written
    shipped = yaml.safe_load((repo / "config.yaml").read_text())
    config = deep_merge(copy.deepcopy(shipped), parse_config(command[command.index("--config") + 1:]))
    return resolve_config(config, repo / "workflow" / "schemas")[smoke_name("paper")]


@pytest.mark.parametrize("dataset", LICENSED)
def test_the_paper_smoke_reads_every_licensed_dataset_from_the_fixtures(smoke, dataset):
    spec = smoke["datasets"][dataset]
    data = build_dataset(spec, seed=0, data_root=smoke["data_root"], download=False)
    params = spec["params"]
    assert 0 < len(data.train) <= params["subset_train"] and 0 < len(data.test) <= params["subset_test"]
    if spec["generator"] in ("celeba", "waterbirds"):  # group DRO's 224 px; every (y, b) group in both splits
        assert data.train.x.shape[-2:] == (params["image_size"],) * 2 == (224, 224)
        for split in (data.train, data.test):
            assert {(int(y), int(b)) for y, b in zip(split.y, split.b)} == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_mnist_and_cifar10_are_linked_from_the_offline_copy(written, shared_data):
    written, _ = written
    assert (written / "MNIST").resolve() == (shared_data / "MNIST").resolve()
    assert (written / "cifar-10-batches-py").is_dir()


def test_the_random_weights_load_where_the_paper_reads_them(smoke):
    from largelr.analyses.segmentation import load_segmenter
    from largelr.training.models import build_model

    model = build_model(smoke["models"]["swin_t"], (3, 64, 64), 2)  # loads pretrained_path strictly
    assert model.pretrained_path == smoke["models"]["swin_t"]["pretrained_path"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "RANDOM weights" warning: the file was found and loaded
        segmenter = load_segmenter("torchvision", smoke["analysis"]["segmenter"]["weights_path"])
    assert not segmenter.training


def test_the_printed_command_is_the_paper_smoke_and_a_rerun_prints_it_again(written, capsys):
    root, words = written
    assert words[:5] == ["snakemake", "--cores", "all", "--config", "preset=paper"] and "smoke=true" in words
    assert f"data_root={root}" in words
    assert main(["fixtures", str(root), "--link-from", str(root / "none")]) == 0  # over an existing tree
    assert shlex.split(capsys.readouterr().out.strip().splitlines()[-1]) == words
