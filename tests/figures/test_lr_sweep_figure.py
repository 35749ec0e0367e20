"""LR-sweep figures (Figs 3-5, 15-17, 22-26, 28) mark runs stopped before 100 % training accuracy (§4.2)."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from largelr.figures.lr_sweep import lr_sweep_figure, plot_lr_sweep


def _runs() -> pd.DataFrame:
    """Parity, 3 LRs × 2 seeds: one seed capped at LR 0.01, one stalled at 0.1, all converged at 0.5."""
    statuses = {0.01: ["converged", "max_iters"], 0.1: ["stalled", "converged"], 0.5: ["converged", "converged"]}
    return pd.DataFrame([{"dataset": "parity", "model": "fcn_parity", "recipe": "sgd", "lr": lr, "intervention": "none",
                          "seed": seed, "status": status, "test_acc": 0.5 + lr / 2 + 0.01 * seed, "csi": lr}
                         for lr, seeds in statuses.items() for seed, status in enumerate(seeds)])


def _markers(fig: plt.Figure) -> dict[str, list[float]]:
    """gid ("<variable>|capped" or "|converged") → LRs of that scatter's markers, hollow ones checked."""
    found = {}
    for collection in fig.axes[0].collections:
        gid = collection.get_gid()
        if gid:
            hollow = len(collection.get_facecolor()) == 0
            assert hollow == gid.endswith("|capped")
            found[gid] = sorted(collection.get_offsets()[:, 0].tolist())
    return found


def test_capped_and_stalled_runs_get_hollow_markers_and_converged_lrs_filled_ones():
    fig, ranges = lr_sweep_figure(_runs(), "t", metrics=["test_acc", "csi"])
    markers = _markers(fig)
    assert markers["Test Acc.|capped"] == pytest.approx([0.01, 0.1])
    assert markers["Test Acc.|converged"] == pytest.approx([0.5])
    assert markers["Avg. CSI|capped"] == pytest.approx([0.01, 0.1])
    assert list(ranges["column"]) == ["test_acc", "csi"]
    assert "includes capped runs" in [text.get_text() for text in fig.legends[0].get_texts()]
    assert any("2/6 runs stopped before 100 % train acc." in text.get_text() for text in fig.texts)
    plt.close(fig)


def test_all_converged_sweep_has_only_filled_markers_and_no_footer(tmp_path):
    runs = _runs().assign(status="converged")
    fig, _ = lr_sweep_figure(runs, "t", metrics=["test_acc"])
    assert set(_markers(fig)) == {"Test Acc.|converged"}
    assert not any("stopped" in text.get_text() for text in fig.texts)
    assert "includes capped runs" not in [text.get_text() for text in fig.legends[0].get_texts()]
    plt.close(fig)
    plot_lr_sweep(runs, tmp_path / "f.pdf", tmp_path / "f.png", tmp_path / "r.csv", "t", metrics=["test_acc"])
    assert (tmp_path / "f.png").stat().st_size > 0 and len(pd.read_csv(tmp_path / "r.csv")) == 1
