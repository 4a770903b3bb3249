"""Hardening (issue 9): loading stored data — broken files, damaged files, and no unpickling.

- Embedding files with exactly one broken rule (NaN/inf, wrong shapes or dtypes, labels out
  of range, missing arrays, bad metadata, pickled object arrays) are refused with a
  ValueError naming the file and the array; ``save_embeddings`` refuses the same arrays.
- Damaged files (bit flips, truncations, insertions, garbage, forged payloads) of every
  stored format: the result store, embedding files, sparse networks, saved DNF results
  (checkpoints) and the ``fpe_theory.simulate --json`` resume file. Loading raises
  ``ValueError`` (``CorruptResultError`` is one) or returns exactly what was stored; it never
  raises another exception type and never returns other numbers, where the format carries
  a checksum. ``.npz`` (zip CRC), store JSON (sha256), saved DNF results (sha256 of
  result.json and of the weights) and the simulate rows (sha256) do; safetensors files carry
  no checksum, so for them only the exception contract is checked (experiment configs pin an
  embedding file by its sha256, see ``EmbeddingExperiment.dataset_sha256``).
- SECURITY: no loader unpickles. An AST scan of the packages finds no pickle / torch.load /
  unsafe yaml / allow_pickle=True; every loader runs with ``pickle`` booby-trapped; a
  malicious pickled ``.npz`` never executes.
"""

from __future__ import annotations

import ast
import io
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from tally import Tally

import fpe_empirical as fe
from fpe_empirical.config import config_key, experiment_config
from fpe_empirical.embeddings import save_embeddings
from fpe_empirical.store import CorruptResultError, CorruptResultWarning, ResultStore, load_results

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fpe_theory", "fpe_empirical", "validation", "paper_figures")
TRIED = Tally("hardening loading: files/checks")  # printed in the session summary (tests/tally.py)
FUZZ = settings(max_examples=examples(2.4), suppress_health_check=[HealthCheck.function_scoped_fixture])


# ============================================================================= broken embedding files
def _good_arrays(seed=0, n_train=12, n_test=6, dim=4, classes=3):
    rng = np.random.default_rng(seed)
    return {
        "X_train": rng.standard_normal((n_train, dim)).astype(np.float32),
        "y_train": np.arange(n_train, dtype=np.int64) % classes,
        "X_test": rng.standard_normal((n_test, dim)).astype(np.float32),
        "y_test": np.arange(n_test, dtype=np.int64) % classes,
    }


