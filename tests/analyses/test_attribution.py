"""Known-answer checks for largelr.analyses.attribution (paper §3.3, §5, suppl. E)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from largelr.analyses import attribution as A
from largelr.datasets.format import CORE, NOISE, SPURIOUS
from largelr.training.models import CNN, FCN, TorchvisionClassifier


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class LinearModel(nn.Module):
    """f(x) = flatten(x) @ W.T (no bias): IG with a zero baseline is exactly x · w_target."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.T


def target_logit(model, x, y):
    with torch.no_grad():
        return model(x).gather(1, y[:, None]).squeeze(1)


# ---------------------------------------------------------------- attributions
@pytest.mark.parametrize("method", ["integrated_gradients", "deeplift"])
def test_linear_model_attribution_is_x_times_w(method):
    torch.manual_seed(0)
    w = torch.randn(3, 2 * 4 * 4)
    model = LinearModel(w)
    x = torch.rand(5, 2, 4, 4)
    y = torch.tensor([0, 1, 2, 0, 1])
    attr = A.attributions(model, x, y, method=method, n_steps=20)
    assert attr.shape == x.shape
    expected = x * w[y].reshape(x.shape)
    torch.testing.assert_close(attr, expected, atol=1e-5, rtol=1e-4)
    # completeness: sum of attributions = f(x) - f(0)
    zero = target_logit(model, torch.zeros_like(x), y)
    torch.testing.assert_close(attr.flatten(1).sum(1), target_logit(model, x, y) - zero, atol=1e-3, rtol=0)


def test_ig_nonzero_baseline_and_scalar_target():
    torch.manual_seed(1)
    w = torch.randn(2, 6)
    x = torch.rand(4, 6)
    attr = A.attributions(LinearModel(w), x, 1, baseline=0.5, n_steps=10)
    torch.testing.assert_close(attr, (x - 0.5) * w[1], atol=1e-5, rtol=1e-4)


def test_attributions_restore_training_mode_and_use_eval():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 8), nn.Dropout(0.9), nn.ReLU(), nn.Linear(8, 2))
    model.train()
    x, y = torch.rand(3, 8), torch.tensor([0, 1, 0])
    first = A.attributions(model, x, y, n_steps=8)
    second = A.attributions(model, x, y, n_steps=8)
    assert model.training  # restored
    torch.testing.assert_close(first, second)  # dropout was off (eval mode)


def test_attributions_rejects_bad_input():
    model = LinearModel(torch.ones(2, 4))
    with pytest.raises(ValueError, match="unknown attribution method"):
        A.attributions(model, torch.rand(2, 4), 0, method="saliency")
    with pytest.raises(ValueError, match="target"):
        A.attributions(model, torch.rand(2, 4), [0, 1, 1])


def test_spurious_only_model_attributes_to_spurious_region():
    """Weights are zero outside the spurious patch → ≥ 99 % of the attribution lies there."""
    torch.manual_seed(3)
    n, c, h, w = 6, 3, 8, 8
    region = torch.full((n, h, w), CORE, dtype=torch.uint8)
    region[:, :3, :3] = SPURIOUS
    region[:, -2:, :] = NOISE
    mask = (region[0] == SPURIOUS).expand(c, h, w).flatten()
    weight = torch.randn(2, c * h * w) * mask
    x = torch.rand(n, c, h, w)
    y = torch.randint(0, 2, (n,))
    attr = A.attributions(LinearModel(weight), x, y, n_steps=10)
    shares = A.region_shares(A.attribution_map(attr), region)
    assert np.all(shares["spurious"] >= 0.99)
    assert A.mean_region_shares(A.attribution_map(attr), region)["spurious"] >= 0.99


def test_spurious_only_model_vector_data():
    torch.manual_seed(4)
    region = torch.tensor([[CORE] * 4 + [SPURIOUS] * 2 + [NOISE] * 4] * 5)
    weight = torch.zeros(2, 10)
    weight[:, 4:6] = torch.randn(2, 2)
    attr = A.attributions(LinearModel(weight), torch.rand(5, 10) + 0.1, torch.tensor([0, 1, 0, 1, 0]), n_steps=5)
    shares = A.mean_region_shares(attr, region)  # vectors: raw signed attributions are fine
    assert shares["spurious"] == pytest.approx(1.0)
    assert shares["core"] == 0.0 and shares["noise"] == 0.0


# ---------------------------------------------------------------- DeepLift on the package's models
def _deeplift_completeness(model, x, y, baseline):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no completeness warning, no captum noise
        attr = A.attributions(model, x, y, method="deeplift", baseline=baseline)
    b = torch.zeros_like(x) if baseline is None else torch.full_like(x, baseline)
    model.eval()
    change = target_logit(model, x, y) - target_logit(model, b, y)
    assert attr.shape == x.shape
    torch.testing.assert_close(attr.flatten(1).sum(1), change, atol=1e-5 + 1e-4 * change.abs().max().item(), rtol=0)
    return attr


