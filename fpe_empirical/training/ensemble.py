"""Batched ensemble training: many small MLPs trained as one stacked computation.

Tiny networks spend their time in per-call overhead, not arithmetic. Stacking M models'
weights as ``(M, out, in)`` tensors and running ``torch.baddbmm`` turns M small steps
into one, with one fused Adam over the stacks (PERFORMANCE.md: ~12x on 2 threads).

Exactness. The stacked objective is ``sum_m L_m`` where ``L_m`` is member m's own
objective (its mean data loss plus its L1 term), so the gradient with respect to member
m's parameters is exactly ``grad L_m``; Adam (and its coupled L2) is elementwise, so every
member follows the trajectory of ``trainer.train`` on its own, up to float reassociation in
the batched matmul. Each member draws its data order from its own generator seeded with
its own seed, exactly as the reference does.

Batch-composition invariance ("same seed, same result"). A member's arithmetic must not
depend on which other members share its stack, how many there are, where it sits, or the
thread count: otherwise a config's stored result would depend on how a sweep was chunked
or resumed, and chaotic small models (hidden 2) then end in different optima (measured:
77-82% alone vs 67% in a 20-run batch). Measured causes, all removed here
(benchmarks/RESULTS-sweeps.md):

- MKL picks its GEMM kernel (hence the summation order) by the matrix shapes, so zero
  padding a member's reduction dimension to a stack-mate's width changed its sums
  (e.g. 64-4-10 members padded to hidden 12). Fix: every member is padded only to its own
  *stack shape* (``stack_shape``: a function of its own widths), and only members of one
  stack shape share a stack.
- MKL's result also depends on each matrix's address modulo 16 bytes, so a member at an
  odd position of a stack whose per-member slab is not a multiple of 4 floats (e.g. a
  2 x 437 output, the last partial batch of the digits data) got other sums. Fix: widths
  are multiples of 4 and the batch is padded to a multiple of ``SEGMENT_QUANTUM`` (padded
  samples read a zero row and get zero loss gradient), so every slab starts on a 16-byte
  boundary.
- Vectorised elementwise kernels (sigmoid, fused Adam, ...) compute the remainder of a
  tensor that does not fill a vector with scalar code, whose results differ in the last
  bit (measured for sigmoid), and the remainder falls on whichever member is last. Fix:
  activations have a batch that is a multiple of ``SEGMENT_QUANTUM``, and every parameter
  lives in one flat buffer (the one tensor Adam sees) at an offset that is a multiple of
  it, so no member's entries ever fall in a remainder.
- A stack of one member takes other GEMM paths (size-1 batch dimension) than any larger
  stack. Fix: a lone member trains beside a ghost copy of itself.
- With 2 threads MKL splits a lone matrix but not a batch of them. Fix: stacks train with
  one intra-op thread (parallelism across stacks comes from processes: sweep ``--workers``).
- LayerNorm over padded units used another formula than over unpadded ones. Fix: the
  masked formula is used for every member.

Elementwise kernels, reductions and fused Adam were checked to be position- and
length-independent; tests/test_ensemble.py pins bit-identical results across stack
compositions, sizes and positions, and run(config) alone equal to the same config in a
sweep chunk.

Padding is exact in exact arithmetic: padded inputs are zero, padded weights sit under a
False mask (so they are exactly zero, get exactly zero gradient and zero Adam moments),
padded biases and LayerNorm parameters start at zero and receive zero gradient, LayerNorm
normalises over each member's real units only, and padded samples get zero loss gradient.

Shapes in comments: M members, B batch, I inputs, H hidden units, O outputs.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence

import torch

from ..nn.models import MLP
from .loop import run_epochs
from .settings import TrainHistory, TrainSettings, per_model
from .stacked import (  # noqa: F401  (StackedMLP, stack_shape, ensemble_compatible: this module's public API too)
    SEGMENT_QUANTUM, WIDTH_QUANTUM, StackedMLP, norm_eps, ensemble_compatible, round_up, stack_shape,
)

__all__ = [
    "StackedMLP",
    "train_ensemble",
    "ensemble_groups",
    "ensemble_compatible",
    "stack_shape",
    "DEFAULT_MAX_MEMBERS",
    "WIDTH_QUANTUM",
]

#: Members per stack at most. Beyond ~32 tiny members the per-step overhead is amortised
#: and larger stacks only cost memory and cache (benchmarks/bench_ensemble.py).
DEFAULT_MAX_MEMBERS = 128

#: Bytes of one step's activations (batch x sum of stack widths x item size, over the
#: members) a stack aims to stay under: a step then works in cache. Measured at 1 thread
#: (AMD EPYC, 1 MiB L2 per core): 64 x 32-8-1 members took 78 us per model-step in one
#: stack (5.4 MB) and 60 us in two of 32; 128-32-1 members were fastest in stacks of 8
#: (2.6 MB). Only speed depends on it: results do not depend on how stacks are cut.
STACK_CACHE_BYTES = 3 * 2**20


def _group_key(model: MLP, X: torch.Tensor, y: torch.Tensor, s: TrainSettings) -> tuple:
    """Members with equal keys share a stack: same stack shape, settings (but ``l1``), ..."""
    return (
        stack_shape(model),
        model.layernorm,
        norm_eps(model),
        tuple(layer.bias is not None for layer in model.layers),
        model.layers[0].weight.dtype,
        model.layers[0].weight.device,
        X.dtype,
        int(X.shape[0]),
        s.epochs,
        s.batch_size,
        s.lr,
        s.weight_decay,
    )


def ensemble_groups(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[list[int]]:
    """Partition member indices into stacks.

    Members may share a stack when they agree on ``stack_shape``, norm, bias layout,
    dtype, device, training-set size and every training setting except ``l1`` (which is
    per member). Each such class (in input order) is cut into stacks of near-equal size,
    each of at most ``max_members`` and of at most ``STACK_CACHE_BYTES`` of activations per
    step. Which stack a member lands in does not change its result.
    """
    if isinstance(max_members, bool) or not isinstance(max_members, int):
        raise TypeError(f"max_members must be an int, got {type(max_members).__name__}")
    if max_members < 1:
        raise ValueError(f"max_members must be an integer >= 1, got {max_members}")
    classes: dict[tuple, list[int]] = {}
    for i, (model, (X, y), s) in enumerate(zip(models, data, settings)):
        classes.setdefault(_group_key(model, X, y, s), []).append(i)
    groups = []
    for members in classes.values():
        first = models[members[0]]
        batch = round_up(min(settings[members[0]].batch_size, int(data[members[0]][0].shape[0])), SEGMENT_QUANTUM)
        per_member = batch * sum(stack_shape(first)) * first.layers[0].weight.element_size()
        cap = max(1, min(max_members, STACK_CACHE_BYTES // per_member))
        n_stacks = math.ceil(len(members) / cap)
        size = math.ceil(len(members) / n_stacks)
        groups.extend(members[i : i + size] for i in range(0, len(members), size))
    return groups


class _FlatAdam:
    """``torch.optim.Adam(lr, weight_decay)`` (coupled L2, betas 0.9/0.999, eps 1e-8) on the
    one flat parameter buffer, written as torch's single-tensor Adam writes it.

    ``torch.optim.Adam.step`` spent ~70 us of Python per call around a 6 us fused kernel,
    which dominated small stacks' steps; these eight in-place passes take ~25 us. State as
    torch keeps it: ``state[param] = {"step", "exp_avg", "exp_avg_sq"}``.
    """

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, param: torch.Tensor, lr: float, weight_decay: float) -> None:
        self.param, self.lr, self.weight_decay = param, float(lr), float(weight_decay)
        self.state = {param: {"step": 0, "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}}

    @torch.no_grad()
    def step(self) -> None:
        p = self.param
        state = self.state[p]
        beta1, beta2 = self.betas
        grad = p.grad
        if self.weight_decay:
            grad = grad.add(p, alpha=self.weight_decay)
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**t)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**t)).add_(self.eps)
        p.addcdiv_(state["exp_avg"], denom, value=-step_size)


def _make_optimizer(params: list[torch.Tensor], s: TrainSettings) -> _FlatAdam:
    (flat,) = params
    return _FlatAdam(flat, s.lr, s.weight_decay)


def _stack_data(
    data: Sequence[tuple[torch.Tensor, torch.Tensor]], in_width: int, binary: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unique datasets stacked: X (U*n + 1, I) zero-padded, y (U*n + 1,), member -> dataset
    offset (M,). The last row (index U*n) is all zeros: padded batch samples read it.

    Members whose data are equal (a config's strategies all train on its training set,
    often passed as separate copies) share one copy: found by a cheap fingerprint,
    confirmed by ``torch.equal``.
    """
    uniq: list[tuple[torch.Tensor, torch.Tensor]] = []
    by_print: dict[tuple, list[int]] = {}
    which = []
    by_id: dict[tuple[int, int], int] = {}  # the very same tensors (alive here: ids are stable)
    for X, y in data:
        if (id(X), id(y)) in by_id:
            which.append(by_id[id(X), id(y)])
            continue
        fp = (tuple(X.shape), X.dtype, float(X.sum()), float(X[0].sum()), float(y.sum()))
        for u in by_print.get(fp, []):
            if torch.equal(uniq[u][0], X) and torch.equal(uniq[u][1], y):
                which.append(u)
                break
        else:
            by_print.setdefault(fp, []).append(len(uniq))
            which.append(len(uniq))
            uniq.append((X, y))
        by_id[id(X), id(y)] = which[-1]
    n = uniq[0][0].shape[0]
    device = uniq[0][0].device
    U = len(uniq)
    Xs = torch.zeros(U * n + 1, in_width, dtype=dtype, device=device)
    ys = torch.zeros(U * n + 1, dtype=dtype if binary else torch.long, device=device)
    for u, (X, y) in enumerate(uniq):
        Xs[u * n : (u + 1) * n, : X.shape[1]] = X
        ys[u * n : (u + 1) * n] = y.to(ys.dtype)
    offsets = torch.tensor(which, dtype=torch.long, device=device) * n
    return Xs, ys, offsets


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One torch intra-op thread while a stack trains (module docstring: with more, MKL
    splits a lone matrix but not a batch, so results would depend on the stack size)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _train_stack(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings],
    seeds: Sequence[int],
    *,
    progress: bool,
) -> tuple[list[TrainHistory], StackedMLP, torch.optim.Optimizer]:
    """Train one stack; ``settings`` agree except ``l1`` (checked by the caller's grouping).

    Returns the histories and, for inspection, the stack and its optimizer. A lone member
    trains beside a ghost copy of itself (a stack of one takes other GEMM paths).
    """
    n_members = len(models)
    if n_members == 1:
        models = [models[0], copy.deepcopy(models[0])]
        data, settings, seeds = [data[0]] * 2, [settings[0]] * 2, [seeds[0]] * 2
    with _one_thread():
        histories, net, opt = _train_one_stack(models, data, settings, seeds, progress)
    return histories[:n_members], net, opt