# defect name -> (function arrays, draw -> broken arrays, extras for npz / safetensors, array named)
@st.composite
def broken_embedding(draw):
    """(arrays, npz_extra, header_extra, named, where): one broken rule, built directly."""
    a = _good_arrays(seed=draw(st.integers(0, 9)))
    split = draw(st.sampled_from(["train", "test"]))
    X, y = f"X_{split}", f"y_{split}"
    npz_extra, header = {}, {}
    defect = draw(st.sampled_from([
        "nan", "inf", "x_1d", "x_3d", "x_int", "x_empty", "y_float", "y_bool", "y_2d", "y_len", "dim",
        "missing", "label_neg", "label_high", "class_absent", "n_classes_small", "n_classes_float",
        "n_classes_one", "names_len", "names_int", "meta_bad", "meta_list", "object_array", "one_class",
    ]))
    named = X
    if defect in ("nan", "inf"):
        i, j = draw(st.integers(0, a[X].shape[0] - 1)), draw(st.integers(0, a[X].shape[1] - 1))
        a[X][i, j] = draw(st.sampled_from([np.nan, np.inf, -np.inf] if defect == "inf" else [np.nan]))
    elif defect == "x_1d":
        a[X] = a[X][:, 0].copy()
    elif defect == "x_3d":
        a[X] = a[X][:, :, None].copy()
    elif defect == "x_int":
        a[X] = np.round(a[X]).astype(draw(st.sampled_from([np.int64, np.int32, np.uint8])))
    elif defect == "x_empty":
        a[X], a[y] = a[X][:0], a[y][:0]
    elif defect == "y_float":
        a[y], named = a[y].astype(np.float32), y
    elif defect == "y_bool":
        a[y], named = (a[y] > 0), y
    elif defect == "y_2d":
        a[y], named = a[y][:, None].copy(), y
    elif defect == "y_len":
        a[y], named = a[y][: draw(st.integers(0, len(a[y]) - 1))].copy(), y
    elif defect == "dim":
        a["X_test"], named = np.concatenate([a["X_test"], a["X_test"][:, :1]], axis=1), "feature dimension"
    elif defect == "missing":
        named = draw(st.sampled_from(sorted(a)))
        del a[named]
    elif defect == "label_neg":
        a[y] = a[y] - 1
        named = "labels"
    elif defect == "label_high":
        a["y_test"][0], named = 10, "labels"
        npz_extra["n_classes"] = np.int64(3)
        header = None  # n_classes is an array entry in both formats
    elif defect == "class_absent":
        a["y_train"], named = a["y_train"] * 2, "class"  # 1, 3 never occur
    elif defect == "n_classes_small":
        npz_extra["n_classes"], named = np.int64(2), "labels"
        header = None
    elif defect == "n_classes_float":
        npz_extra["n_classes"], named = np.float64(3.0), "n_classes"
        header = None
    elif defect == "n_classes_one":
        a["y_train"][:] = 0
        a["y_test"][:] = 0
        named = "n_classes"
    elif defect == "names_len":
        npz_extra["class_names"], named = np.array(["a", "b"]), "class_names"
        header = {"class_names": json.dumps(["a", "b"])}
    elif defect == "names_int":
        npz_extra["class_names"], named = np.array([1, 2, 3]), "class_names"
        header = {"class_names": json.dumps([1, 2, 3])}
    elif defect == "meta_bad":
        text = draw(st.sampled_from(["{", "not json", '{"a": }']))
        npz_extra["meta"], named = np.array(text), "meta"
        header = {"meta": text}
    elif defect == "meta_list":
        npz_extra["meta"], named = np.array("[1, 2]"), "meta"
        header = {"meta": "[1, 2]"}
    elif defect == "object_array":
        a[X], named = a[X].astype(object), X  # needs pickle: refused
        header = None
    elif defect == "one_class":
        a["y_train"][:], a["y_test"][:] = 0, 0
        named = "n_classes"
    if header is not None and "n_classes" in npz_extra:
        header = None
    return defect, a, npz_extra, header, named


def _write_npz(path: Path, arrays: dict, extra: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, **extra)  # object arrays are pickled here: the loader must refuse them


def _write_safetensors(path: Path, arrays: dict, header: dict) -> None:
    from safetensors.numpy import save_file

    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    save_file(tensors, str(path), metadata=header or None)


@FUZZ
@given(case=broken_embedding(), fmt=st.sampled_from(["npz", "safetensors"]))
def test_broken_embedding_files_are_refused(tmp_path_factory, case, fmt):
    """load_embeddings refuses every broken rule with a ValueError naming the file and the
    array (or metadata entry); save_embeddings refuses the same arrays before writing."""
    defect, arrays, npz_extra, header, named = case
    d = tmp_path_factory.mktemp("emb")
    if fmt == "safetensors":
        if header is None or any(v.dtype == object for v in arrays.values()):
            fmt = "npz"  # this defect only exists in .npz files
        elif any(v.dtype == np.bool_ for v in arrays.values()) or any(v.size == 0 for v in arrays.values()):
            fmt = "npz"
    path = d / f"broken.{fmt}"
    if fmt == "npz":
        _write_npz(path, arrays, npz_extra)
    else:
        _write_safetensors(path, arrays, header)
    TRIED["embedding files"] += 1
    with pytest.raises(ValueError) as info:
        fe.load_embeddings(path)
    msg = str(info.value)
    assert "broken." in msg and named in msg, (defect, msg)
    complete = all(k in arrays for k in ("X_train", "y_train", "X_test", "y_test"))
    if not npz_extra and header in (None, {}) and defect != "object_array" and complete:  # array defects
        with pytest.raises(ValueError):
            save_embeddings(d / "again.npz", arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays["y_test"])
        assert not (d / "again.npz").exists()


# ============================================================================= damaged files
def _mutations():
    """A damage to a byte string: flips, truncation, insertion, deletion, overwrite, garbage."""
    return st.one_of(
        st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 7)),
        st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
        st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, 255)),
        st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
        st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("garbage"), st.just(0.0), st.binary(max_size=200)),
    )


def _damage(raw: bytes, how) -> bytes:
    kind, where, arg = how
    i = min(int(where * len(raw)), len(raw) - 1)
    if kind == "flip":
        return raw[:i] + bytes([raw[i] ^ (1 << arg)]) + raw[i + 1:]
    if kind == "truncate":
        return raw[:i]
    if kind == "insert":
        return raw[:i] + bytes([arg]) + raw[i:]
    if kind == "delete":
        return raw[:i] + raw[i + arg:]
    if kind == "overwrite":
        return raw[:i] + arg + raw[i + len(arg):]
    return arg