@pytest.mark.parametrize("baseline", [None, 0.3])
def test_deeplift_fcn_and_cnn(baseline):
    torch.manual_seed(5)
    x, y = torch.rand(3, 3, 28, 28), torch.tensor([0, 1, 1])
    _deeplift_completeness(FCN(3 * 28 * 28, 2, width=32, depth=2), x, y, baseline)
    _deeplift_completeness(CNN(3, 2, width_multiplier=0.125), x, y, baseline)


def test_plain_captum_deeplift_on_functional_fcn_is_incomplete():
    """Why deeplift_model exists: captum sees no nn.ReLU in FCN and falls back to gradients,
    which breaks completeness for a non-zero baseline (our conversion keeps it, see above)."""
    from captum.attr import DeepLift

    torch.manual_seed(5)
    model = FCN(3 * 28 * 28, 2, width=32, depth=2).eval()
    x, y = torch.rand(3, 3, 28, 28), torch.tensor([0, 1, 1])
    b = torch.full_like(x, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, delta = DeepLift(model).attribute(x, baselines=b, target=y, return_convergence_delta=True)
    change = target_logit(model, x, y) - target_logit(model, b, y)
    assert delta.abs().max() > 0.05 * change.abs().max()


def test_deeplift_model_makes_fcn_relus_modules():
    fcn = FCN(12, 2, width=5, depth=3)
    net = A.deeplift_model(fcn, torch.rand(1, 12))
    assert sum(type(m) is nn.ReLU for m in net.modules()) == 3
    x = torch.rand(4, 12)
    torch.testing.assert_close(net(x), fcn(x))
    assert net.hidden[0].weight is not fcn.hidden[0].weight  # a copy: the model is untouched


def test_deeplift_resnet_with_reused_relu():
    """torchvision BasicBlocks call one ReLU module twice; plain captum DeepLift raises there."""
    torch.manual_seed(6)
    model = TorchvisionClassifier("resnet18", (3, 16, 16), 2)
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([1, 0])
    _deeplift_completeness(model, x, y, None)
    net = A.deeplift_model(model, x[:1])
    torch.testing.assert_close(net(x), model.eval()(x))


def test_deeplift_warns_when_completeness_fails():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Linear(16, 2))  # no DeepLift rule for GELU
    with pytest.warns(UserWarning, match="completeness"):
        A.attributions(model, torch.randn(4, 6), 0, method="deeplift", baseline=1.0)


# ---------------------------------------------------------------- maps and statistics
def test_attribution_map():
    attr = torch.tensor([[[[1.0, -2.0]], [[-3.0, 4.0]]]])  # 1×2×1×2
    torch.testing.assert_close(A.attribution_map(attr), torch.tensor([[[4.0, 6.0]]]))
    torch.testing.assert_close(A.attribution_map(torch.tensor([[-1.0, 2.0]])), torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError):
        A.attribution_map(torch.zeros(2, 3, 4))


def test_region_shares_by_hand():
    amap = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [5.0, 1.0, 1.0, 3.0]])
    region = np.array([[CORE, SPURIOUS, NOISE, CORE], [CORE, CORE, CORE, CORE], [SPURIOUS, SPURIOUS, NOISE, NOISE]])
    shares = A.region_shares(amap, region)
    np.testing.assert_allclose(shares["core"][[0, 2]], [0.5, 0.0])
    np.testing.assert_allclose(shares["spurious"][[0, 2]], [0.2, 0.6])
    np.testing.assert_allclose(shares["noise"][[0, 2]], [0.3, 0.4])
    assert all(np.isnan(s[1]) for s in shares.values())  # zero attribution
    means = A.mean_region_shares(amap, region)
    assert means == pytest.approx({"core": 0.25, "spurious": 0.4, "noise": 0.35})


def test_region_shares_sum_to_one():
    rng = np.random.default_rng(0)
    amap = torch.tensor(rng.random((7, 5, 6)))
    region = torch.tensor(rng.integers(0, 3, (7, 5, 6)), dtype=torch.uint8)
    shares = A.region_shares(amap, region)
    np.testing.assert_allclose(shares["core"] + shares["spurious"] + shares["noise"], 1.0)
    with pytest.raises(ValueError, match="attribution_map"):
        A.region_shares(torch.rand(7, 3, 5, 6), region)


