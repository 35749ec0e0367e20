"""Hand-computed checks for largelr.analyses.metrics (paper §3.2, §3.3)."""
import math

import numpy as np
import pytest
import torch

from largelr.analyses import metrics as M

E1 = [1.0, 0.0]
E2 = [0.0, 1.0]


def t(x):
    return torch.tensor(x, dtype=torch.float64)


# ---------------------------------------------------------------- accuracy / counts
def test_accuracy():
    logits = t([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0]])
    assert M.accuracy(logits, torch.tensor([0, 0, 0])) == pytest.approx(2 / 3)
    assert M.accuracy(logits, torch.tensor([0, 1, 0])) == 1.0


@pytest.mark.parametrize(
    "units,kappa,expected",
    [(10, 0.7, 7), (10, 0.3, 3), (10, 0.1, 1), (10, 0.0, 0), (10, 0.9, 9), (1024, 0.1, 103), (3, 0.5, 2)],
)
def test_structured_prune_counts(units, kappa, expected):
    # 0.7 * 10 == 7.000000000000001 in floating point: a naive ceil would give 8
    assert M.structured_prune_counts(units, kappa) == expected


# ---------------------------------------------------------------- (q,κ)-compressibility
def test_qk_one_sparse_is_one():
    z = torch.zeros(10)
    z[3] = -7.0
    assert M.qk_compressibility(z).tolist() == [1.0]
    assert M.mean_qk_compressibility(z) == 1.0


def test_qk_flat_vector():
    assert M.mean_qk_compressibility(torch.ones(10), 0.1, 2.0) == pytest.approx(1 - math.sqrt(9 / 10))


def test_qk_two_rows_by_hand():
    z = torch.zeros(2, 10)
    z[0, :3] = t([1.0, -5.0, 2.0])  # keep -5 -> tail sqrt(1+4), full sqrt(30)
    z[1, :2] = t([3.0, 4.0])  # keep 4 -> tail 3, full 5
    out = M.qk_compressibility(z, kappa=0.1, q=2.0)
    assert out.tolist() == pytest.approx([1 - math.sqrt(5 / 30), 1 - 3 / 5])
    assert M.mean_qk_compressibility(z) == pytest.approx((2 - math.sqrt(1 / 6) - 0.6) / 2)
    # q = 1: tail |3| over |3|+|4|
    assert M.qk_compressibility(z[1], 0.1, 1.0).item() == pytest.approx(1 - 3 / 7)


def test_qk_uses_guarded_ceil():
    z = torch.arange(1.0, 11.0)  # kappa 0.3 -> keep 10, 9, 8 (k=3, not 4)
    expected = 1 - math.sqrt(sum(i * i for i in range(1, 8)) / sum(i * i for i in range(1, 11)))
    assert M.mean_qk_compressibility(z, kappa=0.3) == pytest.approx(expected)


def test_qk_zero_row_is_zero():
    z = torch.zeros(2, 4)
    z[1, 0] = 1.0
    assert M.qk_compressibility(z, kappa=0.25).tolist() == [0.0, 1.0]


# ---------------------------------------------------------------- sparsity / PQ-index
def test_sparsity():
    z = torch.zeros(10)
    z[0] = 2.0
    assert M.sparsity(z) == pytest.approx(1 - 1 / 10)
    assert M.sparsity(t([[0.0, 1.0, 0.0, -2.0], [0.0, 0.0, 0.0, 0.0]])) == pytest.approx(0.75)


