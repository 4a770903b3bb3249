"""Cost of FPE inside all-MiniLM-L6-v2: one fine-tuning step (forward + backward + AdamW +
``apply_masks_``) of the dense model vs the model with all 6 / the last 2 feed-forward blocks
expanded (alpha 2, random, same non-zero count), timed side by side in one process,
round-robin, median of ``--repeats`` rounds; plus an embedding forward (texts/s) for the
extraction. Ratios are step time / dense step time. The masked layers run as dense matrices
(``weight * mask``), so an expanded block costs what its wide dense shape costs.

    .venv/bin/python benchmarks/bench_minilm.py                   # 16 texts x 16 tokens, 1 thread
    .venv/bin/python benchmarks/bench_minilm.py --batch 32 --tokens 32 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    import torch

    from fpe_empirical.data.minilm import embed_texts, load_minilm
    from fpe_empirical.experiments.text_finetune import _classifier, _ffn_pairs
    from fpe_empirical.nn.expand import fpe_expand
    from fpe_empirical.nn.models import apply_masks_

    torch.set_num_threads(args.threads)
    tok, enc = load_minilm()
    pairs = _ffn_pairs(enc)
    models = {}
    for name, pp in (("dense", None), ("fpe-all", pairs), ("fpe-last2", pairs[-2:])):
        e = enc if pp is None else fpe_expand(enc, 2, seed=0, pairs=pp)
        m = _classifier(e, 78)
        models[name] = (m, torch.optim.AdamW([q for q in m.parameters() if q.requires_grad], lr=1e-4))
    text = "Compute the arithmetic mean along the specified axis of the array and return it."
    x = tok([text] * args.batch, padding="max_length", truncation=True, max_length=args.tokens, return_tensors="pt")
    y = torch.zeros(args.batch, dtype=torch.long)

    def step(name):
        m, opt = models[name]
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(m(x["input_ids"], x["attention_mask"]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        apply_masks_(m, opt)
        return time.perf_counter() - t

    times = {n: [] for n in models}
    for n in models:
        step(n)  # warm-up
    for _ in range(args.repeats):
        for n in models:
            times[n].append(step(n))
    base = statistics.median(times["dense"])
    print(f"load average {os.getloadavg()[0]:.1f}; torch threads {args.threads}; batch {args.batch} x {args.tokens} tokens")
    for n, ts in times.items():
        med = statistics.median(ts)
        print(f"{n:10s} step {med:.3f} s  ratio {med / base:.2f}")
    texts = [text * 4] * 64
    t = time.perf_counter()
    embed_texts(texts, tok, enc, max_length=128, batch_size=64)
    dt = time.perf_counter() - t
    print(f"embedding forward: 64 texts x 128 tokens in {dt:.2f} s ({64 / dt:.1f} texts/s)")


if __name__ == "__main__":
    main()
