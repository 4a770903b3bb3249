"""Saturation check of an embedding task before any FPE result is looked at.

``probe_accuracies(path)``: test accuracy of a linear probe (multinomial logistic regression,
scikit-learn, L2 ``C=1``) and of the toolkit's one-hidden-layer MLP at widths ``hidden``
(Adam, ``epochs`` epochs, batch 128, lr 1e-3; the trainer of every vision experiment), one seed.
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
    from sklearn.linear_model import LogisticRegression

    d = load_embeddings(path)
    Xtr, ytr, Xte, yte = (np.asarray(a) for a in (d.X_train, d.y_train, d.X_test, d.y_test))
    lin = LogisticRegression(C=1.0, max_iter=2000).fit(Xtr, ytr)
    out = {"linear": float(lin.score(Xte, yte)), "mlp": {}, "n_classes": int(d.n_classes),
           "n_train": int(len(ytr)), "n_test": int(len(yte)), "epochs": epochs, "seed": seed}
    X, y = torch.as_tensor(Xtr, dtype=torch.float32), torch.as_tensor(ytr)
    for h in hidden:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MLP(X.shape[1], int(h), int(d.n_classes))
        train(model, X, y, TrainSettings(epochs=epochs, batch_size=128, lr=1e-3), seed=seed)
        out["mlp"][int(h)] = model.accuracy(torch.as_tensor(Xte, dtype=torch.float32), torch.as_tensor(yte))
    return out


if __name__ == "__main__":  # pragma: no cover - a one-off check, recorded in the README
    print(json.dumps(probe_accuracies(sys.argv[1]), indent=1))
