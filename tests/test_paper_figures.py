"""paper_figures: every figure/table from the store, the CLI, resumption, bad input.

The pipeline runs once per module on the profiles' "tiny" profile (2 seeds, a few epochs:
numbers that mean nothing, but every code path of the real profiles) into a temporary store;
the tests then check the files, that the plotted numbers are the stored ones, that a rerun
trains nothing, and the CLI's bad-input handling.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import paper_figures
from paper_figures.__main__ import main
from fpe_empirical import profiles
from fpe_empirical.config import config_key
from fpe_empirical.store import ResultStore, load_results

FIGURE_IDS = ["theory_coverage", "theory_collisions", "theory_model_gap", "fig2", "figA1", "fig3", "fig4", "tableA1", "tableA2", "fig5",
              "fig6", "tableA3", "tableA4", "tableA5", "table_rewiring"]
TABLES = {"tableA1", "tableA2", "tableA3", "tableA4", "tableA5", "table_rewiring"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The whole tiny pipeline from an empty store: (store dir, out dir, exit code)."""
    root = tmp_path_factory.mktemp("figs")
    store, out = root / "store", root / "out"
    code = main(["--profile", "tiny", "--store", str(store), "--out", str(out), "--no-progress"])
    return store, out, code


def read_csv(path: Path) -> tuple[str, pd.DataFrame]:
    with open(path) as fh:
        caption = fh.readline()
        return caption, pd.read_csv(fh)


def test_every_figure_written(run):
    store, out, code = run
    assert code == 0
    assert {stem for mod in paper_figures.figures().values() for stem in mod.FIGURE.stems} == set(FIGURE_IDS)
    for fid in FIGURE_IDS:
        exts = ("csv", "md") if fid in TABLES else ("png", "pdf", "csv")
        for ext in exts:
            p = out / f"{fid}.{ext}"
            assert p.is_file() and p.stat().st_size > 0, p
    index = (out / "index.md").read_text()
    assert all(f"{fid}." in index for fid in FIGURE_IDS)


def test_images_are_readable_pngs(run):
    from PIL import Image

    _, out, _ = run
    for png in out.glob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG"
            assert im.size[0] >= 700 and im.size[1] >= 350, (png.name, im.size)
    for pdf in out.glob("*.pdf"):
        assert pdf.read_bytes()[:5] == b"%PDF-"


def test_captions_state_profile_data_trials_store(run):
    store, out, _ = run
    for csv in out.glob("*.csv"):
        caption, _ = read_csv(csv)
        assert caption.startswith("# ") and csv.stem.split("_")[0] in caption, csv.name
        for word in ("profile: tiny", "data:", "trial", f"store: {store}"):
            assert word in caption, (csv.name, word)
    assert "offline" in (out / "fig5.csv").read_text().splitlines()[0]


def test_fig3_numbers_are_the_stored_ones(run):
    """Figure 3a's points are the mean and sample std over seeds of the stored runs' RI."""
    store, out, _ = run
    _, plotted = read_csv(out / "fig3.csv")
    keys = {config_key(c) for c in profiles.configs("fig3a", "tiny")}
    stored = load_results(store, kind="dnf")
    stored = stored[stored.key.isin(keys)]
    for s in ("clause", "random"):
        want = stored[stored.strategy == s].groupby("hidden")["relative_improvement"].agg(["mean", "std"])
        got = plotted[(plotted.panel == "a") & (plotted.strategy == s)].set_index("hidden")
        assert sorted(got.index) == sorted(want.index)
        np.testing.assert_allclose(got.loc[want.index, "mean"], want["mean"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.loc[want.index, "std"], want["std"], rtol=1e-9, atol=1e-12)


def test_table_and_theory_numbers_are_the_stored_ones(run):
    store, out, _ = run
    _, a1 = read_csv(out / "tableA1.csv")
    keys = {config_key(c) for c in profiles.configs("fig3b", "tiny")}
    dnf = load_results(store, kind="dnf")
    dnf = dnf[dnf.key.isin(keys)]
    want = dnf.groupby(["n_literals", "strategy"])["feature_capacity"].mean()
    got = a1.set_index(["n_literals", "strategy"])["mean"]
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-9)
    # theory: simulated collision ratio = stored mean collisions / dense collisions N*C(C,2)
    _, col = read_csv(out / "theory_collisions.csv")
    sims = load_results(store, kind="theory-sim").drop_duplicates("key")
    sims = sims[sims.key.isin({config_key(c) for c in profiles.configs("theory_collisions", "tiny")})]
    sim_rows = col[col.quantity == "simulation"]
    assert len(sim_rows) == len(sims)
    assert set(sims.model) == {"literal", "subset", "partition"}
    for r in sims.itertuples():
        dense = r.sim_n_parents * r.n_clauses * (r.n_clauses - 1) / 2
        got = sim_rows[(sim_rows.alpha == r.alpha) & (sim_rows.n_clauses == r.n_clauses)
                       & (sim_rows.model == r.model)]["value"].item()
        assert got == pytest.approx(r.mean_collisions / dense, rel=1e-9)
    # the model-gap figure's Monte Carlo points are the stored runs at the paper's sizing rule
    _, gap = read_csv(out / "theory_model_gap.csv")
    runs = load_results(store, kind="theory-sim")
    runs = runs[runs.key.isin({config_key(c) for c in profiles.configs("theory_model_gap", "tiny")})]
    at_rule = runs[runs.n_parents == runs.sim_n_parents]
    pts = gap[gap.quantity == "simulation_p_all_at_paper_rule"]
    assert len(pts) == len(at_rule) > 0
    for r in at_rule.itertuples():
        got = pts[(pts.model == r.model) & (pts.n_clauses == r.n_clauses)]["value"].item()
        assert got == r.p_all_covered
    # the figure's case-study networks are the saved ones
    _, f2 = read_csv(out / "fig2.csv")
    res = profiles.case_study_models("tiny", ResultStore(store))[0]
    w = res.models["clause"].layers[0].masked_weight().detach().double().numpy()
    got = f2[f2.panel == "w1_clause"].pivot(index="row", columns="col", values="value").to_numpy()
    np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-7)


