"""MNIST / CIFAR files are found or downloaded by a local rule on the submitting host (issue 17 item 5).

``download_source`` (localrule) lists the files under data_root, downloading only what is
missing and only with ``download: true``; ``generate_dataset`` takes that listing as input and
reads the files with ``download=False``. Nothing here downloads: the shared offline copy holds
the files, and the offline error names each file to place.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from helpers import run_snakemake

from largelr.datasets.download import GENERATOR_SOURCES, source_files
from largelr.datasets.registry import GENERATORS


def test_every_generator_that_can_download_has_its_sources_listed():
    downloading = {name for name, fn in GENERATORS.items() if "download" in inspect.signature(fn).parameters}
    assert set(GENERATOR_SOURCES) == downloading


def test_files_found_under_data_root_are_listed_not_downloaded(shared_data, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torchvision", None)  # a download would fail here
    found = source_files("mnist", [str(tmp_path / "absent"), str(shared_data)], download=True)
    assert found["data_root"] == str(shared_data)
    names = sorted(entry["path"].rsplit("/", 1)[1] for entry in found["files"])
    assert names == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte",
                     "train-labels-idx1-ubyte"]  # the raw files win over the .gz ones


@pytest.mark.parametrize("source, expected", [
    ("mnist", ["MNIST/raw/train-images-idx3-ubyte[.gz]", "MNIST/raw/train-labels-idx1-ubyte[.gz]"]),
    ("cifar10", [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]),
    ("cifar100", ["cifar-100-python/train"]),
])
def test_offline_without_files_names_the_exact_files(tmp_path, source, expected):
    with pytest.raises(FileNotFoundError) as error:
        source_files(source, str(tmp_path), download=False)
    for name in expected:
        assert str(tmp_path / name) in str(error.value)


def test_the_rule_is_local_and_generate_dataset_reads_its_listing(repo, shared_data, tmp_path):
    rule = (repo / "workflow/rules/datasets.smk").read_text().split("rule download_source:")[1].split("\nrule ")[0]
    assert "localrule: True" in rule  # run by the submitting Snakemake, never submitted to a cluster
    target = "results/ci/data/sources/mnist.json"
    dry = run_snakemake(tmp_path, "-n", "--cores", "1", "results/ci/data/colored_mnist.npz",
                        "results/ci/data/mnist_cifar.npz", "--config", "preset=ci", f"data_root={shared_data}",
                        timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    plan = dry.stdout + dry.stderr
    assert plan.count("rule download_source:") == 2  # the two sources of the two datasets
    assert target in plan and "results/ci/data/sources/cifar10.json" in plan
    run = run_snakemake(tmp_path, "--cores", "1", target, "--config", "preset=ci", f"data_root={shared_data}",
                        timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    listing = json.loads((tmp_path / target).read_text())
    assert listing["data_root"] == str(shared_data) and len(listing["files"]) == 4
    assert not (tmp_path / "data").exists()  # nothing downloaded into the default folder


@pytest.mark.parametrize("source, torchvision_class", [("cifar100", "CIFAR100"), ("mnist", "MNIST")])
def test_a_failed_download_ends_with_the_missing_files_and_its_reason(tmp_path, monkeypatch, source,
                                                                      torchvision_class):
    """Offline with `download: true` (issue 25): the missing-files message plus why the download failed,
    never a raw urllib traceback."""
    import urllib.error

    import torchvision

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, torchvision_class, offline)
    with pytest.raises(FileNotFoundError) as caught:
        source_files(source, str(tmp_path), download=True)
    message = str(caught.value)
    assert "source files are missing" in message and str(tmp_path) in message
    assert message.endswith("The download (`download: true`) failed: URLError: "
                            "<urlopen error [Errno -3] Temporary failure in name resolution>")


def test_a_failed_download_leaves_no_empty_folder_that_would_hide_the_next_data_root(shared_data, tmp_path,
                                                                                     monkeypatch):
    """torchvision creates <root>/MNIST/raw before it goes online. Left behind empty, `data/` would be the
    first existing folder of `data_root: [data, ../shared/data]` on the next run, which would then miss the
    files in ../shared/data and try the network again."""
    import urllib.error

    import torchvision

    def offline(root, **kwargs):
        (Path(root) / "MNIST" / "raw").mkdir(parents=True)  # as torchvision does before downloading
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    first = tmp_path / "data"
    with pytest.raises(FileNotFoundError):
        source_files("mnist", str(first), download=True)
    assert not first.exists()
    found = source_files("mnist", [str(first), str(shared_data)], download=True)
    assert found["data_root"] == str(shared_data)