@experiment_config("hardening-load", 1)
@dataclass(frozen=True)
class LoadToy:
    n: int = 1
    seed: int = 0


def _toy_frame(cfg: LoadToy) -> pd.DataFrame:
    return pd.DataFrame({"strategy": ["dense", "random"], "seed": [cfg.seed] * 2,
                         "test_accuracy": [0.5 + cfg.n / 100, float("nan")], "nonzero": [10, 10],
                         "per_clause": [[0.25, 1.0], [0.5]]})


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    store = ResultStore(root)
    path = store.put(LoadToy(n=3, seed=1), _toy_frame(LoadToy(n=3, seed=1)))
    return root, path.read_bytes(), store.get(LoadToy(n=3, seed=1))


def _same_result(a, b) -> bool:
    return (a.key == b.key and a.kind == b.kind and a.config == b.config and a.provenance == b.provenance
            and a.frame.equals(b.frame) and list(a.frame.dtypes) == list(b.frame.dtypes))


@FUZZ
@given(how=_mutations())
def test_damaged_store_file_is_detected_or_identical(good_store, tmp_path_factory, how):
    """A damaged result file raises CorruptResultError (counted corrupt, skipped with a
    warning, moved aside by the sweep) or, when the damage does not change the document
    (whitespace), reads back exactly the stored result. Never another number."""
    root, raw, original = good_store
    d = tmp_path_factory.mktemp("dmg")
    store = ResultStore(d)
    path = d / f"{original.key}.json"
    damaged = _damage(raw, how)
    path.write_bytes(damaged)
    TRIED["store files"] += 1
    try:
        got = store.get(original.key)
    except CorruptResultError:
        assert store.status(original.key) == "corrupt"
        with pytest.warns(CorruptResultWarning):
            assert load_results(d, on_corrupt="warn").empty
        with pytest.raises(CorruptResultError):
            load_results(d, on_corrupt="raise")
        assert store.missing([LoadToy(n=3, seed=1)]) == [LoadToy(n=3, seed=1)]
    else:
        assert _same_result(got, original), (how, damaged[:200])


def _forged_payloads():
    """Payloads a foreign or buggy writer could produce, sealed with a *valid* checksum."""
    json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=False,
                               allow_infinity=False), st.text(max_size=4)),
                               lambda ch: st.lists(ch, max_size=3) | st.dictionaries(st.text(max_size=4), ch, max_size=3),
                               max_leaves=8)
    part = st.sampled_from(["payload", "metrics", "columns", "dtypes", "data", "config", "field_order",
                            "provenance", "kind", "code_version", "format_version"])
    return st.tuples(part, json_values)


@FUZZ
@given(forged=_forged_payloads())
def test_forged_payload_with_valid_checksum_is_corrupt_or_readable(good_store, tmp_path_factory, forged):
    """Even with a valid checksum, a payload of the wrong shape is CorruptResultError, never
    an AttributeError/KeyError/TypeError from inside the reader."""
    from fpe_empirical.results.codec import canonical_bytes as _canonical_bytes, checksum as _checksum

    root, raw, original = good_store
    part, value = forged
    doc = json.loads(raw)
    payload = doc["payload"]
    if part == "payload":
        payload = value
    elif part in ("columns", "dtypes", "data"):
        payload["metrics"][part] = value
    else:
        payload[part] = value
    blob = _canonical_bytes(payload)
    d = tmp_path_factory.mktemp("forged")
    (d / f"{original.key}.json").write_bytes(b'{"checksum":"' + _checksum(blob).encode() + b'","payload":' + blob + b"}\n")
    TRIED["store files"] += 1
    try:
        got = ResultStore(d).get(original.key)
    except CorruptResultError:
        return
    assert isinstance(got.frame, pd.DataFrame) and isinstance(got.config, dict)


def test_deeply_nested_or_huge_store_file_is_corrupt(tmp_path):
    """A maliciously nested JSON document is a CorruptResultError, not a RecursionError."""
    store = ResultStore(tmp_path)
    key = config_key(LoadToy())
    for text in ("[" * 200_000 + "]" * 200_000, '{"payload":' * 100_000 + "1" + "}" * 100_000, "\x00" * 1000):
        (tmp_path / f"{key}.json").write_text(text)
        TRIED["store files"] += 1
        assert store.status(key) == "corrupt"


