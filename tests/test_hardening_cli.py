"""Hardening (issue 9): every CLI option fuzzed with bad values.

Each example breaks one option of an otherwise valid (and cheap) command line and calls the
CLI's ``main(argv)`` in this process: the exit code must be 2, stderr exactly one line that
names the option (or its parameter, or the offending file) and no traceback. A bad value a
CLI wrongly accepted would run the cheap base command and exit 0, failing the test. A few
real ``python -m`` processes check the same at the process boundary.

CLIs: ``fpe_theory.simulate``, ``fpe_empirical.sweep``, ``fpe_empirical.embed``,
``fpe_empirical.sensitivity``, ``fpe_empirical.dnf_experiment``,
``fpe_empirical.embedding_experiment``, ``validation``, ``paper_figures`` (and its
standalone scripts and ``paper_figures.docs``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from tally import Tally

import test_sweep  # noqa: F401 - registers the cheap 'sweep-test' kind and grid
from test_hardening_loading import _write_npz, _write_safetensors, broken_embedding

ROOT = Path(__file__).resolve().parent.parent
TRIED = Tally("hardening CLI inputs tried")  # printed in the session summary (tests/tally.py)
CLI_FUZZ = settings(max_examples=examples(1.2), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                             HealthCheck.too_slow])


def run_cli(main, argv):
    """(exit code, stdout, stderr) of ``main(argv)`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse errors exit from inside parse_args
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def expect_usage_error(cli: str, main, argv, names):
    TRIED[cli] += 1
    rc, out, err = run_cli(main, argv)
    assert rc == 2, f"{cli} {argv}: exit {rc}\nstdout: {out[-500:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"{cli} {argv}: stderr is not one line: {err!r}"
    names = (names,) if isinstance(names, str) else tuple(names)
    assert any(str(n) in err for n in names), f"{cli} {argv}: {err!r} names none of {names}"
    return err


# ----------------------------------------------------------------------------- bad option values
def _parses_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


def _parses_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


NOT_A_NUMBER = st.one_of(
    st.sampled_from(["x", "1.5e", "", " ", "1,2", "0x10", "ten", "--", "-x", "NaN%", "1/2", "[1]"]),
    st.text(min_size=1, max_size=6).filter(lambda s: not _parses_float(s) and not _parses_int(s)),
)


def bad_int(minimum: int, maximum: int | None = None):
    out = [st.integers(max_value=minimum - 1).map(str), NOT_A_NUMBER,
           st.sampled_from(["1.5", "2.0", "nan", "inf", "1e3"])]
    if maximum is not None:
        out.append(st.integers(min_value=maximum + 1).map(str))
    return st.one_of(*out)


def bad_float(low: float, high: float | None, *, low_ok: bool, high_ok: bool = False):
    """A float string outside [low, high] (the ends included when ``*_ok``), NaN, inf, or text."""
    out = [NOT_A_NUMBER, st.sampled_from(["nan", "inf", "-inf"]),
           st.floats(max_value=low, allow_nan=False, allow_infinity=False).filter(
               lambda x: x < low if low_ok else x <= low).map(repr)]
    if high is not None:
        out.append(st.floats(min_value=high, allow_nan=False, allow_infinity=False).filter(
            lambda x: x > high if high_ok else x >= high).map(repr))
    return st.one_of(*out)


def bad_choice(choices):
    return st.text(min_size=1, max_size=10).filter(lambda s: s not in choices and not s.startswith("-"))


# ============================================================================= fpe_theory.simulate
def _sim_main():
    import fpe_theory.simulate as sim

    return sim.main


SIM_BASE = ["--clauses", "4", "--alphas", "2", "--parents", "3", "--clause-size", "2", "--trials", "20", "--no-progress"]


def bad_int_list(minimum: int):
    return st.one_of(
        st.lists(st.integers(max_value=minimum - 1), min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs))),
        st.sampled_from(["", ",", "4,x", "4,,5,y", "1.5", "a,b", "4;8"]),
    )


@CLI_FUZZ
@given(data=st.data())
def test_simulate_cli_bad_options(tmp_path_factory, data):
    """simulate: trials/seed/threads/clause-size out of range or not integers, bad lists, family-alpha
    outside (0, 1), unknown names, unwritable outputs; each named on one stderr line."""
    import numba

    tmp = tmp_path_factory.mktemp("sim")
    (tmp / "file").write_text("x")
    option = data.draw(st.sampled_from(["--trials", "--seed", "--threads", "--clause-size", "--clauses", "--alphas",
                                        "--parents", "--family-alpha", "--delta", "--model", "--layout", "--json",
                                        "--csv", "--plot", "--unknown"]))
    names = (option, option.lstrip("-").replace("-", "_"))
    if option == "--trials":
        value = data.draw(st.one_of(bad_int(1), st.integers(min_value=2**62 + 1).map(str)))
    elif option == "--seed":
        value = data.draw(st.one_of(bad_int(0), st.integers(min_value=2**64).map(str)))
    elif option == "--threads":
        value = data.draw(bad_int(1, numba.config.NUMBA_NUM_THREADS))
    elif option == "--clause-size":
        value = data.draw(bad_int(1))
    elif option == "--clauses":
        value, names = data.draw(bad_int_list(1)), ("--clauses", "n_clauses")
    elif option == "--alphas":
        value, names = data.draw(st.one_of(bad_int_list(2), st.sampled_from(["3", "5", "16", "2,3"]))), ("alpha",)
    elif option == "--parents":
        value = data.draw(st.one_of(bad_int_list(1), st.integers(min_value=2**28).map(str)))
        names = ("--parents", "n_parents")
    elif option in ("--family-alpha", "--delta"):
        value = data.draw(bad_float(0.0, 1.0, low_ok=False, high_ok=False))
    elif option in ("--model", "--layout"):
        value = data.draw(bad_choice(("literal", "subset", "independent", "partition", "two_four", "all", "contiguous", "shuffled")))
    elif option in ("--json", "--csv"):
        value = data.draw(st.sampled_from([str(tmp), str(tmp / "file" / "out.json")]))
        names = (str(tmp),)
    elif option == "--plot":
        value, names = str(tmp / "file"), (str(tmp / "file"),)
    else:
        option, value, names = "--nope", "1", ("--nope",)
    expect_usage_error("fpe_theory.simulate", _sim_main(), SIM_BASE + [option, value], names)


# ============================================================================= fpe_empirical.sweep
@CLI_FUZZ
@given(data=st.data())
def test_sweep_cli_bad_options(tmp_path_factory, data):
    """sweep: chunk-size/retries/threads/workers out of range or not integers, a store that is a file,
    unknown grids and modules to import, two backends at once."""
    from fpe_empirical.sweep import main

    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "file").write_text("x")
    base = ["sweep-test-grid", "--store", str(tmp / "store"), "--import", "test_sweep", "--no-progress"]
    option = data.draw(st.sampled_from(["--chunk-size", "--retries", "--threads", "--workers", "--store", "--import",
                                        "grid", "backends"]))
    names = (option, option.lstrip("-").replace("-", "_"))
    argv = list(base)
    if option == "--chunk-size":
        argv += [option, data.draw(bad_int(1))]
    elif option == "--retries":
        argv += [option, data.draw(bad_int(0))]
    elif option == "--threads":
        argv += [option, data.draw(bad_int(1))]
    elif option == "--workers":
        argv += [option, data.draw(bad_int(1))]
    elif option == "--store":
        argv[2] = data.draw(st.sampled_from([str(tmp / "file"), ""]))
        names = ("store",)
    elif option == "--import":
        name = data.draw(st.one_of(st.from_regex(r"no_such_module_[a-z]{1,6}", fullmatch=True),
                                   st.sampled_from(["", ".", ".x", "a..b", "os.path.nope"])))
        argv += ["--import", name]
        names = ("--import",)
    elif option == "grid":
        argv[0] = data.draw(st.one_of(st.from_regex(r"no-such-grid-[a-z]{1,6}", fullmatch=True),
                                      st.just(str(tmp / "missing.json")), st.just(str(tmp / "file"))))
        names = ("grid", argv[0])
    else:
        argv += ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]
        names = ("--scheduler", "--workers")
    expect_usage_error("fpe_empirical.sweep", main, argv, names)


def _bad_grid_doc():
    """A grid document that is invalid by construction (never a runnable grid)."""
    json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3)),
                               lambda ch: st.lists(ch, max_size=2) | st.dictionaries(st.text(max_size=3), ch, max_size=2),
                               max_leaves=5)
    kinds = st.sampled_from(["dnf", "embedding", "dnf-coverage", "sweep-test"])
    return st.one_of(
        json_values.filter(lambda v: not isinstance(v, dict)),  # not a mapping at all
        st.dictionaries(st.text(max_size=4).filter(lambda k: k != "kind"), json_values, max_size=3),  # no kind
        st.builds(lambda k: {"kind": k}, st.text(max_size=8).filter(lambda k: k not in ("dnf", "embedding",
                                                                                     "dnf-coverage", "sweep-test"))),
        st.builds(lambda k, f: {"kind": k, "vary": {f: [1]}}, kinds, st.from_regex(r"zz[a-z]{1,5}", fullmatch=True)),
        st.builds(lambda k: {"kind": k, "vary": {"seed": []}}, kinds),
        st.builds(lambda k, v: {"kind": k, "fixed": {"seed": v}}, st.sampled_from(["dnf", "embedding", "dnf-coverage"]),
                  st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.floats(allow_nan=True))),
        st.builds(lambda k, v: {"kind": k, "fixed": {"alpha": v}}, st.sampled_from(["dnf", "embedding"]),
                  st.one_of(st.integers(max_value=1), st.just("2"), st.just(2.5))),
        st.builds(lambda b: {"grids": b}, st.one_of(st.just([]), st.just({}), st.just([{"kind": "nope"}]))),
        st.builds(lambda k, extra: {"kind": k, extra: 1}, kinds, st.from_regex(r"zz[a-z]{1,5}", fullmatch=True)),
    )


@CLI_FUZZ
@given(doc=_bad_grid_doc(), fmt=st.sampled_from(["json", "yaml", "toml", "raw"]), raw=st.binary(max_size=60))
def test_sweep_cli_bad_grid_files(tmp_path_factory, doc, fmt, raw):
    """Broken grid files (not a mapping, no or unknown kind, unknown fields, empty lists,
    invalid field values, invalid syntax or bytes) exit 2 with one line, naming the file;
    --dry-run, so a grid wrongly accepted would not train."""
    from fpe_empirical.sweep import main

    tmp = tmp_path_factory.mktemp("grid")
    if fmt == "raw":
        path = tmp / "g.yaml"
        path.write_bytes(b"kind: [\n" + raw)  # unclosed flow sequence, then noise
    elif fmt == "json":
        path = tmp / "g.json"
        path.write_text(json.dumps(doc))
    elif fmt == "yaml":
        import yaml

        path = tmp / "g.yaml"
        path.write_text(yaml.safe_dump(doc))
    else:
        path = tmp / "g.toml"
        body = json.dumps(doc)  # JSON is not TOML: a syntax error, or a table that fails the rules
        path.write_text(body)
    expect_usage_error("fpe_empirical.sweep", main, [str(path), "--store", str(tmp / "s"), "--dry-run",
                                                     "--import", "test_sweep"], ("grid", path.name))


# ============================================================================= fpe_empirical.embed
@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    from test_embed import make_fashion

    root = tmp_path_factory.mktemp("fashion")
    make_fashion(root)
    return root


@CLI_FUZZ
@given(data=st.data())
def test_embed_cli_bad_options(tmp_path_factory, fashion_dir, data):
    """Pixels of a small FashionMNIST-format folder (cheap when valid); one option broken."""
    from fpe_empirical import embed as E

    tmp = tmp_path_factory.mktemp("embed")
    (tmp / "file").write_text("x")
    base = ["fashionmnist", "--data", str(fashion_dir), "--out", str(tmp / "o.npz"), "--features", "pixels", "--offline"]
    option = data.draw(st.sampled_from(["--batch-size", "--chunk-size", "--class-seed", "--max-per-class", "--max-chunks",
                                        "--n-classes", "dataset", "--features", "--out", "--data", "--normalize",
                                        "corrupt-idx"]))
    names = (option, option.lstrip("-").replace("-", "_"))
    argv = list(base)
    mins = {"--batch-size": 1, "--chunk-size": 1, "--class-seed": 0, "--max-per-class": 1, "--max-chunks": 0,
            "--n-classes": 2}
    if option in mins:
        argv += [option, data.draw(bad_int(mins[option]))]
    elif option == "dataset":
        argv[0] = data.draw(bad_choice(E.DATASETS))
        names = ("dataset",)
    elif option == "--features":
        argv[argv.index("--features") + 1] = data.draw(bad_choice(("clip", "pixels")))
    elif option == "--out":
        argv[4] = str(tmp / data.draw(st.sampled_from(["o.csv", "o", "o.npz.tmp", "o.NPY"])))
        names = ("out",)
    elif option == "--data":
        argv[2] = data.draw(st.sampled_from([str(tmp / "missing"), str(tmp / "file"), str(tmp)]))
        names = (argv[2], "FashionMNIST")
    elif option == "--normalize":
        argv += ["--normalize"]
    else:  # a copy of the folder with one IDX file replaced by junk or a mismatched file
        import shutil

        d = tmp / "fm"
        shutil.copytree(fashion_dir, d)
        victim = sorted(d.iterdir())[data.draw(st.integers(0, 3))]
        junk = data.draw(st.one_of(st.binary(max_size=40), st.just(b"\x1f\x8b" + b"junk"), st.just(bytes([0, 0, 9, 1, 0, 0, 0, 1, 5])),
                                   st.just(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2])),  # 3 labels declared, 2 present
                                   st.just(bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2]))))  # a valid IDX of the wrong length
        victim.write_bytes(junk)
        argv[2] = str(d)
        names = (victim.name, str(d), "FashionMNIST")
    expect_usage_error("fpe_empirical.embed", E.main, argv, names)


# ============================================================================= sensitivity, dnf_experiment
SENS_BASE = ["--seeds", "0", "--params", "lr", "--pretrain-epochs", "0", "--split-epochs", "0", "--n-samples", "40",
             "--backend", "loop"]


@CLI_FUZZ
@given(data=st.data())
def test_sensitivity_cli_bad_options(tmp_path_factory, data):
    """sensitivity: bad seeds, unknown knobs, negative epochs, odd or tiny sample counts, unknown backends,
    an --out that is a file (the valid base is a 0-epoch run)."""
    from fpe_empirical.sensitivity import VARIATIONS, main

    tmp = tmp_path_factory.mktemp("sens")
    (tmp / "file").write_text("x")
    option = data.draw(st.sampled_from(["--seeds", "--params", "--pretrain-epochs", "--split-epochs", "--n-samples",
                                        "--backend", "--out", "--unknown"]))
    names = [option, option.lstrip("-").replace("-", "_")]
    if option == "--seeds":
        value, names = data.draw(bad_int(0)), ["--seeds", "seed"]
    elif option == "--params":
        value = data.draw(bad_choice(tuple(VARIATIONS)))
    elif option in ("--pretrain-epochs", "--split-epochs"):
        value = data.draw(bad_int(0))
    elif option == "--n-samples":
        value = data.draw(st.one_of(bad_int(4), st.integers(2, 100).map(lambda n: str(2 * n + 1))))
    elif option == "--backend":
        value = data.draw(bad_choice(("loop", "ensemble", "auto")))
    elif option == "--out":
        value, names = str(tmp / "file"), [str(tmp / "file")]
    else:
        option, value, names = "--nope", "1", ["--nope"]
    expect_usage_error("fpe_empirical.sensitivity", main, SENS_BASE + [option, value], names)


DNF_BASE = ["--seeds", "0", "--n-clauses", "2", "--clause-size", "2", "--hidden", "2", "--pretrain-epochs", "0",
            "--split-epochs", "0", "--n-samples", "40", "--backend", "loop"]


@CLI_FUZZ
@given(data=st.data())
def test_dnf_experiment_cli_bad_options(tmp_path_factory, data):
    """dnf_experiment: every numeric option out of range or unparsable, unknown strategies/backends, alpha
    larger than the literals, outputs that are files."""
    from fpe_empirical.dnf_experiment import main

    tmp = tmp_path_factory.mktemp("dnfcli")
    (tmp / "file").write_text("x")
    ints = {"--seeds": 0, "--n-clauses": 1, "--clause-size": 2, "--hidden": 1, "--alpha": 2, "--pretrain-epochs": 0,
            "--split-epochs": 0, "--n-samples": 4, "--group-size": 0}
    floats = {"--lr": False, "--l1": True, "--weight-decay": True}  # may the value be 0?
    option = data.draw(st.sampled_from([*ints, *floats, "--strategies", "--backend", "--out", "--save-models",
                                        "alpha>n", "--unknown"]))
    names = [option, option.lstrip("-").replace("-", "_")]
    if option in ints:
        value = data.draw(bad_int(ints[option]))
        if option == "--seeds":
            names.append("seed")
    elif option in floats:
        value = data.draw(bad_float(0.0, None, low_ok=floats[option]))
    elif option == "--strategies":
        value = data.draw(bad_choice(("dense", "random", "clause", "gram", "two_four")))
    elif option == "--backend":
        value = data.draw(bad_choice(("loop", "ensemble", "auto")))
    elif option in ("--out", "--save-models"):
        value, names = str(tmp / "file"), [str(tmp / "file")]
    elif option == "alpha>n":
        option, value, names = "--alpha", str(data.draw(st.integers(5, 10**6))), ["alpha"]
    else:
        option, value, names = "--nope", "1", ["--nope"]
    expect_usage_error("fpe_empirical.dnf_experiment", main, DNF_BASE + [option, value], names)


# ============================================================================= embedding_experiment
EMB_BASE = ["--seeds", "0", "--hidden", "2", "--pretrain-epochs", "0", "--split-epochs", "0", "--strategies", "dense",
            "--backend", "loop"]


def _broken_file(tmp: Path, case, fmt: str) -> Path:
    defect, arrays, npz_extra, header, named = case
    if fmt == "safetensors" and (header is None or any(v.dtype == object or v.dtype == np.bool_ or v.size == 0
                                                       for v in arrays.values())):
        fmt = "npz"
    path = tmp / f"broken.{fmt}"
    if fmt == "npz":
        _write_npz(path, arrays, npz_extra)
    else:
        _write_safetensors(path, arrays, header)
    return path


@CLI_FUZZ
@given(data=st.data())
def test_embedding_experiment_cli_bad_options(tmp_path_factory, data):
    """embedding_experiment: numeric options out of range, unknown strategies/backends, an --out that is a
    directory, and missing, misnamed or broken embedding files (NaN/inf, shapes, labels, metadata,
    pickles)."""
    from fpe_empirical.embedding_experiment import main

    tmp = tmp_path_factory.mktemp("embcli")
    (tmp / "file").write_text("x")
    ints = {"--seeds": 0, "--hidden": 1, "--depth": 1, "--alpha": 2, "--pretrain-epochs": 0, "--split-epochs": 0,
            "--batch-size": 1, "--rewire-every": 0}
    option = data.draw(st.sampled_from([*ints, "--lr", "--l1", "--weight-decay", "--rewire-fraction", "--strategies",
                                        "--backend", "--dataset", "--out"]))
    names = [option, option.lstrip("-").replace("-", "_")]
    if option in ints:
        value = data.draw(bad_int(ints[option]))
        if option == "--seeds":
            names.append("seed")
    elif option == "--lr":
        value = data.draw(bad_float(0.0, None, low_ok=False))
    elif option in ("--l1", "--weight-decay"):
        value = data.draw(bad_float(0.0, None, low_ok=True))
    elif option == "--rewire-fraction":
        value = data.draw(bad_float(0.0, 1.0, low_ok=True, high_ok=True))
    elif option == "--strategies":
        value = data.draw(bad_choice(("dense", "random", "gram", "two_four", "random+rewire", "gram+rewire")))
    elif option == "--backend":
        value = data.draw(bad_choice(("loop", "ensemble", "auto")))
    elif option == "--out":
        value, names = str(tmp), [str(tmp)]
    else:
        kind = data.draw(st.sampled_from(["missing", "suffix", "broken"]))
        if kind == "missing":
            value = str(tmp / "missing.npz")
        elif kind == "suffix":
            value = str(tmp / "file")
        else:
            value = str(_broken_file(tmp, data.draw(broken_embedding()), data.draw(st.sampled_from(["npz", "safetensors"]))))
        names = [value, "dataset"]
    expect_usage_error("fpe_empirical.embedding_experiment", main, EMB_BASE + [option, value], names)


# ============================================================================= validation, paper_figures
@CLI_FUZZ
@given(data=st.data())
def test_validation_cli_bad_options(tmp_path_factory, data):
    """validation: unknown profile or claim ids, --out/--store that are files, missing/misnamed/broken
    embedding files; --no-run, so nothing trains."""
    from validation.__main__ import main

    tmp = tmp_path_factory.mktemp("val")
    (tmp / "file").write_text("x")
    argv = ["--no-run", "--quiet", "--store", str(tmp / "store"), "--out", str(tmp / "out")]
    option = data.draw(st.sampled_from(["--profile", "--only", "--out", "--store", "--embeddings", "--imagenet1k",
                                        "--fashionmnist", "--imagenet100", "--unknown"]))
    names = [option]
    if option == "--profile":
        value = data.draw(bad_choice(("quick", "paper", "tiny")))
    elif option == "--only":
        value = data.draw(st.from_regex(r"zz-no-claim-[a-z]{0,5}\*?", fullmatch=True))
    elif option in ("--out", "--store"):
        value, names = str(tmp / "file"), [option, "store", str(tmp / "file")]
    elif option in ("--embeddings", "--imagenet1k", "--fashionmnist", "--imagenet100"):
        kind = data.draw(st.sampled_from(["missing", "suffix", "broken"]))
        value = (str(tmp / "missing.npz") if kind == "missing" else str(tmp / "file") if kind == "suffix"
                 else str(_broken_file(tmp, data.draw(broken_embedding()), data.draw(st.sampled_from(["npz", "safetensors"])))))
    else:
        option, value, names = "--nope", "1", ["--nope"]
    expect_usage_error("validation", main, argv + [option, value], names)


@CLI_FUZZ
@given(data=st.data())
def test_paper_figures_cli_bad_options(tmp_path_factory, data):
    """Base: --no-run on a store that does not exist, so a bad value wrongly accepted exits
    2 naming --store (not the option) and the test fails; nothing ever trains."""
    import paper_figures
    from paper_figures.__main__ import main

    tmp = tmp_path_factory.mktemp("pf")
    (tmp / "file").write_text("x")
    argv = ["--no-run", "--store", str(tmp / "nostore"), "--out", str(tmp / "out"), "--no-progress"]
    option = data.draw(st.sampled_from(["--only", "--profile", "--workers", "--out", "--store", "--embeddings",
                                        "--imagenet1k", "--unknown"]))
    names = [option]
    if option == "--only":
        value = data.draw(st.one_of(bad_choice(tuple(paper_figures.figures()) + tuple(paper_figures.ALIASES)).filter(
            lambda s: "," not in s), st.sampled_from([",", " , ", "fig3,nope"])))
    elif option == "--profile":
        value = data.draw(bad_choice(("quick", "paper", "tiny")))
    elif option == "--workers":
        value = data.draw(bad_int(1))
    elif option in ("--out", "--store"):
        value = str(tmp / "file")
    elif option in ("--embeddings", "--imagenet1k", "--fashionmnist", "--imagenet100"):
        kind = data.draw(st.sampled_from(["missing", "suffix", "broken"]))
        value = (str(tmp / "missing.npz") if kind == "missing" else str(tmp / "file") if kind == "suffix"
                 else str(_broken_file(tmp, data.draw(broken_embedding()), data.draw(st.sampled_from(["npz", "safetensors"])))))
    else:
        option, value, names = "--nope", "1", ["--nope"]
    expect_usage_error("paper_figures", main, argv + [option, value], names)


@settings(max_examples=examples(0.6))
@given(width=bad_int(200), which=st.sampled_from(["width", "src", "script"]))
def test_paper_figures_docs_and_scripts_bad_input(tmp_path_factory, width, which):
    """paper_figures.docs (--width, --src) and a standalone figure script (a store that does not exist)
    exit 2 with one line."""
    from paper_figures import docs
    from paper_figures.standalone import script_main

    tmp = tmp_path_factory.mktemp("docs")
    if which == "width":
        expect_usage_error("paper_figures", docs.main, ["--src", str(tmp), "--dest", str(tmp / "d"), "--width", width],
                           ("--width", "width"))
    elif which == "src":
        expect_usage_error("paper_figures", docs.main, ["--src", str(tmp / "none"), "--dest", str(tmp / "d")], ("--src",))
    else:
        expect_usage_error("paper_figures", lambda argv: script_main("paper_figures.fig3_sweeps", argv),
                           ["--store", str(tmp / "none"), "--out", str(tmp / "o")], ("--store",))


# ============================================================================= resumed stores
def test_dnf_experiment_resume_refuses_damaged_or_foreign_result(tmp_path):
    """dnf_experiment --out (a result store): a damaged result file (garbage, empty,
    truncated, another run's file) is moved aside and recomputed with a note, never printed
    as if it were the result."""
    from fpe_empirical.dnf_experiment import DNFExperiment, main
    from fpe_empirical.store import ResultStore

    args = DNF_BASE + ["--out", str(tmp_path / "out")]
    rc, out, err = run_cli(main, args)
    assert rc == 0, err
    (path,) = (tmp_path / "out").glob("*.json")
    good = path.read_bytes()
    foreign = ResultStore(tmp_path / "other")
    other = DNFExperiment(seed=9)
    foreign.put(other, ResultStore(tmp_path / "out").get(path.stem).frame.assign(test_accuracy=0.123456))
    for damage in (b"\x00\x01garbage", b"", good[: len(good) // 2], foreign.path(other).read_bytes()):
        path.write_bytes(damage)
        rc, out2, err = run_cli(main, args)
        assert rc == 0 and "recomputing" in err and "Traceback" not in err, err
        assert out2 == out and "0.123456" not in out2  # the recomputed table, never the damaged one
        TRIED["resume files"] += 1
    rc, out3, err = run_cli(main, args)
    assert rc == 0 and err == "" and out3 == out  # the rewritten file is reused silently


def test_sensitivity_resume_reuses_only_its_own_runs(tmp_path):
    """sensitivity --out keyed its CSVs by the setting label only: a rerun with other seeds
    or epochs reused the old numbers. Now --out is a result store keyed by each run's config:
    other seeds are new runs, and a rerun reuses exactly what it stored."""
    from fpe_empirical.sensitivity import main

    one = SENS_BASE + ["--out", str(tmp_path)]
    rc, out1, err = run_cli(main, one)
    assert rc == 0, err
    first = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    two = [a if a != "0" or i != 1 else "1" for i, a in enumerate(one)]  # --seeds 1
    rc, out2, err = run_cli(main, two)
    assert rc == 0 and err == "" and out2 != out1
    both = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    assert len(both) == 2 * len(first) and all(both[k] == v for k, v in first.items())
    rc, out3, err = run_cli(main, two)
    assert rc == 0 and err == "" and out3 == out2
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")} == both
    TRIED["resume files"] += 2


# ============================================================================= real processes
def _proc(*args, timeout=300):
    env = dict(os.environ, PYTHONWARNINGS="error", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout)


PROCESS_CASES = {
    "dnf_experiment": (["fpe_empirical.dnf_experiment", "--seeds", "x"], "--seeds"),
    "sensitivity": (["fpe_empirical.sensitivity", "--params", "momentum", "--seeds", "0"], "params"),
    "embedding_experiment": (["fpe_empirical.embedding_experiment", "--hidden", "0"], "hidden"),
    "simulate": (["fpe_theory.simulate", "--clauses", "4,x"], "--clauses"),
    "sweep": (["fpe_empirical.sweep", "no-such-grid", "--store", "/nonexistent/s", "--dry-run"], "grid"),
    "embed": (["fpe_empirical.embed", "cifar100", "--data", "/nonexistent", "--out", "x.txt"], "out"),
    "validation": (["validation", "--only", "zz-nothing"], "--only"),
    "paper_figures": (["paper_figures", "--workers", "0", "--no-run"], "--workers"),
}


@pytest.mark.parametrize("name", ["dnf_experiment", "sensitivity"])
def test_process_bad_input_one_line(name):
    """As real processes (the CLIs whose argparse errors used to print the usage)."""
    argv, needle = PROCESS_CASES[name]
    r = _proc(*argv)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    TRIED["processes"] += 1


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in PROCESS_CASES if n not in ("dnf_experiment", "sensitivity")])
def test_process_bad_input_one_line_all_clis(name):
    argv, needle = PROCESS_CASES[name]
    r = _proc(*argv)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    TRIED["processes"] += 1


def test_paper_figures_corrupt_store_with_no_run_is_one_line_not_a_traceback(tmp_path):
    """--no-run on a store with a damaged file: the figure is reported not drawn (exit 1)
    in one line that says how to recompute, without a traceback."""
    from fpe_empirical import profiles
    from fpe_empirical.store import ResultStore
    from paper_figures.__main__ import main

    store = ResultStore(tmp_path / "s")
    profiles.ensure(profiles.configs("theory_collisions", "tiny"), store, progress=False)
    victim = sorted((tmp_path / "s").glob("*.json"))[0]
    victim.write_bytes(victim.read_bytes()[:50])
    rc, out, err = run_cli(main, ["--profile", "tiny", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"),
                                  "--only", "theory_collisions", "--no-run", "--no-progress"])
    assert rc == 1 and "Traceback" not in err and "run without --no-run" in err
    assert victim.name in err
