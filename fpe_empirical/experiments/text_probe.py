"""Saturation check of an embedding task before any FPE result is looked at.

``probe_accuracies(path)``: test accuracy of a linear probe (softmax regression) and of the
toolkit's one-hidden-layer MLP at widths ``hidden``, all trained alike (Adam, ``epochs``
epochs, batch 128, lr 1e-3, one seed; the MLPs with the trainer of every vision experiment).
A task *saturates* (like scikit-learn digits, ~96% by hidden 8) when a narrow MLP is already
within a few points of the linear probe and of the widest MLP: then FPE's gains at small widths,
the paper's Section 3.3 question, cannot show. The docstring task was kept because hidden 2
and 8 are far below hidden 64 (README, "MiniLM docstrings").

    python -m fpe_empirical.experiments.text_probe results/store/data/minilm-docstrings/embeddings.safetensors
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import numpy as np

from ..data.embeddings import load_embeddings
from ..nn.models import MLP
from ..training.settings import TrainSettings
from ..training.trainer import train

__all__ = ["probe_accuracies"]


def probe_accuracies(path, *, hidden: Sequence[int] = (2, 8, 64), epochs: int = 100, seed: int = 0) -> dict:
    """``{"linear": acc, "mlp": {width: acc}}`` on the embedding file ``path`` (test split)."""
    import torch

    d = load_embeddings(path)
    Xtr, ytr, Xte, yte = (np.asarray(a) for a in (d.X_train, d.y_train, d.X_test, d.y_test))
    X, y = torch.as_tensor(Xtr, dtype=torch.float32), torch.as_tensor(ytr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lin = torch.nn.Linear(X.shape[1], int(d.n_classes))
        opt = torch.optim.Adam(lin.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=gen).split(128):
                loss = torch.nn.functional.cross_entropy(lin(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        linear = float((lin(torch.as_tensor(Xte, dtype=torch.float32)).argmax(-1) == torch.as_tensor(yte)).double().mean())
    out = {"linear": linear, "mlp": {}, "n_classes": int(d.n_classes),
           "n_train": int(len(ytr)), "n_test": int(len(yte)), "epochs": epochs, "seed": seed}
    for h in hidden:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MLP(X.shape[1], int(h), int(d.n_classes))
        train(model, X, y, TrainSettings(epochs=epochs, batch_size=128, lr=1e-3), seed=seed)
        out["mlp"][int(h)] = model.accuracy(torch.as_tensor(Xte, dtype=torch.float32), torch.as_tensor(yte))
    return out


if __name__ == "__main__":  # pragma: no cover - a one-off check, recorded in the README
    print(json.dumps(probe_accuracies(sys.argv[1]), indent=1))