# ----------------------------------------------------------------------------- embedding files
@pytest.fixture(scope="module")
def good_embedding_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("good-emb")
    a = _good_arrays()
    out = {}
    for fmt in ("npz", "safetensors"):
        p = save_embeddings(d / f"e.{fmt}", a["X_train"], a["y_train"], a["X_test"], a["y_test"],
                            class_names=["a", "b", "c"], meta={"source": "test"})
        out[fmt] = (p.read_bytes(), fe.load_embeddings(p))
    return out


@FUZZ
@given(how=_mutations(), fmt=st.sampled_from(["npz", "safetensors"]))
def test_damaged_embedding_file(good_embedding_files, tmp_path_factory, how, fmt):
    """A damaged embedding file is a ValueError naming it. A .npz (zip CRC) that still
    loads holds exactly the original arrays; a .safetensors (no checksum) that still loads
    passes every rule of load_embeddings (shapes, dtypes, finite values, labels)."""
    raw, original = good_embedding_files[fmt]
    path = tmp_path_factory.mktemp("dmg-emb") / f"e.{fmt}"
    path.write_bytes(_damage(raw, how))
    TRIED["embedding files"] += 1
    try:
        got = fe.load_embeddings(path)
    except ValueError as exc:
        assert str(path) in str(exc)
        return
    same = all(torch.equal(getattr(got, k), getattr(original, k)) for k in ("X_train", "y_train", "X_test", "y_test"))
    if fmt == "npz":
        assert same and got.class_names == original.class_names and got.meta == original.meta
    else:
        assert got.X_train.shape[1] == got.X_test.shape[1] and torch.isfinite(got.X_train).all()


# ----------------------------------------------------------------------------- sparse networks
@pytest.fixture(scope="module")
def good_sparse_file(tmp_path_factory):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = fe.fpe_expand(fe.MLP(8, [6, 4], 2, layernorm=True), 2, seed=0, layers="alternate")
    sp = fe.to_sparse(model)
    path = tmp_path_factory.mktemp("sparse") / "net.safetensors"
    sp.save(path)
    return path.read_bytes(), sp


@FUZZ
@given(how=_mutations())
def test_damaged_sparse_network_file(good_sparse_file, tmp_path_factory, how):
    """SparseMLP.load on a damaged file: a ValueError, or a network whose structure passes
    every check (safetensors has no checksum; values can change undetected)."""
    raw, original = good_sparse_file
    path = tmp_path_factory.mktemp("dmg-sparse") / "net.safetensors"
    path.write_bytes(_damage(raw, how))
    TRIED["sparse files"] += 1
    try:
        got = fe.SparseMLP.load(path)
    except ValueError:
        return
    assert got.in_features == original.in_features and got.out_features == original.out_features


# ----------------------------------------------------------------------------- saved DNF results
@pytest.fixture(scope="module")
def good_dnf_result(tmp_path_factory):
    from fpe_empirical.dnf_experiment import save_result, train_dnf

    cfg = fe.DNFExperiment(n_clauses=2, clause_size=2, hidden=3, pretrain_epochs=2, split_epochs=2, n_samples=80)
    res = train_dnf(cfg)
    d = tmp_path_factory.mktemp("dnf-result") / "r"
    save_result(res, d)
    return {name: (d / name).read_bytes() for name in ("result.json", "models.safetensors")}, res


@FUZZ
@given(which=st.sampled_from(["result.json", "models.safetensors"]), how=_mutations())
def test_damaged_saved_dnf_result(good_dnf_result, tmp_path_factory, which, how):
    """load_result (checkpoints of the case-study networks): a damaged result.json or
    models.safetensors is a ValueError (both carry a sha256 in result.json), or, when the
    damage does not change the data (JSON whitespace), the identical result."""
    from fpe_empirical.dnf_experiment import load_result

    files, original = good_dnf_result
    d = tmp_path_factory.mktemp("dmg-dnf")
    for name, raw in files.items():
        (d / name).write_bytes(_damage(raw, how) if name == which else raw)
    TRIED["checkpoints"] += 1
    try:
        got = load_result(d)
    except ValueError:
        return
    assert got.frame.equals(original.frame)
    for name, m in {"pretrained": original.pretrained, **original.models}.items():
        other = got.pretrained if name == "pretrained" else got.models[name]
        for (k, v), (k2, v2) in zip(m.state_dict().items(), other.state_dict().items()):
            assert k == k2 and torch.equal(v, v2)