def _train_one_stack(models, data, settings, seeds, progress: bool):
    s0 = settings[0]
    net = StackedMLP(models)
    M = net.M
    dtype = net.flat.dtype
    Xs, ys, offsets = _stack_data(data, net.max_widths[0], net.binary, dtype)
    n = data[0][0].shape[0]
    pad_row = Xs.shape[0] - 1  # the zero row
    buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # padded batch -> (x, y) gather buffers
    # (real, padded) size of each batch of an epoch; bs_pad: a full batch, padded
    bs_pad = round_up(min(s0.batch_size, n), SEGMENT_QUANTUM)
    batches = [(min(s0.batch_size, n - start), round_up(min(s0.batch_size, n - start), SEGMENT_QUANTUM))
               for start in range(0, n, s0.batch_size)]
    n_full, n_rest = divmod(n, s0.batch_size)
    l1 = torch.tensor([s.l1 for s in settings], dtype=dtype, device=Xs.device)
    use_l1 = bool((l1 != 0).any())
    opt = _make_optimizer(net.parameters(), s0)
    gens = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    histories = [TrainHistory() for _ in range(M)]
    epoch: dict[str, torch.Tensor] = {}

    def begin_epoch(perms: torch.Tensor) -> None:
        perms = perms.to(Xs.device) + offsets[:, None]  # (M, n) rows of the stacked datasets
        # every batch padded to a multiple of SEGMENT_QUANTUM (every (width, B) slab: no
        # vector-loop tail): all padded row indices of the epoch in one pass
        padded = torch.full((M, len(batches) * bs_pad), pad_row, dtype=perms.dtype, device=perms.device)
        if n_full:
            padded.view(M, len(batches), bs_pad)[:, :n_full, : s0.batch_size] = perms[
                :, : n_full * s0.batch_size
            ].view(M, n_full, s0.batch_size)
        if n_rest:  # the last, partial batch (the only one when n < batch_size)
            padded[:, n_full * bs_pad : n_full * bs_pad + n_rest] = perms[:, n_full * s0.batch_size :]
        epoch["padded"] = padded

    def step(j: int, _rows: torch.Tensor) -> torch.Tensor:
        b, B = batches[j]
        rows = epoch["padded"][:, j * bs_pad : j * bs_pad + B]  # (M, B): b real rows, then the zero row
        if B not in buffers:
            # reused every step: a fresh 1-4 MB gather output cost 4x the gather
            buffers[B] = (Xs.new_empty(M * B, Xs.shape[1]), ys.new_empty(M * B))
        xbuf, ybuf = buffers[B]
        flat_rows = rows.reshape(-1)
        xb = torch.index_select(Xs, 0, flat_rows, out=xbuf).view(M, B, -1)
        yb = torch.index_select(ys, 0, flat_rows, out=ybuf).view(M, B)
        loss = net.objective_and_grads(xb, yb, l1 if use_l1 else None, b)  # (M,)
        opt.step()
        # no apply_masks_ here: masked entries of the weights and of both Adam moments start
        # at exactly 0 and their gradient is exactly 0 (masked in objective_and_grads), so
        # Adam keeps them at 0: g + wd * 0 = 0, m and v stay 0, the step is lr * 0 / (0 + eps)
        # = 0. Same result as masking after every step (the reference's contract), without
        # three passes per layer.
        return loss

    for m in models:
        m.train()
    if s0.epochs > 0:
        net.apply_masks_(opt)
        means = run_epochs(n, s0, gens, step, begin_epoch=begin_epoch,
                           progress=f"ensemble x{M}" if progress else None)
        for mean in means:
            for h, value in zip(histories, mean.tolist()):
                h.epoch_loss.append(value)
        net.apply_masks_(opt)  # a no-op by the invariant above; kept as the contract's last word
    net.write_back(models)
    for m in models:
        m.eval()
    return histories, net, opt


