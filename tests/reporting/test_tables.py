import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from helpers import cell_rows
from largelr.metric_registry import TABLE1_METRICS
from largelr.reporting.latex import latex_escape
from largelr.reporting.tables import (TABLE2_KEYS, FLOOR_MARK, UNDER_TRAINED, claims_scorecard, intervention_runs, main_recipe_runs,
                                      paper_prunability_reading, paper_table, retention_floor, table1, table2,
                                      write_table, write_table1)


def _runs(values_by_lr, metric="test_acc", dataset="parity", model="fcn_parity", recipe="sgd", status="converged"):
    """One run per value; every Table 1 metric (and worst-group accuracy) equals the value."""
    rows = []
    for lr, values in values_by_lr.items():
        for seed, value in enumerate(values):
            row = {"dataset": dataset, "model": model, "recipe": recipe, "lr": lr, "intervention": "none", "seed": seed,
                   "status": status}
            row.update({m: value for m in (*TABLE1_METRICS, "worst_group_acc")})
            rows.append(row)
    return pd.DataFrame(rows)


def test_paper_tables_are_typed_in_completely():
    t1, t2 = paper_table("table1"), paper_table("table2")
    assert len(t1) == 23 and len(t2) == 24
    parity = t1[t1["dataset"] == "Parity"].iloc[0]
    assert (parity["test_acc_min"], parity["test_acc_max"]) == (55.31, 85.663)


def test_table1_min_max_are_those_of_the_per_lr_means_and_match_the_paper_row():
    runs = _runs({0.01: [0.5, 0.6], 0.1: [0.8, 0.9], 0.75: [0.7, 0.7]})
    table = table1(runs, {"fcn_parity": "fcn"})
    row = table.iloc[0]
    assert (row["lr_min"], row["lr_max"]) == (0.01, 0.75)
    assert row["test_acc_min"] == pytest.approx(55.0) and row["test_acc_max"] == pytest.approx(85.0)
    assert row["prunability_min"] == pytest.approx(0.55)
    assert row["test_acc_min_paper"] == 55.31
    assert row["test_acc_max_diff"] == pytest.approx(85.0 - 85.663)