def test_rerun_trains_nothing(run, monkeypatch):
    """A second run reads the store: no sweep, no training, stored files untouched."""
    store, out, _ = run
    import fpe_empirical.sweep as sweep
    from fpe_empirical import dnf_experiment

    before = {p: p.stat().st_mtime_ns for p in Path(store).rglob("*") if p.is_file()}

    def refuse(configs, *a, **k):
        if list(configs):
            raise AssertionError("a stored experiment was run again")
        return sweep.SweepReport()

    monkeypatch.setattr(sweep, "run_sweep", refuse)
    monkeypatch.setattr(dnf_experiment, "train_dnf_many", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    code = main(["--profile", "tiny", "--store", str(store), "--out", str(out), "--only", "fig2,fig3,tableA1,fig5",
                 "--no-progress"])
    assert code == 0
    after = {p: p.stat().st_mtime_ns for p in Path(store).rglob("*") if p.is_file() and p.name != ".lock"}
    assert {p: t for p, t in before.items() if p.name != ".lock"} == after


def test_no_run_on_empty_store_draws_nothing(tmp_path, capsys):
    (tmp_path / "store").mkdir()
    code = main(["--profile", "tiny", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-run",
                 "--only", "fig3,fig2"])
    assert code == 1
    err = capsys.readouterr().err
    assert "fig3 not drawn" in err and "missing" in err
    assert not list((tmp_path / "out").glob("fig3*"))


def test_vision_figure_on_embedding_files(tmp_path):
    """Figure 5 with two embedding files: one panel each, their names in the caption, no
    'offline' in the title."""
    from fpe_empirical.embeddings import save_embeddings

    rng = np.random.default_rng(1)
    paths = []
    for name in ("alpha_emb.npz", "beta_emb.npz"):
        centers = rng.normal(size=(3, 8))
        ytr, yte = np.arange(90) % 3, np.arange(30) % 3
        p = tmp_path / name
        save_embeddings(p, (centers[ytr] + 0.5 * rng.normal(size=(90, 8))).astype(np.float32), ytr,
                        (centers[yte] + 0.5 * rng.normal(size=(30, 8))).astype(np.float32), yte)
        paths.append(str(p))
    out = tmp_path / "out"
    code = main(["--profile", "tiny", "--store", str(tmp_path / "store"), "--out", str(out), "--only", "fig5",
                 "--embeddings", paths[0], "--embeddings", paths[1], "--no-progress"])
    assert code == 0
    caption, data = read_csv(out / "fig5.csv")
    assert "alpha_emb.npz" in caption and "beta_emb.npz" in caption and "offline" not in caption
    assert set(data["dataset"]) == set(paths)


# --------------------------------------------------------------------------- CLI


def call(argv) -> int:
    """``main(argv)``'s exit code (argparse errors exit through SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.mark.parametrize("args, message", [
    (["--only", "fig9"], "--only must name figures"),
    (["--profile", "huge"], "invalid choice"),
    (["--embeddings", "/nonexistent/x.npz"], "does not exist"),
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--only", ","], "at least one figure"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    code = call(["--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()  # nothing created, nothing trained


def test_bad_paths_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["--out", str(f)]) == 2
    assert main(["--store", str(f)]) == 2
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["--store", str(tmp_path / "s"), "--embeddings", str(bad)]) == 2
    assert main(["--store", str(tmp_path / "missing"), "--no-run"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("python -m paper_figures: error:") for line in lines)


def test_cli_process_bad_input_and_list():
    """As a process: exit 2, one stderr line, no traceback; --list names every figure."""
    r = subprocess.run([sys.executable, "-m", "paper_figures", "--only", "nope"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "paper_figures", "--list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    listed = {line.split()[0] for line in r.stdout.splitlines()}
    assert listed == set(paper_figures.figures())


def test_standalone_script_reads_only(run, capsys):
    """`python -m paper_figures.fig3_sweeps` draws its figure from the store and never trains."""
    from paper_figures.standalone import script_main

    store, out, _ = run
    assert script_main("paper_figures.fig3_sweeps", ["--profile", "tiny", "--store", str(store), "--out",
                                                     str(out / "alone")]) == 0
    assert (out / "alone" / "fig3.png").is_file()
    assert not list((out / "alone").glob("fig4*"))


# --------------------------------------------------------------------------- script contract


def test_scripts_follow_the_contract():
    """One module per figure with FIGURE and make; ids unique; targets known; the scripts
    never train or run sweeps (computation lives in the packages)."""
    figs = paper_figures.figures()
    assert len(figs) == len(paper_figures.FIGURE_MODULES)
    forbidden = {"train", "train_many", "train_dnf", "train_dnf_many", "run_sweep", "ensure", "run_many", "simulate",
                 "train_embedding_many", "case_study_models"}
    for name, mod in figs.items():
        assert mod.__doc__ and callable(mod.make)
        assert set(mod.FIGURE.targets) <= set(profiles.TARGETS)
        tree = ast.parse(inspect.getsource(mod))
        called = {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
                  for n in ast.walk(tree) if isinstance(n, ast.Call)}
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not (called | imported) & forbidden, (name, (called | imported) & forbidden)


def test_kill_and_resume(tmp_path):
    """Killing the command mid-run (SIGKILL at its 2nd stored result, an event: tests/killpoint.py)
    loses nothing stored; the rerun finishes the rest."""
    from killpoint import run_to_killpoint

    store, out = tmp_path / "store", tmp_path / "out"
    args = ["--profile", "tiny", "--store", str(store), "--out", str(out), "--only", "fig3,tableA3"]
    cmd = [sys.executable, "-m", "paper_figures", *args]
    stop = run_to_killpoint(["paper_figures", *args], at=2, directory=store, match="*.json", log=tmp_path / "err")
    assert stop.killed, f"the command finished before its 2nd result: {stop.stderr[-2000:]}"
    kept = {p.name: p.read_bytes() for p in store.glob("*.json")}
    assert len(kept) == 2
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for name, blob in kept.items():  # results stored before the kill are untouched
        assert (store / name).read_bytes() == blob
    need = profiles.experiment_sets("tiny", targets=["fig3a", "fig3b", "fig3c", "tableA3"])
    assert not ResultStore(store).missing([c for v in need.values() for c in v])
    assert (out / "fig3.png").is_file() and (out / "tableA3.md").is_file()


test_kill_and_resume = pytest.mark.slow(test_kill_and_resume)


def test_docs_copies(run, tmp_path):
    """`python -m paper_figures.docs`: small copies of the main figures; bad input exits 2."""
    from PIL import Image

    from paper_figures import docs

    _, out, _ = run
    assert docs.main(["--src", str(out), "--dest", str(tmp_path / "d"), "--width", "600"]) == 0
    for name in docs.MAIN:
        p = tmp_path / "d" / f"{name}.png"
        with Image.open(p) as im:
            assert im.size[0] <= 600
        assert p.stat().st_size < (out / f"{name}.png").stat().st_size
    assert docs.main(["--src", str(tmp_path / "nothing"), "--dest", str(tmp_path / "e")]) == 2
    assert docs.main(["--src", str(out), "--width", "10"]) == 2


def test_store_in_use_exits_2(tmp_path, capsys):
    """Another sweep holds the store: one line, exit 2, nothing stored."""
    import fcntl

    store = tmp_path / "store"
    store.mkdir()
    with open(store / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = call(["--profile", "tiny", "--store", str(store), "--out", str(tmp_path / "o"), "--only",
                     "theory_collisions", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "in use" in err[-1] and err[-1].startswith("python -m paper_figures: error:")
    assert not list(store.glob("*.json"))
