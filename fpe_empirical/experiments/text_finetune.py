"""FPE inside a pretrained transformer: expand all-MiniLM-L6-v2's feed-forward blocks, fine-tune.

    python -m fpe_empirical.text_finetune --store results/store --out results/figures

Variants (``FinetuneSettings.variants``): ``dense`` (the pretrained model as is), ``fpe-all``
(every one of the 6 feed-forward blocks ``intermediate.dense -> output.dense`` expanded with
``fpe_expand(encoder, alpha, strategy, seed, pairs=...)``) and ``fpe-last2`` (the last two
blocks only). Expansion keeps the non-zero count of the expanded blocks exactly (pooled
pruning), so every variant has the same number of non-zero parameters.

Each run: a linear head on the mean-pooled last hidden state (``hidden -> n_classes``),
trained with the encoder on the docstring task (``data.docstrings``) for the same budget in
every variant: ``steps`` AdamW steps of ``batch_size`` texts cut to ``max_length`` tokens,
drawn without replacement from the training part by ``default_rng(seed)`` (the same texts and
order for every variant of a seed; masks re-applied after every step with ``apply_masks_``;
the embedding tables frozen; ``threads`` torch threads, 1: two spin against a loaded machine);
then accuracy on a fixed test subset (``n_eval`` texts, the first of a ``default_rng(0)``
permutation). The sizing (``max_length``, ``steps``, ``batch_size``, ``n_eval``) was chosen by
timing one training step on the shared 2-core machine so that 3 variants x 5 seeds fit in
about 15 minutes of CPU (``benchmarks/RESULTS.md``).

Each finished run is one JSON file ``<store>/data/minilm-docstrings/finetune/<tag>/<variant>-seed<k>.json``
(written atomically; ``tag`` hashes the settings), so a killed sweep resumes where it stopped.
It records the accuracy, the wall time, and the non-zeros of every feed-forward block before
expansion, after expansion and after training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpe_common.atomic import atomic_write
from fpe_common.checks import check_float, check_int
from fpe_common.cli import OneLineArgumentParser, run_main

from ..data.docstrings import Corpus, load_corpus
from ..data.minilm import data_dir, load_minilm
from ..nn.expand import fpe_expand
from ..nn.expand_module import find_pairs
from ..nn.models import MaskedLinear, apply_masks_

__all__ = ["FinetuneSettings", "VARIANTS", "block_nonzeros", "finetune_run", "run_finetune", "load_runs",
           "summarize", "plot_finetune", "main"]

VARIANTS = ("dense", "fpe-all", "fpe-last2")


@dataclass(frozen=True)
class FinetuneSettings:
    """The fine-tuning budget, the same for every variant (module docstring)."""

    variants: tuple[str, ...] = VARIANTS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    alpha: int = 2
    strategy: str = "random"
    # sizing (measured before choosing, load average ~13 on the shared 2 cores): with 2 torch
    # threads one AdamW step of 32 texts x 32 tokens took 14-27 s (threads spinning against the
    # load); with 1 thread a 16 x 16 step takes ~1.5 s dense, so 15 runs of 40 steps at 16 texts
    # x 16 tokens (+ 256 test texts) fit in ~20 min wall / ~15 min CPU
    max_length: int = 16
    batch_size: int = 16
    steps: int = 40
    threads: int = 1
    lr: float = 1e-4
    head_lr: float = 1e-2
    weight_decay: float = 0.01
    n_eval: int = 256

    def __post_init__(self):
        for v in self.variants:
            if v not in VARIANTS:
                raise ValueError(f"variants must be drawn from {list(VARIANTS)}, got {v!r}")
        if not self.variants or not self.seeds:
            raise ValueError("variants and seeds must be non-empty")
        for s in self.seeds:
            check_int("seeds", s, 0)
        check_int("alpha", self.alpha, 2)
        check_int("max_length", self.max_length, 4)
        check_int("batch_size", self.batch_size, 1)
        check_int("steps", self.steps, 1)
        check_int("n_eval", self.n_eval, 1)
        check_int("threads", self.threads, 1)
        check_float("lr", self.lr, positive=True)
        check_float("head_lr", self.head_lr, positive=True)
        check_float("weight_decay", self.weight_decay)

    def tag(self) -> str:
        """A short hash of the settings that change a run's numbers (variants/seeds excluded)."""
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("variants", "seeds", "threads")}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def _ffn_pairs(encoder) -> list[tuple[str, str]]:
    pairs = [p for p in find_pairs(encoder) if p[0].endswith("intermediate.dense")]
    if not pairs:
        raise ValueError(f"the encoder {type(encoder).__name__} has no BERT-style feed-forward blocks")
    return pairs