def test_saved_dnf_result_missing_file_and_foreign_folder(good_dnf_result, tmp_path):
    from fpe_empirical.dnf_experiment import load_result

    files, _ = good_dnf_result
    (tmp_path / "result.json").write_bytes(files["result.json"])
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path)  # no weights
    with pytest.raises(TypeError, match="directory"):
        load_result(None)
    (tmp_path / "models.safetensors").write_bytes(files["models.safetensors"])
    meta = json.loads(files["result.json"])
    meta["frame"][0]["test_accuracy"] = 1.0  # an edited number
    (tmp_path / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        load_result(tmp_path)


# ----------------------------------------------------------------------------- simulate --json
@pytest.fixture(scope="module")
def sim_json(tmp_path_factory):
    import fpe_theory.simulate as sim

    path = tmp_path_factory.mktemp("simjson") / "r.json"
    argv = ["--clauses", "4", "--alphas", "2", "--parents", "3,5", "--clause-size", "2", "--trials", "300",
            "--no-progress", "--json", str(path)]
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        assert sim.main(argv) == 0
    table = [line for line in out.getvalue().splitlines() if "|" in line]
    return path.read_bytes(), argv, table


@settings(max_examples=examples(1.2), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.one_of(_mutations(), st.tuples(st.just("edit-count"), st.integers(0, 1), st.integers(1, 5))))
def test_damaged_simulate_json_is_never_reused(sim_json, tmp_path_factory, how):
    """`python -m fpe_theory.simulate --json` resumes from its file: a damaged row (bytes, or
    an edited histogram count) is simulated again, so the printed table equals the run
    that wrote the file (same seed), never the damaged numbers."""
    import contextlib

    import fpe_theory.simulate as sim

    raw, argv, table = sim_json
    path = tmp_path_factory.mktemp("dmg-sim") / "r.json"
    if how[0] == "edit-count":
        doc = json.loads(raw)
        row = doc["rows"][how[1]]["simulation"]
        row["first_cover_histogram"][0] += how[2]  # a plausible-looking edit
        row["first_cover_histogram"][-1] -= how[2] if row["first_cover_histogram"][-1] >= how[2] else 0
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(_damage(raw, how))
    argv = [a if a != argv[-1] else str(path) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    TRIED["simulate json"] += 1
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = sim.main(argv)
    assert rc in (0, 2), err.getvalue()
    if rc == 2:  # a damaged file that cannot be replaced (e.g. now a directory): one line
        assert err.getvalue().count("\n") == 1
        return
    assert [line for line in out.getvalue().splitlines() if "|" in line] == table
    assert "Traceback" not in err.getvalue()


# ============================================================================= security
UNSAFE_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "load"), ("dill", "load"),
    ("dill", "loads"), ("cloudpickle", "load"), ("cloudpickle", "loads"), ("joblib", "load"), ("shelve", "open"),
    ("marshal", "load"), ("marshal", "loads"), ("pd", "read_pickle"), ("pandas", "read_pickle"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"),
}
# the one sanctioned unpickler: CIFAR-100's python pickles, through an allow-list of NumPy
# array reconstructors (fpe_empirical/embed.py, _ArrayUnpickler.find_class)
ALLOWED = {("fpe_empirical/data/readers.py", "pickle", "Unpickler")}


def _package_files():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def test_no_loader_unpickles_static_scan():
    """AST scan of every module: no pickle/dill/joblib/shelve/marshal/read_pickle/unsafe
    yaml loads, every torch.load has weights_only=True, every np.load allow_pickle=False;
    the only unpickler is the CIFAR-100 reader's allow-listed one."""
    found = []
    n_calls = 0
    for path in _package_files():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), filename=rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                pair = (node.value.id, node.attr)
                if pair in UNSAFE_CALLS and (rel, *pair) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno} {pair[0]}.{pair[1]}")
            if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "dill", "cloudpickle", "joblib", "marshal",
                                                                    "shelve"):
                found.append(f"{rel}:{node.lineno} from {node.module} import ...")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                n_calls += 1
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
                kw = {k.arg: k.value for k in node.keywords}
                if owner == "torch" and node.func.attr == "load":
                    v = kw.get("weights_only")
                    if not (isinstance(v, ast.Constant) and v.value is True):
                        found.append(f"{rel}:{node.lineno} torch.load without weights_only=True")
                if owner in ("np", "numpy") and node.func.attr == "load":
                    v = kw.get("allow_pickle")
                    if not (isinstance(v, ast.Constant) and v.value is False):
                        found.append(f"{rel}:{node.lineno} np.load without allow_pickle=False")
    TRIED["security: calls scanned"] += n_calls
    assert not found, found
    src = (ROOT / "fpe_empirical/data/readers.py").read_text()
    assert "def find_class" in src and "refusing to load global" in src