def test_attribution_entropy():
    one_pixel = np.zeros((1, 4, 5))
    one_pixel[0, 2, 3] = 7.0
    uniform = np.full((1, 4, 5), 0.3)
    two = np.zeros((1, 4, 5))
    two[0, 0, :2] = [-1.0, 1.0]
    h = A.attribution_entropy(np.concatenate([one_pixel, uniform, two, np.zeros((1, 4, 5))]))
    assert h[0] == 0.0
    assert h[1] == pytest.approx(math.log(20))
    assert h[2] == pytest.approx(math.log(2))
    assert np.isnan(h[3])
    assert A.attribution_entropy(torch.ones(2, 8)) == pytest.approx([math.log(8)] * 2)


def test_background_share():
    amap = torch.rand(3, 4, 4) + 0.01
    np.testing.assert_allclose(A.background_share(amap, torch.ones(3, 4, 4, dtype=torch.bool)), 1.0)
    np.testing.assert_allclose(A.background_share(amap, torch.zeros(3, 4, 4, dtype=torch.bool)), 0.0)
    hand = np.array([[[1.0, 3.0], [0.0, 4.0]]])
    bg = np.array([[[True, False], [True, True]]])
    assert A.background_share(hand, bg)[0] == pytest.approx(5 / 8)
    assert np.isnan(A.background_share(np.zeros((1, 2, 2)), bg)[0])
    with pytest.raises(ValueError):
        A.background_share(hand, bg[:, :1])


def test_hard_samples_by_hand():
    # 4 seeds each; columns: (high, low) correct counts
    # s0 (4, 0) yes; s1 (3, 0) no: 0.75 is not > 0.75; s2 (4, 1) no: 0.25 is not < 0.25;
    # s3 (4, 0) yes; s4 (0, 0) no; s5 (4, 4) no
    high = np.array([[1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 0, 1], [1, 0, 1, 1, 0, 1]], dtype=bool)
    low = np.array([[0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1]], dtype=bool)
    idx = A.hard_samples(high, low)
    assert idx.tolist() == [0, 3]
    assert idx.dtype == np.int64
    assert A.hard_samples(high, low, high=0.7, low=0.3).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        A.hard_samples(high, low[:, :5])


def test_aggregate_over_seeds():
    seed_a = np.array([[1.0, 3.0], [2.0, 2.0]])
    seed_b = np.array([[100.0, 100.0], [0.0, 0.0]])  # other logit scale; sample 1 all zero
    mean = A.aggregate_over_seeds([seed_a, torch.tensor(seed_b)])
    np.testing.assert_allclose(mean, [[(0.25 + 0.5) / 2, (0.75 + 0.5) / 2], [0.5, 0.5]])
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)
    images = [np.random.default_rng(s).random((3, 4, 5)) for s in range(3)]
    agg = A.aggregate_over_seeds(images)
    assert agg.shape == (3, 4, 5)
    np.testing.assert_allclose(agg.sum(axis=(1, 2)), 1.0)
    with pytest.raises(ValueError):
        A.aggregate_over_seeds([seed_a, np.ones((2, 3))])


# ---------------------------------------------------------------- region shares only where regions separate
def test_colored_mnist_masks_get_no_core_or_spurious_share_and_say_why(shared_data):
    from largelr.datasets.registry import build_dataset, masks_separate_core_and_spurious

    spec = {"generator": "colored_mnist", "params": {"subset_train": 20, "subset_test": 20}}
    dataset = build_dataset(spec, data_root=str(shared_data))
    assert not A.regions_separate_core_and_spurious(dataset.test.region)  # the colour lies on the digit
    assert not masks_separate_core_and_spurious("colored_mnist")          # the config-time flag agrees
    maps = np.random.default_rng(0).random(dataset.test.region.shape)
    record = A.region_attribution_record(maps, dataset.test.region, separates=False)
    assert math.isnan(record["core_attribution"]) and math.isnan(record["spurious_attribution"])
    assert 0 < record["noise_attribution"] < 1  # the background share is still defined
    assert "do not separate core from spurious" in record["notes"]


def test_the_registry_flag_matches_the_masks_of_the_synthetic_generators():
    from largelr.datasets.registry import build_dataset, masks_separate_core_and_spurious

    for name, params in (("parity", {"n_train": 20, "n_test": 20}), ("moon_star", {"n_train": 20, "n_test": 20})):
        dataset = build_dataset({"generator": name, "params": params})
        assert A.regions_separate_core_and_spurious(dataset.test.region) == masks_separate_core_and_spurious(name)
        assert masks_separate_core_and_spurious(name)
    region = np.full((2, 4, 4), CORE)  # Corrupted CIFAR-10 / CIFAR: every pixel core
    assert not A.regions_separate_core_and_spurious(region)
    record = A.region_attribution_record(np.ones((2, 4, 4)), np.where(np.eye(4, dtype=bool), SPURIOUS, NOISE)[None]
                                         .repeat(2, 0), separates=True)
    assert record["spurious_attribution"] == pytest.approx(0.25) and "notes" not in record
