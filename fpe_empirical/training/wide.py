"""The wide trainer: models that see the same batches trained as ONE wide hidden layer.

A *family* is a set of one-hidden-layer binary MLPs (``in -> h -> 1``, biases, no
LayerNorm) that share the training data (same contents), the ``TrainSettings`` and the
order seed: in a DNF run the dense control and every split model of one config, and every
hidden width of one ``(n_clauses, seed)``. Their hidden units are concatenated into one
layer of ``H = sum h_m`` units, so each step is

- one gather of the batch (``X`` as ``(b, K)`` and ``(K, b)`` float32 views);
- ``A = relu(W1_all @ X_b^T + b1)``: one GEMM over all units (``wide_simd.tile``);
- per model ``o_m = w2_m . A_m + b2_m`` (a sum over the model's own units), BCE;
- ``dW1_all = G @ X_b``: one GEMM, ``G`` the back-propagated unit gradients;
- Adam with coupled L2 over every parameter of the family, masks re-applied;

all in one Numba call per epoch. Semantics are ``trainer.train``'s (``settings``): the
same per-epoch ``torch.randperm`` stream, batches, loss, L1 on the effective first layer,
Adam (``lr``, betas (0.9, 0.999), eps 1e-8, coupled weight decay) and masks; results equal
the reference up to float reassociation.

Bit-identity: every number a model ends with is computed by arithmetic that involves only
that model's parameters and the shared batch, in an order fixed by the model alone (the
GEMM tile makes one fma chain per element; sums over a model's units or the batch run in
a fixed order). So a model's result is the same bit for bit whatever family, chunk, worker
or thread it is trained in (``tests/test_wide.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numba import njit

from ..nn.models import MLP
from .settings import TrainHistory, TrainSettings
from .wide_simd import BATCH_LANES, COLS, LANES, tile, tile24

__all__ = ["wide_compatible", "train_wide", "family_keys"]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def wide_compatible(model) -> str | None:
    """``None`` if ``model`` can join a wide family (a float32 CPU ``MLP`` with one hidden
    layer, one output, biases, no LayerNorm), else the reason it cannot."""
    if not isinstance(model, MLP):
        return f"not an MLP ({type(model).__name__})"
    if len(model.layers) != 2:
        return "needs exactly one hidden layer"
    if model.out_features != 1:
        return "needs one output (binary head)"
    if model.layernorm:
        return "LayerNorm is not supported"
    for layer in model.layers:
        if layer.bias is None:
            return "needs biases"
        if layer.weight.dtype != torch.float32 or layer.weight.device.type != "cpu":
            return "needs float32 CPU weights"
    return None


def _fingerprint(X: torch.Tensor, y: torch.Tensor) -> tuple:
    # cheap pre-grouping only: equal data always have equal fingerprints; the family is
    # then confirmed by an exact comparison
    flat = X.reshape(-1)
    step = max(1, flat.numel() // 64)
    return (tuple(X.shape), str(X.dtype), tuple(y.shape), tuple(flat[::step][:64].tolist()), tuple(y[:64].tolist()))


def family_keys(data, settings, seeds) -> list[tuple]:
    """One hashable key per model: equal keys see the same batches (data with equal
    contents, equal ``TrainSettings`` and order seed), so they can train as one family."""
    reps: dict[tuple, list[tuple[int, torch.Tensor, torch.Tensor]]] = {}
    keys = []
    for (X, y), s, seed in zip(data, settings, seeds):
        head = (_fingerprint(X, y), s, int(seed))
        group = reps.setdefault(head, [])
        for number, rX, ry in group:
            if (rX is X and ry is y) or (torch.equal(rX, X) and torch.equal(ry, y)):
                break
        else:
            number = len(group)
            group.append((number, X, y))
        keys.append((*head, number))
    return keys


# --------------------------------------------------------------------------- kernels


@njit(fastmath={"contract"}, nogil=True, cache=True)
def _epoch(X, y, perm, bs, K, W1, M1, b1, w2, M2, b2, col_model, m_start, m_end, l1, lr, wd,
           mom, step0, obj, Xr, Xt, yb, A, G, o, g, dW1, dw2, db1, part, ebuf, lbuf, ibits, fbits):  # pragma: no cover - numba
    """One epoch of a family over the row order ``perm``; returns the steps taken.

    Units ``j`` (rows of ``W1``, padded to a multiple of ``COLS``) belong to model
    ``col_model[j]`` (-1: padding); model ``m`` owns units ``m_start[m]:m_end[m]``. ``mom``:
    the Adam moments ``(m, v)`` of W1, b1, w2, b2; ``step0``: steps taken before this
    epoch; ``obj[m]`` accumulates each step's objective. The rest are scratch buffers.
    Per step: ``A = relu(W1 X^T + b1)``; ``o_m = w2_m . A_m + b2_m``; ``L_m = mean BCE +
    l1 sum |W1_m|``; ``G = (sigmoid(o) - y) / b * w2 * [A > 0]``; ``dW1 = G X``; Adam
    ``g += wd p; m += (1 - beta1)(g - m); v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; masks re-applied."""
    n = perm.shape[0]
    Kp = X.shape[1]
    Hp = W1.shape[0]
    M = b2.shape[0]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    mW1, vW1, mb1, vb1, mw2, vw2, mb2, vb2 = mom
    beta1 = np.float32(_BETA1)
    beta2 = np.float32(_BETA2)
    eps = np.float32(_EPS)
    steps = 0
    for start in range(0, n, bs):
        stop = min(start + bs, n)
        b = stop - start
        bp = (b + BATCH_LANES - 1) // BATCH_LANES * BATCH_LANES
        # gather the batch, BATCH_LANES rows at a time: rows of X (zero-padded to Kp
        # columns), then their transpose while they are in L1
        for i0 in range(0, bp, BATCH_LANES):
            for lane in range(BATCH_LANES):
                i = i0 + lane
                if i < b:
                    r = perm[start + i]
                    for k in range(Kp):
                        Xr[i, k] = X[r, k]
                    yb[i] = y[r]
                else:
                    for k in range(Kp):
                        Xr[i, k] = zero
                    yb[i] = zero
            for k in range(K):
                for lane in range(BATCH_LANES):
                    Xt[k, i0 + lane] = Xr[i0 + lane, k]
        # forward, first layer: one GEMM over every unit of the family
        for j0 in range(0, Hp, COLS):
            for i0 in range(0, bp, BATCH_LANES):
                tile24(W1, j0, Xt, i0, K, A)
        # bias and ReLU, second layer (one pass per unit), loss and the logit gradient,
        # model by model
        inv_b = one / np.float32(b)
        for m in range(M):
            for i in range(bp):
                o[m, i] = zero
            for j in range(m_start[m], m_end[m]):
                wj = w2[j]
                bj = b1[j]
                for i in range(bp):
                    v = A[j, i] + bj
                    v = v if v > zero else zero
                    A[j, i] = v
                    o[m, i] += wj * v
            # e = exp(-|z|) by a vectorisable Cephes-style expf (2^n through the bits of
            # an int32 view); one e serves the softplus (log1p(e) by its series in
            # s = e / (2 + e)) and the sigmoid, both overflow-free
            bm = b2[m]
            for i in range(bp):
                x = max(-abs(o[m, i] + bm), np.float32(-87.0))
                fn = np.floor(x * np.float32(1.44269504) + np.float32(0.5))
                r = x - fn * np.float32(0.693359375) - fn * np.float32(-2.12194440e-4)
                q = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
                q = q * r + np.float32(8.3334519073e-3)
                q = q * r + np.float32(4.1665795894e-2)
                q = q * r + np.float32(1.6666665459e-1)
                q = q * r + np.float32(5.0000001201e-1)
                ebuf[i] = q * (r * r) + r + one
                ibits[i] = (np.int32(fn) + np.int32(127)) << np.int32(23)
            for i in range(bp):
                e = ebuf[i] * fbits[i]
                z = o[m, i] + bm
                t = yb[i]
                sv = e / (np.float32(2.0) + e)
                s2 = sv * sv
                lg = np.float32(2.0) * sv * (one + s2 * (np.float32(1 / 3) + s2 * (np.float32(0.2) + s2 * (
                    np.float32(1 / 7) + s2 * (np.float32(1 / 9) + s2 * np.float32(1 / 11))))))
                lbuf[i] = max(z, zero) - z * t + lg
                sig = (one if z >= zero else e) / (one + e)
                g[m, i] = (sig - t) * inv_b
            loss = 0.0
            for i in range(b):
                loss += lbuf[i]
            for i in range(b, bp):
                g[m, i] = zero
            pen = 0.0
            for j in range(m_start[m], m_end[m]):
                for k in range(K):
                    pen += abs(W1[j, k])
            obj[m] += loss / b + l1 * pen
        # back through the second layer and the ReLU; dw2 by 8 fixed partial sums
        for j in range(Hp):
            m = col_model[j]
            if m < 0:
                for i in range(bp):
                    G[j, i] = zero
                dw2[j] = zero
                db1[j] = zero
                continue
            wj = w2[j]
            for lane in range(16):
                part[lane] = zero
            for i0 in range(0, bp, 8):
                for lane in range(8):
                    gi = g[m, i0 + lane]
                    a = A[j, i0 + lane]
                    part[lane] += gi * a
                    gh = gi * wj if a > zero else zero
                    G[j, i0 + lane] = gh
                    part[8 + lane] += gh
            dw2[j] = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]))
            db1[j] = ((part[8] + part[9]) + (part[10] + part[11])) + ((part[12] + part[13]) + (part[14] + part[15]))
        # first-layer weight gradient: one GEMM
        for j0 in range(0, Hp, COLS):
            for k0 in range(0, Kp, LANES):
                tile(G, j0, Xr, k0, bp, dW1)
        # Adam (torch's formula, coupled L2), then masks
        t_step = step0 + steps + 1
        bc1 = 1.0 - _BETA1 ** t_step
        bc2 = 1.0 - _BETA2 ** t_step
        step_size = np.float32(lr / bc1)
        bc2_sqrt = np.float32(math.sqrt(bc2))
        l1_32 = np.float32(l1)
        wd32 = np.float32(wd)
        c1 = one - beta1
        c2 = one - beta2
        for j in range(Hp):
            m = col_model[j]
            if m < 0:
                continue
            for k in range(K):
                mk = M1[j, k]
                wv = W1[j, k]
                # d|W|/dW = sign(W) (0 at 0, as autograd's abs), branch-free so it vectorises
                sgn = np.float32(wv > zero) - np.float32(wv < zero)
                gr = dW1[j, k] * mk + l1_32 * sgn * mk + wd32 * wv
                mm = mW1[j, k]
                mm = mm + c1 * (gr - mm)
                vv = vW1[j, k] * beta2 + c2 * gr * gr
                wv = wv - step_size * (mm / (np.sqrt(vv) / bc2_sqrt + eps))
                W1[j, k] = wv * mk
                mW1[j, k] = mm * mk
                vW1[j, k] = vv * mk
            # b1
            gr = db1[j] + wd32 * b1[j]
            mm = mb1[j] + c1 * (gr - mb1[j])
            vv = vb1[j] * beta2 + c2 * gr * gr
            b1[j] = b1[j] - step_size * (mm / (np.sqrt(vv) / bc2_sqrt + eps))
            mb1[j] = mm
            vb1[j] = vv
            # w2 (masked)
            mk = M2[j]
            gr = dw2[j] * mk + wd32 * w2[j]
            mm = mw2[j] + c1 * (gr - mw2[j])
            vv = vw2[j] * beta2 + c2 * gr * gr
            w2[j] = (w2[j] - step_size * (mm / (np.sqrt(vv) / bc2_sqrt + eps))) * mk
            mw2[j] = mm * mk
            vw2[j] = vv * mk
        for m in range(M):
            s = zero
            for i in range(b):
                s += g[m, i]
            gr = s + wd32 * b2[m]
            mm = mb2[m] + c1 * (gr - mb2[m])
            vv = vb2[m] * beta2 + c2 * gr * gr
            b2[m] = b2[m] - step_size * (mm / (np.sqrt(vv) / bc2_sqrt + eps))
            mb2[m] = mm
            vb2[m] = vv
        steps += 1
    return steps


# --------------------------------------------------------------------------- families


def _round_up(n: int, q: int) -> int:
    return (n + q - 1) // q * q


class _Family:
    """The stacked parameters, Adam state and buffers of one family."""

    def __init__(self, models: Sequence[MLP], X: torch.Tensor, y: torch.Tensor, settings: TrainSettings) -> None:
        self.models = list(models)
        self.settings = settings
        n, K = X.shape
        self.K = K
        Kp = _round_up(K, LANES)
        widths = [m.layers[0].out_features for m in models]
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        H = int(starts[-1])
        Hp = _round_up(H, COLS)
        self.m_start, self.m_end = starts[:-1].copy(), starts[1:].copy()
        self.col_model = np.full(Hp, -1, np.int64)
        for i, (s, e) in enumerate(zip(self.m_start, self.m_end)):
            self.col_model[s:e] = i
        Xn = np.zeros((n, Kp), np.float32)
        Xn[:, :K] = X.detach().cpu().numpy()
        self.X = Xn
        self.y = y.detach().cpu().numpy().astype(np.float32)
        f32 = np.float32
        self.W1, self.M1 = np.zeros((Hp, Kp), f32), np.zeros((Hp, Kp), f32)
        self.b1, self.w2, self.M2 = np.zeros(Hp, f32), np.zeros(Hp, f32), np.zeros(Hp, f32)
        self.b2 = np.zeros(len(models), f32)
        with torch.no_grad():
            for i, m in enumerate(models):
                s, e = self.m_start[i], self.m_end[i]
                l0, l1 = m.layers
                self.W1[s:e, :K] = (l0.weight * l0.mask).numpy()
                self.M1[s:e, :K] = l0.mask.numpy()
                self.b1[s:e] = l0.bias.numpy()
                self.w2[s:e] = (l1.weight * l1.mask).numpy()[0]
                self.M2[s:e] = l1.mask.numpy()[0]
                self.b2[i] = l1.bias.numpy()[0]
        self.mom = tuple(np.zeros_like(a) for a in (self.W1, self.W1, self.b1, self.b1, self.w2, self.w2, self.b2, self.b2))
        bpmax = _round_up(max(1, min(settings.batch_size, n)), BATCH_LANES)
        M = len(models)
        self.buffers = (
            np.zeros((bpmax, Kp), f32), np.zeros((K, bpmax), f32), np.zeros(bpmax, f32),
            np.zeros((Hp, bpmax), f32), np.zeros((Hp, bpmax), f32), np.zeros((M, bpmax), f32),
            np.zeros((M, bpmax), f32), np.zeros((Hp, Kp), f32), np.zeros(Hp, f32), np.zeros(Hp, f32), np.zeros(16, f32),
            np.zeros(bpmax, f32), np.zeros(bpmax, f32),
        )
        ibits = np.zeros(bpmax, np.int32)
        self.buffers += (ibits, ibits.view(np.float32))

    def train(self, seed: int) -> list[TrainHistory]:
        s = self.settings
        n = self.X.shape[0]
        gen = torch.Generator().manual_seed(int(seed))
        M = len(self.models)
        losses: list[list[float]] = [[] for _ in range(M)]
        step = 0
        for _ in range(s.epochs):
            perm = torch.randperm(n, generator=gen).numpy()
            obj = np.zeros(M, np.float64)
            taken = _epoch(self.X, self.y, perm, s.batch_size, self.K, self.W1, self.M1, self.b1, self.w2, self.M2,
                           self.b2, self.col_model, self.m_start, self.m_end, float(s.l1), float(s.lr),
                           float(s.weight_decay), self.mom, step, obj, *self.buffers)
            step += taken
            for i in range(M):
                losses[i].append(float(obj[i] / max(taken, 1)))
        self.write_back()
        return [TrainHistory(h) for h in losses]

    @torch.no_grad()
    def write_back(self) -> None:
        for i, m in enumerate(self.models):
            s, e = self.m_start[i], self.m_end[i]
            l0, l1 = m.layers
            l0.weight.copy_(torch.from_numpy(self.W1[s:e, : self.K]))
            l0.bias.copy_(torch.from_numpy(self.b1[s:e]))
            l1.weight.copy_(torch.from_numpy(self.w2[s:e]).view(1, -1))
            l1.bias.copy_(torch.from_numpy(self.b2[i : i + 1]))
            m.eval()


def train_wide(models, data, settings, seeds, *, progress: bool = False) -> list[TrainHistory]:
    """Train ``models[i]`` on ``data[i] = (X, y)`` with order seed ``seeds[i]`` like
    ``trainer.train`` (module docstring), models that see the same batches as one family.

    Every model must be ``wide_compatible`` (else ``ValueError``) and every ``X`` float32.
    Families run on up to ``torch.get_num_threads()`` threads (the kernels release the GIL);
    a model's result does not depend on the threads or on its family's other members.
    """
    for i, m in enumerate(models):
        why = wide_compatible(m)
        if why is not None:
            raise ValueError(f"models[{i}] cannot be trained by the wide trainer: {why}")
        if data[i][0].dtype != torch.float32:
            raise ValueError(f"data[{i}] X must be float32, got {data[i][0].dtype}")
    out: list[TrainHistory | None] = [None] * len(models)
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(family_keys(data, settings, seeds)):
        groups.setdefault(key, []).append(i)
    # most expensive first, so threads finish together (the order changes no number)
    jobs = sorted(groups.values(), key=lambda idx: -sum(
        models[i].layers[0].out_features for i in idx) * data[idx[0]][0].numel() * max(settings[idx[0]].epochs, 1))

    def run(idx: list[int]) -> None:
        fam = _Family([models[i] for i in idx], data[idx[0]][0], data[idx[0]][1], settings[idx[0]])
        for i, h in zip(idx, fam.train(seeds[idx[0]])):
            out[i] = h

    from tqdm.auto import tqdm

    threads = max(1, min(len(jobs), torch.get_num_threads()))
    with tqdm(total=len(jobs), desc="train (families)", disable=not progress, leave=False) as bar:
        if threads == 1:
            for idx in jobs:
                run(idx)
                bar.update(1)
        else:
            with ThreadPoolExecutor(threads) as pool:
                for _ in pool.map(run, jobs):
                    bar.update(1)
    return out  # type: ignore[return-value]
