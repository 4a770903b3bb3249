"""Grouped FPE experiment kinds (issue 16, part 3): labels, validation, rows, storage."""

from __future__ import annotations

import math

import pytest

from fpe_empirical.experiments.grouped import (
    GroupedDNFExperiment, GroupedEmbeddingExperiment, grouped_configs, grouped_label, main, parse_grouped,
)
from fpe_empirical.experiments.registry import config_from_dict, get_kind
from fpe_empirical.experiments.runner import run
from fpe_empirical.results.keys import config_key, config_to_dict

TINY = dict(pretrain_epochs=2, split_epochs=2, n_samples=400)


def test_labels_round_trip_and_bad_labels_are_refused():
    assert parse_grouped(grouped_label(4)) == 4 and parse_grouped("random") is None and parse_grouped("G0") is None
    with pytest.raises(ValueError, match="needs n_partitions <= hidden = 8"):
        GroupedDNFExperiment(strategies=("dense", "G16"), **TINY)
    with pytest.raises(ValueError, match="strategies must be drawn from"):
        GroupedDNFExperiment(strategies=("dense", "G0"), **TINY)
    with pytest.raises(ValueError, match="alpha"):  # the DNF kind's own checks still run
        GroupedDNFExperiment(alpha=64, **TINY)
    c = GroupedDNFExperiment(**TINY)
    assert config_from_dict("dnf-grouped", config_to_dict(c)) == c
    assert get_kind("dnf-grouped").config is GroupedDNFExperiment
    assert get_kind("embedding-grouped").config is GroupedEmbeddingExperiment


def test_rows_keep_the_budget_and_report_partitions():
    frame = run(GroupedDNFExperiment(**TINY))
    assert list(frame.strategy) == ["dense", "random", "clause", "G1", "G2", "G4", "G8"]
    assert frame.nonzero.nunique() == 1  # every split at the dense model's non-zero count
    by = frame.set_index("strategy")
    assert by.loc["random", "n_partitions"] == 8 and by.loc["G2", "n_partitions"] == 2
    assert math.isnan(by.loc["clause", "n_partitions"])
    assert by.loc["G8", "predicted_p_all_covered"] == by.loc["random", "predicted_p_all_covered"]
    assert by.loc["G1", "predicted_p_all_covered"] < by.loc["G4", "predicted_p_all_covered"]
    vis = run(GroupedEmbeddingExperiment(pretrain_epochs=1, split_epochs=1, strategies=("dense", "random", "G2")))
    assert vis.nonzero.nunique() == 1 and list(vis.strategy) == ["dense", "random", "G2"]


def test_study_configs_and_cli_bad_input(tmp_path, capsys):
    full, small = grouped_configs("full"), grouped_configs("small")
    assert len(full) == 3 * 2 * 5 + 2 * 5 and len(small) == 3 * 2 * 5 + 2 * 5
    assert {(c.pretrain_epochs, c.split_epochs) for c in full if c.kind == "dnf-grouped"} == {(1000, 1000)}
    case = grouped_configs("case_study")
    assert {config_key(c) for c in case} <= {config_key(c) for c in full}  # a subset of the full study
    with pytest.raises(ValueError, match="scale"):
        grouped_configs("tiny")
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--scale", "nope"])
    assert exc.value.code == 2 and "--scale" in capsys.readouterr().err


def test_figure_draws_from_stored_rows_and_refuses_a_missing_study(tmp_path):
    """paper_figures/grouped_fpe.py: drawn from stored rows of a tiny study (no training in
    the script); a store without the study is a MissingResults naming the command."""
    import json

    from fpe_empirical.results.store import ResultStore
    from paper_figures.common import Context, MissingResults
    from paper_figures.grouped_fpe import draw, make

    frame = run(GroupedDNFExperiment(**TINY))
    vis = run(GroupedEmbeddingExperiment(pretrain_epochs=1, split_epochs=1))
    bench = {"rows": [{"net": "512-1024-100", "alpha": 2, "batch": 256,
                       "ratio": {"fpe": 0.8, "G=1": 0.6, "G=2": 0.6, "G=4": 0.6, "G=8": 0.6}}]}
    fig, data = draw(frame, vis, bench)
    assert {"test_accuracy_minus_random", "predicted_p_all_covered", "latency_over_parent"} <= set(data["quantity"])
    random_row = data[(data.quantity == "test_accuracy_minus_random") & (data.strategy == "random")]
    assert (random_row["mean"] == 0).all()  # the reference itself
    (tmp_path / "b.json").write_text(json.dumps(bench))
    ctx = Context(profile="grouped", store=ResultStore(tmp_path / "store"), out=tmp_path / "out", datasets={})
    with pytest.raises(MissingResults, match="grouped_experiment"):
        make(ctx, str(tmp_path / "b.json"))