def block_nonzeros(encoder) -> list[int]:
    """Non-zero parameters (weights and biases) of each feed-forward block, in layer order."""
    import torch

    out = []
    for a, b in _ffn_pairs(encoder):
        total = 0
        for name in (a, b):
            layer = encoder.get_submodule(name)
            w = layer.masked_weight() if isinstance(layer, MaskedLinear) else layer.weight
            total += int(torch.count_nonzero(w)) + (0 if layer.bias is None else int(torch.count_nonzero(layer.bias)))
        out.append(total)
    return out


def _pairs_of(variant: str, encoder) -> list[tuple[str, str]] | None:
    pairs = _ffn_pairs(encoder)
    return {"dense": None, "fpe-all": pairs, "fpe-last2": pairs[-2:]}[variant]


def _classifier(encoder, n_classes: int):
    import torch
    from torch import nn

    class Classifier(nn.Module):
        """Linear head on the attention-mask mean of the encoder's last hidden state."""

        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.head = nn.Linear(encoder.config.hidden_size, n_classes)

        def forward(self, input_ids, attention_mask):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(1) / m.sum(1).clamp_min(1e-9))

    return Classifier()


def _tokenize(tok, texts: list[str], max_length: int):
    enc = tok(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def finetune_run(corpus: Corpus, variant: str, seed: int, settings: FinetuneSettings, *, model_dir=None,
                 progress: bool = False) -> dict:
    """One fine-tuning run (module docstring); returns its record (accuracy, seconds, non-zeros)."""
    import torch

    if variant not in settings.variants:
        raise ValueError(f"variant must be one of {list(settings.variants)}, got {variant!r}")
    tok, encoder = load_minilm(model_dir)
    nnz_before = block_nonzeros(encoder)
    t0 = time.perf_counter()
    pairs = _pairs_of(variant, encoder)
    if pairs is not None:
        encoder = fpe_expand(encoder, settings.alpha, strategy=settings.strategy, seed=seed, pairs=pairs)
    expand_seconds = time.perf_counter() - t0
    nnz_expanded = block_nonzeros(encoder)
    train_texts, train_y = corpus.part("train")
    test_texts, test_y = corpus.part("test")
    rng = np.random.default_rng(seed)
    need = settings.steps * settings.batch_size
    order = np.concatenate([rng.permutation(len(train_texts)) for _ in range(-(-need // len(train_texts)))])[:need]
    ev = np.random.default_rng(0).permutation(len(test_texts))[:settings.n_eval]
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _train_eval(corpus, tok, encoder, variant, seed, settings, train_texts, train_y, test_texts, test_y,
                           need, order, ev, nnz_before, nnz_expanded, expand_seconds, progress)
    finally:
        torch.set_num_threads(threads)


def _train_eval(corpus, tok, encoder, variant, seed, settings, train_texts, train_y, test_texts, test_y, need, order,
                ev, nnz_before, nnz_expanded, expand_seconds, progress) -> dict:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # head init and dropout
        model = _classifier(encoder, len(corpus.class_names))
        # the token/position embeddings stay frozen in every variant (half the optimizer's work;
        # FPE touches only the feed-forward blocks)
        for p in encoder.embeddings.parameters():
            p.requires_grad_(False)
        head = list(model.head.parameters())
        body = [p for n, p in model.named_parameters() if not n.startswith("head.") and p.requires_grad]
        opt = torch.optim.AdamW([{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}],
                                weight_decay=settings.weight_decay)
        ids, mask = _tokenize(tok, [train_texts[i] for i in order], settings.max_length)
        y = torch.as_tensor(train_y[order])
        model.train()
        from tqdm.auto import tqdm

        t1 = time.perf_counter()
        losses = []
        for s in tqdm(range(settings.steps), desc=f"{variant} seed {seed}", disable=not progress, leave=False):
            sl = slice(s * settings.batch_size, (s + 1) * settings.batch_size)
            loss = torch.nn.functional.cross_entropy(model(ids[sl], mask[sl]), y[sl])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apply_masks_(model, opt)
            losses.append(float(loss.detach()))
        train_seconds = time.perf_counter() - t1
        model.eval()
        t2 = time.perf_counter()
        eids, emask = _tokenize(tok, [test_texts[i] for i in ev], settings.max_length)
        correct = 0
        with torch.inference_mode():
            for b in range(0, len(ev), 128):
                pred = model(eids[b:b + 128], emask[b:b + 128]).argmax(-1)
                correct += int((pred == torch.as_tensor(test_y[ev[b:b + 128]])).sum())
        eval_seconds = time.perf_counter() - t2
    return {
        "variant": variant,
        "seed": seed,
        "accuracy": correct / len(ev),
        "n_eval": int(len(ev)),
        "n_train_texts": int(need),
        "loss_first": losses[0],
        "loss_last10": float(np.mean(losses[-10:])),
        "expand_seconds": expand_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "seconds_per_step": train_seconds / settings.steps,
        "nnz_blocks_before": nnz_before,
        "nnz_blocks_expanded": nnz_expanded,
        "nnz_blocks_trained": block_nonzeros(encoder),
        "intermediate_widths": [encoder.get_submodule(a).out_features for a, _ in _ffn_pairs(encoder)],
        "settings": dataclasses.asdict(settings),
        "torch_threads": torch.get_num_threads(),
    }


def _run_dir(store, settings: FinetuneSettings) -> Path:
    return data_dir(store) / "finetune" / settings.tag()


def run_finetune(store: str | os.PathLike, settings: FinetuneSettings = FinetuneSettings(), *, model_dir=None,
                 progress: bool = False) -> list[dict]:
    """Every (seed, variant) run missing from the store, then all of them (resumable)."""
    cpath = data_dir(store) / "corpus.json"
    if not cpath.is_file():
        raise ValueError(f"store {str(store)!r} has no docstring corpus: run python -m fpe_empirical.text_embed first")
    corpus = load_corpus(cpath)
    folder = _run_dir(store, settings)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "settings.json", json.dumps(dataclasses.asdict(settings), indent=1, sort_keys=True))
    for seed in settings.seeds:
        for variant in settings.variants:
            path = folder / f"{variant}-seed{seed}.json"
            if path.is_file():
                continue
            rec = finetune_run(corpus, variant, seed, settings, model_dir=model_dir, progress=progress)
            atomic_write(path, json.dumps(rec, indent=1, sort_keys=True))
            if progress:
                print(f"{variant} seed {seed}: accuracy {rec['accuracy']:.4f}, {rec['train_seconds']:.0f} s",
                      file=sys.stderr)
    return load_runs(store, settings)


def load_runs(store: str | os.PathLike, settings: FinetuneSettings = FinetuneSettings()) -> list[dict]:
    """The finished runs of ``settings`` in the store (any subset of variants x seeds)."""
    folder = _run_dir(store, settings)
    out = []
    for v in settings.variants:
        for s in settings.seeds:
            p = folder / f"{v}-seed{s}.json"
            if p.is_file():
                out.append(json.loads(p.read_text()))
    return out


def _t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(x))
    if x.size < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * np.std(x, ddof=1) / math.sqrt(x.size))
    return m, m - h, m + h


def summarize(runs: list[dict]) -> dict:
    """Per variant: mean accuracy with a 95% t-interval over seeds, mean seconds, non-zeros;
    per FPE variant: the paired difference to dense (same seeds) with its t-interval."""
    by = {}
    for r in runs:
        by.setdefault(r["variant"], {})[r["seed"]] = r
    out = {}
    for v, rs in by.items():
        acc = np.array([rs[s]["accuracy"] for s in sorted(rs)])
        m, lo, hi = _t_interval(acc)
        first = rs[min(rs)]
        row = {"n_seeds": len(rs), "accuracy": m, "low": lo, "high": hi,
               "train_seconds": float(np.mean([r["train_seconds"] for r in rs.values()])),
               "seconds_per_step": float(np.mean([r["seconds_per_step"] for r in rs.values()])),
               "nnz_blocks_before": first["nnz_blocks_before"], "nnz_blocks_expanded": first["nnz_blocks_expanded"],
               "nnz_blocks_trained": first["nnz_blocks_trained"], "intermediate_widths": first["intermediate_widths"]}
        if v != "dense" and "dense" in by:
            common = sorted(set(rs) & set(by["dense"]))
            d = np.array([rs[s]["accuracy"] - by["dense"][s]["accuracy"] for s in common])
            dm, dlo, dhi = _t_interval(d)
            row.update(diff=dm, diff_low=dlo, diff_high=dhi, paired_seeds=len(common))
        out[v] = row
    return out


def plot_finetune(summary: dict, path: str | os.PathLike) -> Path:
    """Bar chart: accuracy per variant with its 95% interval, and non-zeros per block."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = [v for v in VARIANTS if v in summary]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, v in enumerate(variants):
        s = summary[v]
        err = [[s["accuracy"] - s["low"]], [s["high"] - s["accuracy"]]] if math.isfinite(s["low"]) else None
        a1.bar(i, 100 * s["accuracy"], yerr=None if err is None else 100 * np.array(err), capsize=4)
    a1.set_xticks(range(len(variants)), variants)
    a1.set_ylabel("test accuracy (%)")
    a1.set_title(f"MiniLM fine-tuned on docstrings ({summary[variants[0]]['n_seeds']} seeds, 95% CI)")
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        nz = summary[v]["nnz_blocks_trained"]
        a2.bar(np.arange(len(nz)) + i * width, nz, width, label=v)
    a2.set_xlabel("feed-forward block")
    a2.set_ylabel("non-zero parameters")
    a2.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


PROG = "python -m fpe_empirical.text_finetune"


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog=PROG, description="Expand MiniLM's feed-forward blocks (FPE) and fine-tune on "
                              "the docstring task against the dense model (resumable).")
    p.add_argument("--store", default="results/store")
    p.add_argument("--out", default="results/figures", help="folder for minilm_finetune.png / .json")
    p.add_argument("--model-dir", help="a local BERT-style model folder (default: all-MiniLM-L6-v2 from its wheel)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default %(default)s)")
    p.add_argument("--steps", type=int, default=FinetuneSettings.steps)
    p.add_argument("--progress", action="store_true")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    check_int("seeds", args.seeds, 1)
    settings = FinetuneSettings(seeds=tuple(range(args.seeds)), steps=args.steps)
    if args.model_dir is not None and not Path(args.model_dir).is_dir():
        raise ValueError(f"--model-dir {args.model_dir!r} is not a folder")
    runs = run_finetune(args.store, settings, model_dir=args.model_dir, progress=args.progress or sys.stderr.isatty())
    summary = summarize(runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "minilm_finetune.json", json.dumps(summary, indent=1, sort_keys=True))
    plot_finetune(summary, out / "minilm_finetune.png")
    for v, s in summary.items():
        extra = f", vs dense {100 * s['diff']:+.1f} pts [{100 * s['diff_low']:+.1f}, {100 * s['diff_high']:+.1f}]" \
            if "diff" in s else ""
        print(f"{v}: {100 * s['accuracy']:.1f}% [{100 * s['low']:.1f}, {100 * s['high']:.1f}]{extra}, "
              f"{s['train_seconds']:.0f} s/run")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: 0 done, 2 bad input or missing data/model, 130 interrupted (resume: same command)."""
    return run_main(_main, argv, prog=PROG, interrupted="interrupted: finished runs are stored; run again to resume")