class _Trap(Exception):
    pass


@pytest.fixture
def pickle_trap(monkeypatch):
    """Any unpickling (pickle, torch.load, numpy's pickle path) raises _Trap."""
    def boom(*a, **k):
        raise _Trap("unpickling attempted")

    class TrapUnpickler:
        def __init__(self, *a, **k):
            boom()

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", TrapUnpickler)
    monkeypatch.setattr(torch, "load", boom)
    yield


def test_every_loader_works_without_pickle(tmp_path, good_store, good_embedding_files, good_sparse_file,
                                           good_dnf_result, sim_json, pickle_trap):
    """With pickle booby-trapped, every loader still reads its file: results, tables,
    embedding files (both formats), sparse networks, saved DNF results, simulate --json,
    grid files (YAML via safe_load)."""
    import contextlib

    import fpe_theory.simulate as sim
    from fpe_empirical.dnf_experiment import load_result
    from fpe_empirical.grids import load_grid_file

    root, _, original = good_store
    assert _same_result(ResultStore(root).get(original.key), original)
    assert len(load_results(root)) == 2
    for fmt, (raw, emb) in good_embedding_files.items():
        p = tmp_path / f"e.{fmt}"
        p.write_bytes(raw)
        assert torch.equal(fe.load_embeddings(p).X_train, emb.X_train)
    p = tmp_path / "net.safetensors"
    p.write_bytes(good_sparse_file[0])
    fe.SparseMLP.load(p)
    d = tmp_path / "dnf"
    d.mkdir()
    for name, raw in good_dnf_result[0].items():
        (d / name).write_bytes(raw)
    assert load_result(d).frame.equals(good_dnf_result[1].frame)
    raw, argv, table = sim_json
    p = tmp_path / "r.json"
    p.write_bytes(raw)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert sim.main([a if a != argv[-1] else str(p) for a in argv]) == 0
    assert "(2 resumed from --json)" in out.getvalue()
    g = tmp_path / "g.yaml"
    g.write_text("kind: hardening-load\nvary:\n  n: [1, 2]\n")
    assert len(load_grid_file(g)) == 2
    TRIED["security: loaders run without pickle"] += 8


class _Exploit:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickles_never_execute(tmp_path):
    """An .npz whose arrays are pickles that would run code, a store file and a sparse
    network file holding a pickle: refused, and the payload never runs."""
    marker = tmp_path / "pwned"
    arrays = _good_arrays()
    exploit = np.empty(1, dtype=object)
    exploit[0] = _Exploit(marker)
    with open(tmp_path / "evil.npz", "wb") as fh:
        np.savez(fh, X_train=exploit, y_train=arrays["y_train"], X_test=arrays["X_test"], y_test=arrays["y_test"])
    with pytest.raises(ValueError, match="without pickle"):
        fe.load_embeddings(tmp_path / "evil.npz")
    blob = pickle.dumps(_Exploit(marker))
    store = ResultStore(tmp_path / "s")
    key = config_key(LoadToy())
    (tmp_path / "s" / f"{key}.json").write_bytes(blob)
    assert store.status(key) == "corrupt"
    (tmp_path / "evil.safetensors").write_bytes(blob)
    with pytest.raises(ValueError):
        fe.SparseMLP.load(tmp_path / "evil.safetensors")
    with pytest.raises(ValueError):
        fe.load_embeddings(tmp_path / "evil.safetensors")
    with zipfile.ZipFile(tmp_path / "evil2.npz", "w") as z:  # a raw pickle posing as an array
        z.writestr("X_train.npy", blob)
        for k in ("y_train", "X_test", "y_test"):
            buf = io.BytesIO()
            np.save(buf, arrays[k])
            z.writestr(f"{k}.npy", buf.getvalue())
    with pytest.raises(ValueError):
        fe.load_embeddings(tmp_path / "evil2.npz")
    assert not marker.exists()
    TRIED["security: malicious files"] += 5
