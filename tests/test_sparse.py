"""Sparse inference: SparseMLP equals the masked model, formats, files, threads, 2:4 wiring.

Equivalence is checked against a float64 NumPy reference of the masked network
(``_sparse_kernels.reference_forward``) and against ``MLP.forward`` itself.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from safetensors.numpy import save_file

from unittest import mock

from fpe_empirical import _sparse_kernels as K
from fpe_empirical._sparse_kernels import reference_forward
from fpe_empirical.sparse import cpu as S
from fpe_empirical.sparse.blocked import from_blocked, to_blocked
from fpe_empirical.expand import fpe_expand
from fpe_empirical.models import MLP, count_nonzero
from fpe_empirical.sparse import SparseMLP, TorchSparseMLP, is_two_four, to_sparse

# float32 sums of <= a few hundred O(1) terms, taken in another order than torch/MKL
RTOL, ATOL = 1e-4, 1e-4
# batch sizes that reach every path: per-sample rows (<= 3), tiles of 16/32/64 with tails
BATCHES = (1, 2, 3, 4, 15, 16, 17, 33, 64, 100, 130)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny torch ops on an oversubscribed 2-core machine are slowest with a 2-thread pool."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_mlp(in_features, hidden, out_features, *, layernorm=False, seed=0):
    """Deterministic MLP; LayerNorm gains/biases randomised so they matter."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(in_features, hidden, out_features, layernorm=layernorm)
        for norm in model.norms:
            if isinstance(norm, torch.nn.LayerNorm):
                norm.weight.data.uniform_(0.5, 1.5)
                norm.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def reference(model: MLP, x: np.ndarray) -> np.ndarray:
    """Float64 forward pass of the masked model."""
    layers = []
    last = len(model.layers) - 1
    for i, lin in enumerate(model.layers):
        W = lin.masked_weight().detach().double().numpy()
        b = np.zeros(W.shape[0]) if lin.bias is None else lin.bias.detach().double().numpy()
        norm = None
        if i < last and isinstance(model.norms[i], torch.nn.LayerNorm):
            ln = model.norms[i]
            norm = (ln.weight.detach().double().numpy(), ln.bias.detach().double().numpy(), ln.eps)
        layers.append((W, b, norm, i < last))
    return reference_forward(layers, x)


def check_equal(model: MLP, sp: SparseMLP, batches=BATCHES, seed=0):
    rng = np.random.default_rng(seed)
    for batch in batches:
        x = rng.standard_normal((batch, model.in_features)).astype(np.float32)
        ref = reference(model, x)
        got = sp(x)
        assert got.shape == (batch, model.out_features) and got.dtype == np.float32
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL * scale, err_msg=f"batch {batch}")
        with torch.no_grad():
            torch_out = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, torch_out, rtol=RTOL, atol=ATOL * scale, err_msg=f"batch {batch}")