def train_ensemble(
    models: Sequence[MLP],
    data: Sequence[tuple[torch.Tensor, torch.Tensor]],
    settings: Sequence[TrainSettings] | TrainSettings,
    seeds: Sequence[int],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
    progress: bool = False,
) -> list[TrainHistory]:
    """Train every ``models[i]`` in place on ``data[i]`` with ``seeds[i]``, batched.

    Same contract as ``backends.train_many`` (fresh Adam per member, the reference's data
    order, masks enforced after every step): the result equals training each model alone
    with ``trainer.train`` up to float reassociation. Members are grouped by
    ``ensemble_groups`` (same ``stack_shape``, dataset size and settings except ``l1``);
    each group trains as one stack. Each member's result is bit-identical whatever else is
    trained in the same call, in what order, and with any torch thread count (module
    docstring). Raises ``ValueError`` for a model that cannot be stacked (see
    ``ensemble_compatible``).
    """
    settings = per_model(models, data, settings, seeds)
    for i, (model, (X, y)) in enumerate(zip(models, data)):
        reason = ensemble_compatible(model)
        if reason is not None:
            raise ValueError(f"models[{i}] cannot be trained in an ensemble: {reason}")
        if X.ndim != 2 or X.shape[1] != model.in_features:
            raise ValueError(f"data[{i}] X must have shape (n, {model.in_features}), got {tuple(X.shape)}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"data[{i}] y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
        if X.dtype != model.layers[0].weight.dtype:
            raise ValueError(f"data[{i}] X must have the model's dtype {model.layers[0].weight.dtype}, got {X.dtype}")
    histories: list[TrainHistory | None] = [None] * len(models)
    for group in ensemble_groups(models, data, settings, max_members=max_members):
        out, _, _ = _train_stack(
            [models[i] for i in group],
            [data[i] for i in group],
            [settings[i] for i in group],
            [seeds[i] for i in group],
            progress=progress,
        )
        for i, h in zip(group, out):
            histories[i] = h
    return histories  # type: ignore[return-value]