def test_scorecard_supports_a_monotone_series_and_not_a_shuffled_one():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    monotone = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    card = claims_scorecard(monotone, n_boot=300)
    assert set(card["verdict"]) == {"supported"} and card["spearman"].min() > 0.9
    rng = np.random.default_rng(1)
    shuffled = monotone.copy()
    shuffled["test_acc"] = rng.permutation(shuffled["test_acc"].to_numpy())
    verdict = claims_scorecard(shuffled, metrics=["test_acc"], n_boot=300)["verdict"].iloc[0]
    assert verdict == "inconclusive"
    decreasing = _runs({lr: [-i - 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    assert set(claims_scorecard(decreasing, n_boot=300)["verdict"]) == {"contradicted"}


def test_write_table_gives_csv_markdown_and_latex(tmp_path):
    frame = pd.DataFrame({"a": [1.23456789, np.nan], "b": ["x", "y"]})
    write_table(frame, tmp_path / "t", caption="Demo table")
    assert pd.read_csv(tmp_path / "t.csv").shape == (2, 2)
    markdown = (tmp_path / "t.md").read_text()
    assert markdown.startswith("Demo table") and "1.235 |" in markdown and "1.2345" not in markdown
    assert "\\begin{tabular}" in (tmp_path / "t.tex").read_text()


def _intervention_runs():
    rows = (cell_rows(0.01, "none", [0.7, 0.8]) + cell_rows(0.1, "none", [0.9, 0.92])
            + cell_rows(1.0, "none", [np.nan], status="diverged")
            + cell_rows(0.01, "batch_size=10", [0.6, 0.7]) + cell_rows(0.01, "batch_size=100", [0.8, 0.8], status="max_iters")
            + cell_rows(0.01, "batch_size=3", [0.1], status="diverged")
            + cell_rows(0.01, "l2=0.001", [0.75, 0.75]) + cell_rows(0.01, "l2=0.01", [0.5, 0.6])
            + cell_rows(0.35, "l2=0.0001", [0.95, 0.97])
            + cell_rows(0.1, "none", [0.9], dataset="parity", model="fcn_parity"))
    return pd.DataFrame(rows)


def test_intervention_runs_label_lr_sweep_inverse_batch_size_and_high_lr_l2():
    labelled = intervention_runs(_intervention_runs())
    assert "parity" not in set(labelled["dataset"])  # no intervention cells: no Table 2 row
    assert "diverged" not in set(labelled["status"])
    batch = labelled[labelled["intervention_kind"] == "batch_size"]
    assert sorted(batch["value"].unique()) == pytest.approx([0.01, 0.1])
    high = labelled[labelled["intervention_kind"] == "high_lr_l2"]
    assert high["value"].tolist() == [0.0001, 0.0001] and high["base_lr"].tolist() == [0.35, 0.35]
    assert sorted(labelled[labelled["intervention_kind"] == "l2"]["value"].unique()) == [0.001, 0.01]


def test_table2_min_max_of_per_value_means_in_the_papers_order_beside_the_paper():
    table = table2(_intervention_runs(), {"cnn": "cnn"}).set_index("intervention_kind")
    assert list(table.index) == ["lr", "high_lr_l2", "batch_size", "l2"]
    lr = table.loc["lr"]
    assert (lr["intervention_min"], lr["intervention_max"]) == (0.01, 0.1)  # the diverged LR 1.0 is ignored
    assert lr["test_acc_min"] == pytest.approx(75.0) and lr["test_acc_max"] == pytest.approx(91.0)
    assert np.isnan(lr["base_lr"]) and lr["runs"] == 4
    batch = table.loc["batch_size"]
    assert (batch["intervention_min"], batch["intervention_max"]) == pytest.approx((0.01, 0.1))  # 1/100 and 1/10; 1/3 diverged
    assert batch["test_acc_min"] == pytest.approx(65.0) and batch["test_acc_max"] == pytest.approx(80.0)
    assert batch["csi_min"] == pytest.approx(0.65) and batch["capped_runs"] == 2
    assert table.loc["l2", "prunability_min"] == pytest.approx(0.55)
    assert table.loc["high_lr_l2", "base_lr"] == 0.35 and table.loc["high_lr_l2", "test_acc_max"] == pytest.approx(96)
    assert batch["intervention_max_paper"] == 0.3333 and batch["intervention_max_diff"] == pytest.approx(0.1 - 0.3333)
    assert lr["test_acc_min_paper"] == 72.297 and lr["test_acc_min_diff"] == pytest.approx(75.0 - 72.297)
    assert batch["paper_model"] == "CNN" and "act_compressibility_max" in table.columns


def test_table2_is_empty_without_intervention_cells():
    assert table2(pd.DataFrame(cell_rows(0.1, "none", [0.9])), {}).empty


# --- Issue 10, tables and verdicts: recipes kept apart, capped runs counted, worst-group rows ---

def test_table1_reports_the_main_sgd_recipe_only():
    """§4.2: Table 1 is constant-LR SGD; an Adam sweep of the same pair must not enter it."""
    sgd = _runs({0.01: [0.5, 0.6], 0.1: [0.8, 0.9], 0.75: [0.7, 0.7]})
    adam = _runs({1e-5: [0.1, 0.1], 1e-3: [0.99, 0.99]}, recipe="adam")
    row = table1(pd.concat([sgd, adam]), {"fcn_parity": "fcn"}).iloc[0]
    assert row["recipe"] == "sgd" and (row["lr_min"], row["lr_max"]) == (0.01, 0.75)
    assert row["test_acc_min"] == pytest.approx(55.0) and row["test_acc_max"] == pytest.approx(85.0)
    assert row["runs"] == 6
    other = table1(pd.concat([sgd, adam]), {}, main_recipe="adam").iloc[0]
    assert (other["recipe"], other["lr_min"], other["test_acc_max"]) == ("adam", 1e-5, pytest.approx(99.0))


def test_main_recipe_falls_back_to_a_pairs_only_recipe_and_drops_ambiguous_pairs():
    only_adamw = _runs({1e-5: [0.4]}, dataset="celeba", model="swin_t", recipe="adamw")
    two_others = pd.concat([_runs({0.1: [0.5]}, recipe="adam"), _runs({0.1: [0.6]}, recipe="sgd_anneal")])
    chosen = main_recipe_runs(pd.concat([only_adamw, two_others]))
    assert list(zip(chosen["dataset"], chosen["recipe"])) == [("celeba", "adamw")]
    assert table1(only_adamw.iloc[:0], {}).empty


def test_scorecard_gives_every_recipe_its_own_rows():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    sgd = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    adam = _runs({lr: [-i - 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)}, recipe="adam")
    card = claims_scorecard(pd.concat([sgd, adam]), metrics=["test_acc"], n_boot=200).set_index("recipe")
    assert card.loc["sgd", "verdict"] == "supported" and card.loc["adam", "verdict"] == "contradicted"
    assert card.loc["sgd", "runs"] == 15 and card.loc["sgd", "learning_rates"] == 5


def test_scorecard_verdict_uses_converged_runs_only_and_counts_capped_ones():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    converged = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    capped = pd.concat([_runs({lr: [-10.0 * i] * 3}, status="max_iters") for i, lr in enumerate(lrs[:3])]
                       + [_runs({lr: [-10.0 * (i + 3)]}, status="stalled") for i, lr in enumerate(lrs[3:])])
    row = claims_scorecard(pd.concat([converged, capped]), metrics=["test_acc"], n_boot=200).iloc[0]
    assert (row["runs"], row["converged_runs"], row["capped_runs"]) == (26, 15, 11)
    assert row["spearman"] == pytest.approx(claims_scorecard(converged, ["test_acc"], 200)["spearman"].iloc[0])
    assert row["verdict"] == "supported"


def test_scorecard_row_with_two_converged_lrs_is_under_trained():
    converged = _runs({0.01: [0.1, 0.2], 0.1: [0.8, 0.9]})
    capped = pd.concat([_runs({0.3: [0.95, 0.97]}, status="max_iters"), _runs({1.0: [0.99]}, status="stalled")])
    row = claims_scorecard(pd.concat([converged, capped]), metrics=["test_acc"], n_boot=200).iloc[0]
    assert row["verdict"] == UNDER_TRAINED == "inconclusive (under-trained)"
    assert (row["learning_rates"], row["converged_learning_rates"], row["capped_runs"]) == (4, 2, 3)


def test_table1_counts_capped_runs_and_marks_their_rows_with_a_dagger(tmp_path):
    runs = pd.concat([_runs({0.01: [0.5], 0.1: [0.8]}), _runs({0.75: [0.7]}, status="stalled"),
                      _runs({0.5: [0.6]}, status="max_iters"),
                      _runs({0.01: [0.7], 0.25: [0.8]}, dataset="moon_star", model="fcn_moon_star")])
    table = table1(runs, {"fcn_parity": "fcn", "fcn_moon_star": "fcn"}).set_index("dataset")
    assert table.loc["parity", ["runs", "converged_runs", "capped_runs"]].tolist() == [4, 2, 2]
    assert table.loc["moon_star", "capped_runs"] == 0
    write_table1(table.reset_index(), tmp_path / "table1", caption="Table 1")
    markdown, latex = (tmp_path / "table1.md").read_text(), (tmp_path / "table1.tex").read_text()
    assert "parity †" in markdown and "moon_star †" not in markdown
    assert "† includes runs stopped before 100 % training accuracy" in markdown
    assert "parity \\dag{}" in latex and "100 \\% training accuracy" in latex
    assert list(pd.read_csv(tmp_path / "table1.csv")["dataset"]) == ["moon_star", "parity"]


def test_table1_celeba_and_waterbirds_compare_worst_group_accuracy():
    """§4.1: worst-group test accuracy for CelebA and Waterbirds, beside the paper's CelebA row."""
    celeba = _runs({1e-7: [0.9], 1e-4: [0.95]}, dataset="celeba", model="swin_t").assign(worst_group_acc=[0.4, 0.5])
    birds = _runs({1e-3: [0.9], 1e-2: [0.8]}, dataset="waterbirds", model="resnet50").assign(worst_group_acc=0.3)
    table = table1(pd.concat([celeba, birds]), {"swin_t": "swin_t", "resnet50": "resnet50"}).set_index("dataset")
    row = table.loc["celeba"]
    assert (row["paper_dataset"], row["paper_model"], row["acc_metric"]) == ("CelebA", "Swin Transformer",
                                                                              "worst_group_acc")
    assert (row["test_acc_min"], row["test_acc_max"]) == pytest.approx((40.0, 50.0))
    assert row["test_acc_min_paper"] == 40.889 and row["test_acc_min_diff"] == pytest.approx(40.0 - 40.889)
    birds_row = table.loc["waterbirds"]
    assert birds_row["paper_dataset"] == "Waterbirds" and birds_row["test_acc_max"] == pytest.approx(30.0)
    assert np.isnan(birds_row["test_acc_min_paper"])  # the paper's Table 1 has no Waterbirds row
    card = claims_scorecard(celeba.assign(status="converged"), n_boot=50)
    assert "worst_group_acc" in set(card["metric"])


def test_table1_fcn_rows_of_the_rho_025_datasets_match_the_papers_fcn_rows():
    runs = pd.concat([_runs({0.001: [0.3], 0.01: [0.4]}, dataset="mnist_cifar_fcn", model="fcn_wide"),
                      _runs({0.0001: [0.3], 0.005: [0.4]}, dataset="corrupted_cifar10_fcn", model="fcn_wide")])
    table = table1(runs, {"fcn_wide": "fcn"}).set_index("dataset")
    assert table.loc["mnist_cifar_fcn", ["paper_dataset", "paper_model"]].tolist() == ["MNIST-CIFAR", "FCN"]
    assert table.loc["mnist_cifar_fcn", "test_acc_min_paper"] == 35.247
    assert table.loc["corrupted_cifar10_fcn", "paper_dataset"] == "Cor. CIFAR-10"
    assert table.loc["corrupted_cifar10_fcn", "test_acc_min_paper"] == 46.92
    assert table.loc["corrupted_cifar10_fcn", "acc_metric"] == "test_acc"


def test_table2_counts_stalled_runs_as_capped():
    rows = cell_rows(0.01, "none", [0.7]) + cell_rows(0.01, "l2=0.01", [0.5], status="stalled")
    table = table2(pd.DataFrame(rows), {"cnn": "cnn"}).set_index("intervention_kind")
    assert table.loc["l2", "capped_runs"] == 1


def test_scorecard_has_a_row_per_prunability_ranking_column_so_verdicts_can_differ():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    runs = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    runs["prunability_weight_norm"] = -runs["prunability"]   # falls with LR
    runs["prunability_activation"] = runs["prunability"]     # rises with LR
    raw = claims_scorecard(runs, n_boot=200)
    assert list(raw.columns[:5]) == ["dataset", "model", "recipe", "metric", "prune_ranking"]
    card = raw.set_index("metric")
    assert {"prunability", "prunability_weight_norm", "prunability_activation"} <= set(card.index)
    assert "prunability_global_weight_norm" not in card.index  # only the columns the runs table has
    assert card.loc["prunability_weight_norm", "verdict"] == "contradicted"
    assert card.loc["prunability_activation", "verdict"] == "supported"
    assert card.loc["prunability_activation", "prune_ranking"] == "activation"
    assert card.loc["test_acc", "prune_ranking"] == ""
    assert "prunability_activation" not in set(claims_scorecard(runs, metrics=["test_acc"], n_boot=50)["metric"])


def test_retention_floor_marks_paritys_paper_row_as_the_accuracy_reading(tmp_path):
    # §3.2 ratio on κ = 0 … 0.9: κ = 0 gives 1, the rest at least chance / Acc(f)
    assert retention_floor(0.857, 2) == pytest.approx((1 + 9 * 0.5 / 0.857) / 10)
    assert retention_floor(0.506, 2) == pytest.approx(0.989, abs=1e-3)  # a model at chance keeps ~everything
    assert paper_prunability_reading(0.56, 85.663, 2) == "accuracy"     # parity: 0.56 < 0.63
    assert paper_prunability_reading(0.935, 76.11, 10) == "retention"   # Colored MNIST FCN: above its accuracy
    assert paper_prunability_reading(0.532, 91.48, 10) == "either"      # Colored MNIST CNN
    runs = _runs({0.01: [0.55, 0.56], 0.1: [0.7, 0.72], 0.75: [0.85, 0.86]})
    runs["pruned_accuracy"] = runs["test_acc"] * 0.9
    table = table1(runs, {"fcn_parity": "fcn"})
    row = table.iloc[0]
    assert row["paper_prunability_reading"] == "accuracy"
    assert row["paper_retention_floor"] == pytest.approx((1 + 9 * 0.5 / 0.85663) / 10)
    assert row["pruned_accuracy_min"] == pytest.approx(0.9 * 0.555)
    assert row["pruned_accuracy_min_diff"] == pytest.approx(0.9 * 0.555 - 0.56)  # beside the paper's value
    write_table1(table, tmp_path / "table1", caption="Table 1")
    md, tex = (tmp_path / "table1.md").read_text(), (tmp_path / "table1.tex").read_text()
    assert f"Parity {FLOOR_MARK}" in md and "(1 + 9 × chance / Acc(f)) / 10" in md
    assert "Parity \\ddag{}" in tex and "floor of the retention reading" in tex
    assert FLOOR_MARK not in (tmp_path / "table1.csv").read_text()


def test_table1_does_not_mark_a_row_above_the_floor_nor_worst_group_rows():
    runs = _runs({0.01: [0.9], 0.1: [0.91]}, dataset="colored_mnist", model="cnn")
    row = table1(runs, {"cnn": "cnn"}).iloc[0]
    assert row["paper_prunability_reading"] == "either" and row["paper_retention_floor"] < 0.532
    celeba = table1(_runs({1e-6: [0.4], 1e-5: [0.45]}, dataset="celeba", model="swin_t"), {"swin_t": "swin_t"})
    assert celeba.iloc[0]["paper_prunability_reading"] == ""  # worst-group accuracy: the ratio divides by another


def test_scorecard_has_a_row_per_normalisation_and_ranking_and_live_selectivity_rows():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    runs = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    runs["prunability_weight_norm"] = -runs["prunability"]        # retention reading falls with LR
    runs["pruned_accuracy"] = runs["pruned_accuracy_weight_norm"] = runs["prunability"]  # accuracy reading rises
    runs["csi_live"], runs["bsi"], runs["bsi_live"] = runs["csi"], -runs["csi"], -runs["csi"]
    card = claims_scorecard(runs, n_boot=200).set_index("metric")
    assert card.loc["prunability_weight_norm", ["prune_ranking", "normalisation", "verdict"]].tolist() == [
        "weight_norm", "retention", "contradicted"]
    assert card.loc["pruned_accuracy_weight_norm", ["prune_ranking", "normalisation", "verdict"]].tolist() == [
        "weight_norm", "accuracy", "supported"]
    assert card.loc["pruned_accuracy", "normalisation"] == "accuracy" and card.loc["prunability", "normalisation"] == (
        "retention")
    assert card.loc["csi_live", "verdict"] == "supported"
    assert card.loc["bsi_live", "verdict"] == "no claim" and card.loc["bsi_live", "spearman"] < 0  # ρ shown, no claim
    assert card.loc["test_acc", "normalisation"] == ""


def test_table2_leaves_out_the_lr_drop_axis_of_fig28():
    # lr_drop_at cells (Fig 28 top right) are no row of the paper's Table 2, and a group that has
    # only them has no Table 2 rows at all
    with_drop = pd.concat([_intervention_runs(), pd.DataFrame(cell_rows(0.1, "lr_drop_at=300", [0.8]))])
    assert list(table2(with_drop, {"cnn": "cnn"})["intervention_kind"]) == ["lr", "high_lr_l2", "batch_size", "l2"]
    only_drop = pd.concat([pd.DataFrame(cell_rows(0.1, "none", [0.9])),
                           pd.DataFrame(cell_rows(0.1, "lr_drop_at=300", [0.8]))])
    assert table2(only_drop, {}).empty


def test_latex_escape_spells_out_every_special_character():
    assert latex_escape("test_acc_min & 100 % {x} #1 $5") == r"test\_acc\_min \& 100 \% \{x\} \#1 \$5"
    assert latex_escape("a~b^c\\d") == r"a\textasciitilde{}b\textasciicircum{}c\textbackslash{}d"
    assert latex_escape("parity † ‡ κ") == r"parity \dag{} \ddag{} $\kappa$"


def test_latex_tables_have_no_bare_specials_one_row_per_pair_and_ours_beside_the_papers(tmp_path):
    runs = pd.concat([_runs({0.01: [0.5], 0.1: [0.8]}),
                      _runs({0.01: [0.7], 0.25: [0.8]}, dataset="moon_star", model="fcn_moon_star")])
    table = table1(runs, {"fcn_parity": "fcn", "fcn_moon_star": "fcn"})
    write_table1(table, tmp_path / "table1", caption="Table 1: min_max")
    tex = (tmp_path / "table1.tex").read_text()
    body = tex.replace(" & ", " ").replace("{%\n", "{\n")  # column separators, the resizebox line end
    assert not re.search(r"(?<!\\)[_&%#]", body), "a bare LaTeX special character"
    rows = [line for line in tex.splitlines() if line.startswith(("parity", "moon"))]
    assert [row.split(" & ")[0] for row in rows] == ["moon\\_star", "parity"]  # one row per dataset and model
    header = tex.splitlines()[tex.splitlines().index(r"\hline") + 1]
    assert r"\multicolumn{2}{c}{test\_acc}" in header and r"\multicolumn{2}{c}{lr}" in header
    parity = rows[1].split(" & ")
    assert "50--80" in parity  # ours: the per-LR means' min-max, in %
    assert pd.read_csv(tmp_path / "table1.csv").shape[1] == table.shape[1]  # the CSV keeps every column


@pytest.mark.latex
def test_tables_compile_with_pdflatex(tmp_path):
    """Table 1 and Table 2 as the rules write them compile in a minimal document (installs
    texlive-latex-base with apt-get when pdflatex is missing)."""
    if shutil.which("pdflatex") is None:
        if shutil.which("apt-get") is None:
            pytest.skip("no pdflatex and no apt-get to install texlive-latex-base")
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "texlive-latex-base"],
                       check=True, capture_output=True, timeout=1200, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    runs = pd.concat([_runs({0.01: [0.5], 0.1: [0.8]}, status="max_iters"), _runs({0.01: [0.7], 0.25: [0.8]},
                     dataset="moon_star", model="fcn_moon_star")])
    write_table1(table1(runs, {"fcn_parity": "fcn", "fcn_moon_star": "fcn"}), tmp_path / "table1", caption="Table 1")
    write_table(table2(_intervention_runs(), {"cnn": "cnn"}), tmp_path / "table2", caption="Table 2", keys=TABLE2_KEYS)
    for name in ("table1", "table2"):
        document = tmp_path / f"{name}-doc.tex"
        document.write_text("\\documentclass{article}\n\\usepackage{graphicx}\n\\begin{document}\n"
                            f"\\input{{{name}.tex}}\n\\end{{document}}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:]
        assert (tmp_path / f"{name}-doc.pdf").stat().st_size > 0