def test_pq_index():
    assert M.pq_index(torch.full((16,), 3.0)) == pytest.approx(0.0, abs=1e-12)
    one = torch.zeros(16)
    one[5] = -2.0
    assert M.pq_index(one) == pytest.approx(1 - 16 ** -0.5)
    w = t([1.0, 1.0, 0.0, 0.0])  # 1 - 4^-0.5 * 2 / sqrt(2)
    assert M.pq_index(w) == pytest.approx(1 - 1 / math.sqrt(2))
    assert M.pq_index(37.5 * w) == pytest.approx(M.pq_index(w))
    assert M.pq_index(t([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx(M.pq_index(w))  # flattened
    assert M.pq_index(torch.zeros(5)) == 0.0


# ---------------------------------------------------------------- class separation R²
def brute_r2(z, labels):
    """Literal double sums of §3.3 (float64, O(N²))."""
    z = z.to(torch.float64)
    n = z.norm(dim=1, keepdim=True)
    x = torch.where(n > 0, z / n.clamp_min(1e-300), torch.zeros_like(z))
    classes = sorted(set(labels.tolist()))
    groups = [x[labels == c] for c in classes]
    K = len(groups)
    d = lambda a, b: float(sum(1 - a[m] @ b[k] for m in range(len(a)) for k in range(len(b))))
    within = sum(d(g, g) / (K * len(g) ** 2) for g in groups)
    total = sum(d(a, b) / (K * K * len(a) * len(b)) for a in groups for b in groups)
    return 1 - within / total


def test_r2_perfect_separation_orthogonal():
    # d_within = 0, d_total = (0 + 1 + 1 + 0) / 4 = 0.5  ->  R² = 1 - 0/0.5 = 1
    z = t([E1, E1, E1, E2, E2])
    assert M.class_separation_r2(3.0 * z, torch.tensor([0, 0, 0, 1, 1])) == pytest.approx(1.0)


def test_r2_hand_example():
    # class 0: e1, e1 ; class 1: e1, e2 -> mean sims: 1, 0.5, cross 0.5
    # d_within = (0 + 0.5)/2 = 0.25, d_total = (0 + 0.5 + 0.5 + 0.5)/4 = 0.375 -> R² = 1/3
    z = t([E1, [2.0, 0.0], E1, [0.0, 5.0]])  # scaling must not matter
    labels = torch.tensor([7, 7, 3, 3])  # non-contiguous labels
    assert M.class_separation_r2(z, labels) == pytest.approx(1 / 3)
    assert brute_r2(z, labels) == pytest.approx(1 / 3)


def test_r2_zero_row_has_similarity_zero():
    # class 0: e1, 0 (pair distances 0,1,1,1 -> 0.75) ; class 1: e2 ; cross distance 1
    # d_within = (0.75 + 0)/2 = 0.375, d_total = (0.75 + 1 + 1 + 0)/4 = 0.6875 -> 5/11
    z = t([E1, [0.0, 0.0], E2])
    labels = torch.tensor([0, 0, 1])
    assert M.class_separation_r2(z, labels) == pytest.approx(5 / 11)
    assert brute_r2(z, labels) == pytest.approx(5 / 11)


def test_r2_degenerate_total_distance_is_zero():
    z = t([[1.0, 2.0, 3.0]] * 4) * t([[1.0], [2.0], [0.5], [3.0]])  # all same direction
    assert M.class_separation_r2(z, torch.tensor([0, 0, 1, 1])) == 0.0


def test_r2_matches_brute_force_random():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(31, 6, generator=g, dtype=torch.float64).relu()
    labels = torch.tensor([0] * 5 + [2] * 16 + [5] * 10)  # unequal sizes, labels 0/2/5
    labels = labels[torch.randperm(31, generator=g)]
    assert M.class_separation_r2(z, labels) == pytest.approx(brute_r2(z, labels), abs=1e-6)
    z32 = z.float()  # float32 input works the same
    assert M.class_separation_r2(z32, labels) == pytest.approx(brute_r2(z, labels), abs=1e-6)


# ---------------------------------------------------------------- CSI / BSI
Y2 = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])


def test_csi_pure_class_neuron_is_one():
    z = t([[2.0]] * 4 + [[0.0]] * 4)
    assert M.class_selectivity(z, Y2)[0] == pytest.approx(1.0, abs=1e-9)


def test_csi_uniform_neuron_is_zero():
    assert M.class_selectivity(torch.full((8, 1), 1.5), Y2)[0] == pytest.approx(0.0, abs=1e-12)


def test_csi_half_coverage_scales_by_rho():
    z = t([[2.0], [0.0], [2.0], [0.0]] + [[0.0]] * 4)  # mu_max = 1, mu_-max = 0, rho = 0.5
    assert M.class_selectivity(z, Y2)[0] == pytest.approx(0.5, abs=1e-9)


def test_csi_three_class_hand_example_and_dead_neuron():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    z = t([
        [0.0, 1.0, 0.0],
        [4.0, 1.0, 0.0],  # n0: mu = (2, 1, 0), c*=0, rho=0.5 -> 0.5*(2-0.5)/(2+0.5) = 0.3
        [0.0, 3.0, 0.0],
        [2.0, 3.0, 0.0],  # n1: mu = (1, 3, 1), c*=1, rho=1 -> (3-1)/(3+1) = 0.5
        [0.0, 2.0, 0.0],
        [0.0, 0.0, 0.0],  # n2: dead -> 0
    ])
    csi = M.class_selectivity(z, labels)
    assert isinstance(csi, np.ndarray) and csi.shape == (3,)
    np.testing.assert_allclose(csi, [0.3, 0.5, 0.0], atol=1e-9)
    assert M.mean_class_selectivity(z, labels) == pytest.approx(0.8 / 3, abs=1e-9)


def test_bsi_uses_bias_labels():
    z = t([[2.0]] * 4 + [[0.0]] * 4)
    bias = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])  # neuron ignores the bias attribute
    assert M.mean_class_selectivity(z, Y2) == pytest.approx(1.0, abs=1e-9)
    assert M.mean_class_selectivity(z, bias) == pytest.approx(0.0, abs=1e-12)