def clause_groups(in_features: int, alpha: int) -> list[list[int]]:
    k = min(4, math.ceil(in_features / alpha))
    return [list(range(c * k, c * k + k)) for c in range(in_features // k)]


@st.composite
def expansion_params(draw):
    """Arguments of an ``fpe_expand`` split: any strategy, depth, alpha and LayerNorm setting.

    Built valid directly: fan-ins >= 4 * alpha + 4 so the split's bias copies never outnumber
    the prunable weights, and multiples of 4 where ``two_four`` needs them.
    """
    strategy = draw(st.sampled_from(["random", "clause", "gram", "two_four"]))
    alpha = 2 if strategy == "two_four" else draw(st.sampled_from([2, 3, 4, 8]))
    depth = 1 if strategy == "clause" else draw(st.integers(1, 3))
    layers = "first" if depth == 1 else draw(st.sampled_from(["first", "alternate"]))
    lo = 4 * alpha + 4
    q = -(-lo // 4)
    in_features = 4 * draw(st.integers(q, q + 6))
    hidden = [4 * draw(st.integers(q, q + 4)) for _ in range(depth)]
    out_features = draw(st.integers(1, 7))
    layernorm = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return dict(in_features=in_features, hidden=hidden, out_features=out_features, layernorm=layernorm,
                seed=seed, alpha=alpha, strategy=strategy, layers=layers)


def expanded_model(p: dict) -> MLP:
    model = make_mlp(p["in_features"], p["hidden"], p["out_features"], layernorm=p["layernorm"], seed=p["seed"])
    groups = clause_groups(p["in_features"], p["alpha"]) if p["strategy"] == "clause" else None
    n_clusters = 3 if p["strategy"] == "gram" else None
    new = fpe_expand(model, p["alpha"], strategy=p["strategy"], groups=groups, seed=p["seed"],
                     layers=p["layers"], n_clusters=n_clusters)
    return new.eval()


@settings(max_examples=examples(0.8))
@given(params=expansion_params(), layout=st.sampled_from(["auto", "ell", "csr", "dense"]))
def test_fpe_networks_match_masked_model(params, layout):
    """SparseMLP(x) equals the masked model for every strategy, depth, alpha, LayerNorm, layout
    and batch size (all kernel paths), and keeps its exact non-zero count."""
    model = expanded_model(params)
    sp = to_sparse(model, layout=layout)
    assert sp.count_nonzero() == count_nonzero(model)
    check_equal(model, sp)


@st.composite
def mask_params(draw):
    """Shapes and mask kinds per layer: FPE-like disjoint child partitions (near-constant
    fan-in), per-row random densities (very uneven fan-in, empty rows), empty or full layers."""
    depth = draw(st.integers(1, 3))
    dims = [draw(st.integers(1, 40)) for _ in range(depth + 2)]
    kinds = [draw(st.sampled_from(["partition", "uneven", "empty", "full"])) for _ in range(depth + 1)]
    alphas = [draw(st.integers(1, 4)) for _ in range(depth + 1)]
    return dict(dims=dims, kinds=kinds, alphas=alphas, layernorm=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


def masked_model(p: dict) -> MLP:
    dims = p["dims"]
    model = make_mlp(dims[0], dims[1:-1], dims[-1], layernorm=p["layernorm"], seed=p["seed"])
    rng = np.random.default_rng(p["seed"])
    for lin, kind, alpha in zip(model.layers, p["kinds"], p["alphas"]):
        out_f, in_f = lin.weight.shape
        if kind == "partition":  # children of out_f / alpha parents split its inputs disjointly
            labels = np.stack([rng.permutation(np.arange(in_f) % alpha) for _ in range(-(-out_f // alpha))])
            mask = np.repeat(labels, alpha, axis=0)[:out_f] == (np.arange(out_f) % alpha)[:, None]
        elif kind == "uneven":
            mask = rng.random((out_f, in_f)) < rng.random((out_f, 1)) ** 2
        elif kind == "empty":
            mask = np.zeros((out_f, in_f), dtype=bool)
        else:
            mask = np.ones((out_f, in_f), dtype=bool)
        lin.set_mask(torch.from_numpy(mask))
    return model


@settings(max_examples=examples(0.8))
@given(
    params=mask_params(),
    layout=st.sampled_from(["auto", "ell", "csr", "dense"]),
    kc=st.sampled_from([K.KC, 1, 5, 16]),
)
def test_hand_masked_networks_match(params, layout, kc):
    """Equivalence on masks set directly: uneven fan-in, empty rows and layers, full layers,
    and inputs cut into chunks of ``kc`` features (the blocking of wide layers)."""
    model = masked_model(params)
    with mock.patch.object(K, "KC", kc):
        sp = to_sparse(model, layout=layout)
    assert sp.count_nonzero() == count_nonzero(model)
    check_equal(model, sp, batches=(1, 3, 16, 37))


def test_wide_head_is_chunked():
    """A head with more inputs than KC runs in input chunks, equal to the masked model."""
    model = fpe_expand(make_mlp(64, 320, 7), 8)  # head: 2560 inputs -> 3 chunks
    sp = to_sparse(model, layout="csr")
    assert sp._packed[1].n_chunks == -(-2560 // K.KC) > 1
    check_equal(model, sp, batches=(1, 20, 64))


def test_threads_give_identical_results():
    """1 and 2 threads compute disjoint outputs of the same tasks: bitwise equal results."""
    model = fpe_expand(make_mlp(64, [256, 64], 10, layernorm=True), 4, layers="alternate")
    x = np.random.default_rng(1).standard_normal((256, 64)).astype(np.float32)
    a = to_sparse(model, threads=1)(x)
    sp2 = to_sparse(model, threads=2)
    # the work must be large enough that the layers really are split over threads
    assert max(p.entries for p in sp2._packed) * 256 >= S._PARALLEL_MIN_WORK
    b = sp2(x)
    assert np.array_equal(a, b)
    for batch in (2, 20):
        assert np.array_equal(to_sparse(model, threads=1)(x[:batch]), sp2(x[:batch]))


@given(
    work=st.lists(st.integers(0, 50), min_size=1, max_size=30),
    repeats=st.integers(1, 5),
    parts=st.integers(1, 6),
)
def test_chunks_cover_every_task_once(work, repeats, parts):
    """_chunks splits tasks 0..repeats*ng into contiguous, non-empty, ordered runs."""
    chunks = S._chunks(np.array(work, dtype=np.int64), repeats, parts)
    covered = [t for lo, hi in chunks for t in range(lo, hi)]
    assert covered == list(range(repeats * len(work)))
    assert len(chunks) <= parts


def test_chunks_balance_work():
    """Equal-work split: each of 2 runs holds half the work up to one group's work."""
    rng = np.random.default_rng(0)
    work = rng.integers(1, 100, size=301)
    (lo0, hi0), (lo1, hi1) = S._chunks(work, 3, 2)
    per_task = np.tile(work, 3)
    assert abs(per_task[lo0:hi0].sum() - per_task[lo1:hi1].sum()) <= 2 * work.max()


# --------------------------------------------------------------------------- formats


def test_fpe_split_layer_is_ell_with_small_padding():
    """FPE children have near-constant fan-in: the split layer is stored as ELL, padding <= 25%,
    padding entries are value 0 at the row's last real index."""
    model = fpe_expand(make_mlp(128, 64, 10), 4, strategy="random")
    sp = to_sparse(model)
    layer = sp.layers[0]
    assert layer.kind == "ell"
    fan = (layer.values != 0).sum(axis=1)
    assert layer.values.shape[1] == fan.max()
    assert layer.values.size - layer.nnz <= S.ELL_MAX_PADDING * layer.nnz
    for j in range(layer.out_features):
        real = layer.indices[j, : fan[j]]
        assert np.all(layer.values[j, : fan[j]] != 0)
        assert np.all(np.diff(real.astype(np.int64)) > 0)  # sorted, no repeats
        assert np.all(layer.values[j, fan[j]:] == 0)
        assert np.all(layer.indices[j, fan[j]:] == real[-1])
    np.testing.assert_array_equal(layer.dense_weight(), model.layers[0].masked_weight().detach().numpy())
    np.testing.assert_array_equal(layer.parent_index, np.arange(256) // 4)


def test_uneven_rows_are_csr_and_full_layers_dense():
    model = make_mlp(64, [32], 5)
    rng = np.random.default_rng(0)
    fan = np.r_[np.full(31, 2), 64]  # one long row: ELL padding would be ~ 14x the non-zeros
    mask = np.zeros((32, 64), dtype=bool)
    for j, f in enumerate(fan):
        mask[j, rng.choice(64, f, replace=False)] = True
    model.layers[0].set_mask(torch.from_numpy(mask))
    sp = to_sparse(model)
    assert [layer.kind for layer in sp.layers] == ["csr", "dense"]
    assert sp.layers[0].indices.dtype == np.uint16 and sp.layers[0].indptr.dtype == np.int64
    check_equal(model, sp, batches=(1, 20))


def test_packed_runtime_size_follows_nonzeros():
    """Runtime entries (what a pass reads per sample) = non-zeros + padding, padding small."""
    model = fpe_expand(make_mlp(512, 64, 100), 4)
    sp = to_sparse(model)
    layer, packed = sp.layers[0], sp._packed[0]
    assert packed.entries >= layer.nnz
    assert packed.entries - layer.nnz <= 0.25 * layer.nnz
    assert packed.vals.size == packed.idx.size == packed.entries
    assert sp.nbytes == sum(lyr.nbytes for lyr in sp.layers)
    # ELL bytes: 4 (float32) + 2 (uint16 index) per stored entry, plus the bias
    assert layer.nbytes == layer.values.size * 6 + layer.out_features * 4


def test_float64_models_stay_float64():
    model = fpe_expand(make_mlp(24, [16, 8], 3, layernorm=True), 2, layers="alternate").double()
    sp = to_sparse(model)
    assert sp.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((20, 24))
    np.testing.assert_allclose(sp(x), reference(model, x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sp(x[:2]), reference(model, x[:2]), rtol=1e-10, atol=1e-10)


def test_no_bias_and_zero_batch():
    model = MLP(12, [8], 3, bias=False)
    sp = to_sparse(model)
    check_equal(model, sp, batches=(1, 16))
    assert sp(np.zeros((0, 12), np.float32)).shape == (0, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 512, 64), (37, 13, 16), (5, 8, 32), (130, 100, 64), (16, 3, 16)])
def test_blocked_layout_round_trip(dtype, shape):
    """to_blocked / from_blocked (8x8 SIMD transposes + scalar edges) equal NumPy transposes."""
    B, n, TB = shape
    X = np.random.default_rng(0).standard_normal((B, n)).astype(dtype)
    nb = -(-B // TB)
    h = np.full((nb, n, TB), np.nan, dtype=dtype)
    to_blocked(X, h)
    Xp = np.zeros((nb * TB, n), dtype=dtype)
    Xp[:B] = X
    np.testing.assert_array_equal(h, Xp.reshape(nb, TB, n).transpose(0, 2, 1))
    Y = np.empty((B, n), dtype=dtype)
    from_blocked(h, Y)
    np.testing.assert_array_equal(Y, X)


def test_tile_width_choice():
    assert S._tile_width(256) == 64
    assert S._tile_width(16) == 16
    for batch in range(4, 300):
        tb = S._tile_width(batch)
        assert tb in (16, 32, 64) and -(-batch // tb) * tb - batch < tb


# --------------------------------------------------------------------------- inputs


def test_input_types_and_shapes():
    model = fpe_expand(make_mlp(16, 8, 3), 2)
    sp = to_sparse(model)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(321))
    out = sp(x)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3) and out.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(out, model(x), rtol=RTOL, atol=ATOL)
    one = sp(x[0].numpy())
    assert isinstance(one, np.ndarray) and one.shape == (3,)
    np.testing.assert_allclose(one, out[0].numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(sp(x.double()).numpy(), out.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(sp(x.numpy().tolist()), out.numpy(), rtol=RTOL, atol=ATOL)
    assert sp(np.ones((2, 16), dtype=np.int64)).shape == (2, 3)
    # a non-contiguous view gives the same result
    wide = torch.randn(5, 32, generator=torch.Generator().manual_seed(333))
    np.testing.assert_allclose(sp(wide[:, ::2]).numpy(), sp(wide[:, ::2].contiguous()).numpy())
    # gradients are not tracked, requires_grad inputs are fine
    assert not sp(x.requires_grad_()).requires_grad


@pytest.mark.parametrize(
    "bad, err, match",
    [
        (np.zeros((2, 15), np.float32), ValueError, r"x must have shape \(batch, 16\)"),
        (np.zeros((2, 2, 16), np.float32), ValueError, "x must have shape"),
        (np.zeros((2, 16), bool), TypeError, "real numbers"),
        (np.zeros((2, 16), complex), TypeError, "real numbers"),
        (np.array(["a"] * 16), TypeError, "real numbers"),
    ],
)
def test_bad_inputs(bad, err, match):
    sp = to_sparse(make_mlp(16, 8, 3))
    with pytest.raises(err, match=match):
        sp(bad)


def test_bad_arguments():
    model = make_mlp(16, 8, 3)
    with pytest.raises(TypeError, match="model must be an fpe_empirical.MLP"):
        to_sparse(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="layout must be one of"):
        to_sparse(model, layout="coo")
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        to_sparse(model, threads=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        to_sparse(model, threads=1.5)
    sp = to_sparse(model)
    with pytest.raises(ValueError, match="in_features must equal"):
        SparseMLP([sp.layers[1], sp.layers[0]])
    with pytest.raises(ValueError, match="norms must have one entry per hidden layer"):
        SparseMLP(sp.layers, [None, None])


# --------------------------------------------------------------------------- files


def saved(tmp_path, sp, name="net.safetensors"):
    path = tmp_path / name
    sp.save(path)
    return path


def test_save_load_round_trip(tmp_path):
    model = fpe_expand(make_mlp(32, [24, 16], 4, layernorm=True), 2, layers="alternate")
    sp = to_sparse(model)
    path = saved(tmp_path, sp)
    back = SparseMLP.load(path, threads=2)
    assert back.threads == 2 and back.count_nonzero() == sp.count_nonzero() == count_nonzero(model)
    for a, b in zip(sp.layers, back.layers):
        assert a.kind == b.kind and a.values.dtype == b.values.dtype
        for name in ("values", "indices", "indptr", "bias", "parent_index"):
            va, vb = getattr(a, name), getattr(b, name)
            assert (va is None) == (vb is None)
            if va is not None:
                np.testing.assert_array_equal(va, vb)
    x = np.random.default_rng(0).standard_normal((40, 32)).astype(np.float32)
    assert np.array_equal(sp(x), back(x))
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]  # no temp file left


@pytest.mark.parametrize("layout", ["ell", "csr", "dense"])
def test_every_kind_round_trips(tmp_path, layout):
    model = make_mlp(20, [10], 3)
    model.layers[0].set_mask(torch.rand(10, 20, generator=torch.Generator().manual_seed(0)) < 0.4)
    sp = to_sparse(model, layout=layout)
    back = SparseMLP.load(saved(tmp_path, sp))
    x = np.random.default_rng(0).standard_normal((7, 20)).astype(np.float32)
    assert np.array_equal(sp(x), back(x))


def rewrite(path, *, meta=None, tensors=None, drop=(), header=None):
    """Re-save the file at ``path`` with changed metadata / tensors (to build bad files)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        old_meta = json.loads(f.metadata()["fpe_sparse"])
        old = {k: f.get_tensor(k) for k in f.keys()}
    if meta is not None:
        meta(old_meta)
    for k in drop:
        old.pop(k)
    old.update(tensors or {})
    save_file(old, str(path), metadata=header if header is not None else {"fpe_sparse": json.dumps(old_meta)})


@pytest.fixture
def good_file(tmp_path):
    """A file with one layer of each kind (ELL, CSR, dense) and LayerNorms."""
    model = fpe_expand(make_mlp(24, [16, 8], 3, layernorm=True), 2, layers="alternate")
    model.layers[1].set_mask(torch.rand(8, 32, generator=torch.Generator().manual_seed(1)) < 0.3)
    kinds = ("ell", "csr", "dense")
    layers = [to_sparse(model, layout=k).layers[i] for i, k in enumerate(kinds)]
    sp = SparseMLP(layers, to_sparse(model).norms)
    assert [layer.kind for layer in sp.layers] == list(kinds)
    return saved(tmp_path, sp)


def test_load_rejects_truncated_and_garbage(good_file, tmp_path):
    data = good_file.read_bytes()
    for cut in (3, 100, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{cut}.safetensors"
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a readable safetensors file"):
            SparseMLP.load(p)
    p = tmp_path / "garbage.safetensors"
    p.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError):
        SparseMLP.load(p)
    with pytest.raises(FileNotFoundError):
        SparseMLP.load(tmp_path / "missing.safetensors")


def _set(key, value):
    def edit(meta):
        target = meta
        *path, last = key
        for k in path:
            target = target[k]
        target[last] = value

    return edit


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(header={"other": "x"}), "no 'fpe_sparse' entry"),
        (dict(header={"fpe_sparse": "{not json"}), "not valid JSON"),
        (dict(meta=_set(("format",), "something")), "header format must be"),
        (dict(meta=_set(("version",), 99)), "format version must be 1"),
        (dict(meta=_set(("dtype",), "float16")), "dtype must be"),
        (dict(meta=_set(("activation",), "gelu")), "activation must be 'relu'"),
        (dict(meta=_set(("layers", 0, "kind"), "coo")), r"layers\[0\].kind must be one of"),
        (dict(meta=_set(("layers", 1, "in_features"), 5)), "in_features must equal"),
        (dict(meta=_set(("layers", 0, "out_features"), 0)), "must be an integer >= 1"),
        (dict(meta=_set(("layers", 0, "nnz"), 1)), r"layers\[0\].nnz is 1"),
        (dict(meta=_set(("layers", 0, "width"), 999)), "width must be an integer"),
        (dict(meta=_set(("norms",), [])), "header 'norms' must be a list"),
        (dict(meta=_set(("norms", 0, "eps"), -1.0)), "eps must be a finite number"),
        (dict(drop=["layers.0.indices"]), "missing tensor 'layers.0.indices'"),
        (dict(tensors={"extra": np.zeros(3, np.float32)}), "unexpected tensors"),
        (dict(tensors={"layers.2.bias": np.zeros(3, np.float64)}), "must have dtype float32"),
        (dict(tensors={"layers.2.bias": np.zeros(4, np.float32)}), r"must have shape \(3,\)"),
    ],
)
def test_load_rejects_bad_contents(good_file, change, match):
    rewrite(good_file, **change)
    with pytest.raises(ValueError, match=match):
        SparseMLP.load(good_file)


def test_load_rejects_bad_indices(good_file):
    sp = SparseMLP.load(good_file)
    kinds = [layer.kind for layer in sp.layers]
    i = kinds.index("ell")
    idx = sp.layers[i].indices.copy()
    idx[0, 0] = sp.layers[i].in_features  # out of range
    rewrite(good_file, tensors={f"layers.{i}.indices": idx})
    with pytest.raises(ValueError, match=r"must hold indices in \[0, "):
        SparseMLP.load(good_file)


def test_load_rejects_bad_csr(tmp_path):
    model = make_mlp(20, [10], 3)
    model.layers[0].set_mask(torch.rand(10, 20, generator=torch.Generator().manual_seed(0)) < 0.4)
    path = saved(tmp_path, to_sparse(model, layout="csr"))
    sp = SparseMLP.load(path)
    indptr = sp.layers[0].indptr.copy()
    indptr[3], indptr[4] = indptr[4], indptr[3] - 1  # not monotone
    rewrite(path, tensors={"layers.0.indptr": indptr})
    with pytest.raises(ValueError, match="indptr"):
        SparseMLP.load(path)
    path = saved(tmp_path, to_sparse(model, layout="csr"), "b.safetensors")
    indices = sp.layers[0].indices.copy()
    start = sp.layers[0].indptr[np.argmax(np.diff(sp.layers[0].indptr))]
    indices[start + 1] = indices[start]  # a column repeated inside a row
    rewrite(path, tensors={"layers.0.indices": indices})
    with pytest.raises(ValueError, match="repeats a column"):
        SparseMLP.load(path)


# --------------------------------------------------------------------------- 2:4


def test_two_four_pattern_check():
    W = np.zeros((3, 10))
    W[0, [0, 3, 5, 6, 8, 9]] = 1  # 2 per aligned run of 4 (last run zero-padded)
    W[1, [1]] = 1
    W[2, [4, 5, 6]] = 1  # 3 in the run 4..7
    assert is_two_four(W[:2])
    assert not is_two_four(W)
    assert is_two_four(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="2-D"):
        is_two_four(np.zeros(4))


def test_two_four_split_has_the_pattern():
    """fpe_expand(strategy='two_four') leaves a 2:4 split layer (pruning only removes entries);
    a random split generally does not."""
    model = make_mlp(64, 32, 10)
    tf = fpe_expand(model, 2, strategy="two_four")
    assert is_two_four(tf.layers[0].masked_weight())
    rnd = fpe_expand(model, 2, strategy="random")
    assert not is_two_four(rnd.layers[0].masked_weight())


def identity_convert(W):
    return W.clone()


@pytest.mark.parametrize("multiples", [(32, 64), (16, 16), (64, 128)])
def test_torch_module_wiring_with_padding(multiples):
    """TorchSparseMLP on the CPU with a stand-in converter: the 2:4 layer is padded to the
    kernel's shape multiples, fed zero-padded inputs, sliced and biased exactly as on CUDA."""
    model = fpe_expand(make_mlp(36, [20, 12], 5, layernorm=True), 2, strategy="two_four", layers="alternate")
    sp = to_sparse(model)
    mod = TorchSparseMLP(sp, device="cpu", _convert=(identity_convert, multiples))
    two_four = [is_two_four(layer.masked_weight()) for layer in model.layers]
    assert mod.layer_kinds == ["semi_structured" if t else "dense" for t in two_four]
    assert mod.layer_kinds[0] == "semi_structured"
    W0 = mod.weights[0]
    assert W0.shape[0] % multiples[0] == 0 and W0.shape[1] % multiples[1] == 0
    x = torch.randn(9, 36, generator=torch.Generator().manual_seed(561))
    with torch.no_grad():
        torch.testing.assert_close(mod(x), model(x), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(mod(x[0]), model(x[:1])[0], rtol=RTOL, atol=ATOL)


def test_torch_module_dense_on_cpu():
    model = fpe_expand(make_mlp(16, [8], 3), 2, strategy="two_four")
    sp = to_sparse(model)
    mod = sp.to_torch("cpu")
    assert mod.layer_kinds == ["dense", "dense"]  # no CUDA: never semi-structured
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(572))
    torch.testing.assert_close(mod(x), torch.from_numpy(sp(x.numpy())), rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="semi_structured=True needs a CUDA device"):
        sp.to_torch("cpu", semi_structured=True)
    with pytest.raises(ValueError, match="semi_structured must be"):
        sp.to_torch("cpu", semi_structured="yes")


def test_sparse_module_refuses_gpu_tensors_cleanly():
    sp = to_sparse(make_mlp(8, 4, 2))
    meta = torch.empty(2, 8, device="meta")
    with pytest.raises(ValueError, match="x must be a CPU tensor"):
        sp(meta)


needs_sm80 = pytest.mark.skipif(
    not (torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0)),
    reason="2:4 semi-structured kernels need a CUDA GPU with compute capability >= 8.0",
)


@needs_sm80
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_semi_structured_on_cuda(dtype):
    """On a GPU, the 2:4 split layer runs through torch's semi-structured kernels and matches
    the masked model (float16: tolerance of half precision)."""
    model = fpe_expand(make_mlp(128, [64], 10), 2, strategy="two_four")
    mod = to_sparse(model).to_torch("cuda", dtype=dtype)
    assert mod.layer_kinds[0] == "semi_structured"
    from torch.sparse import SparseSemiStructuredTensor

    assert isinstance(mod.weights[0], SparseSemiStructuredTensor)
    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(604))
    with torch.no_grad():
        ref = model(x)
    tol = 2e-2  # float16 inputs, or float32 run as TF32 on tensor cores: ~1e-3 relative per product
    torch.testing.assert_close(mod(x.cuda()).float().cpu(), ref, rtol=tol, atol=tol)