def test_csi_needs_two_classes():
    with pytest.raises(ValueError):
        M.class_selectivity(torch.ones(3, 2), torch.tensor([1, 1, 1]))


# ---------------------------------------------------------------- prunability
def test_retention_curve_and_prunability():
    assert M.retention_curve([0.8, 0.4, 0.84], 0.8) == pytest.approx([1.0, 0.5, 1.05])
    nan = M.retention_curve([0.5, 0.1], 0.0)
    assert len(nan) == 2 and all(math.isnan(v) for v in nan)
    assert M.prunability([1.0, 0.9, 0.5, 1.1]) == pytest.approx(0.875)
    with pytest.raises(ValueError):
        M.prunability([])


def test_pruned_accuracy_is_the_mean_of_retention_times_unpruned_accuracy():
    # a hand-made §3.2 curve: Acc(f) = 0.8, pruned accuracies on the κ grid 0 … 0.9
    accuracies = [0.8, 0.8, 0.78, 0.75, 0.7, 0.64, 0.6, 0.55, 0.52, 0.5]
    retentions = M.retention_curve(accuracies, 0.8)
    assert M.pruned_accuracy(accuracies) == pytest.approx(np.mean([r * 0.8 for r in retentions]))
    assert M.pruned_accuracy(accuracies) == pytest.approx(0.664)
    assert M.prunability(retentions) == pytest.approx(0.83)  # the retention reading: 0.664 / 0.8
    with pytest.raises(ValueError):
        M.pruned_accuracy([])


def test_csi_live_ignores_a_dead_neuron_that_csi_counts_as_zero():
    labels = torch.tensor([0, 0, 1, 1])
    # neuron 0 fires only on class 0 (CSI 1), neuron 1 never fires (dead: CSI 0 by the formula)
    z = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert M.mean_class_selectivity(z, labels) == pytest.approx(0.5)
    assert M.mean_live_class_selectivity(z, labels) == pytest.approx(1.0)
    assert M.live_neurons(z).tolist() == [True, False]
    # a live neuron with CSI 0 (uniform over classes) still counts
    z_uniform = torch.cat([z, torch.ones(4, 1)], dim=1)
    assert M.mean_live_class_selectivity(z_uniform, labels) == pytest.approx(0.5)
    assert math.isnan(M.mean_live_class_selectivity(torch.zeros(4, 3), labels))


def test_bsi_live_ignores_a_dead_neuron_with_bias_labels():
    b = torch.tensor([1, 0, 1, 0])
    z = torch.tensor([[3.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # neuron 0 fires on b = 1 only
    assert M.mean_class_selectivity(z, b) == pytest.approx(0.5)
    assert M.mean_live_class_selectivity(z, b) == pytest.approx(1.0)
