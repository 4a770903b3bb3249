"""fpe_empirical: train dense and Fixed-Parameter-Expansion networks, measure interference.

Subpackages, in the order data flows (each imports only the ones before it):

- ``data``: DNF data sets, embedding files, raw image readers, CLIP extraction;
- ``nn``: masked layers and MLPs, ``fpe_expand`` and its split-strategy registry, metrics;
- ``training``: one training loop shared by the reference trainer, rewiring and the
  batched ensemble; ``sparse``: compact inference; ``results``: the result store;
- ``experiments``: experiment kinds (one registry), the staged pipeline they share;
- ``sweeps``: the profile catalogue, grids, running what a store lacks (Dask).

Public names are imported lazily (PEP 562), so ``import fpe_empirical`` is cheap and each
submodule loads torch, numba or dask only when used. The module paths from before the
subpackages (``fpe_empirical.train``, ``.expand``, ``.sweep``, ...) still work.
"""

from __future__ import annotations

from fpe_common.lazy import lazy_exports

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    # models
    "MaskedLinear": "nn.models",
    "MLP": "nn.models",
    "count_nonzero": "nn.models",
    "apply_masks_": "nn.models",
    # data
    "make_dnf_dataset": "data.dnf",
    "DNFDataset": "data.dnf",
    "load_embeddings": "data.embeddings",
    "EmbeddingData": "data.embeddings",
    "load_digits_data": "data.embeddings",
    # expansion
    "fpe_expand": "nn.expand",
    "register_strategy": "nn.strategies",
    # metrics
    "gram_matrix": "nn.metrics",
    "feature_capacity": "nn.metrics",
    "mean_cosine_similarity": "nn.metrics",
    "relative_improvement": "nn.metrics",
    # training (``train`` is the old module path, callable as the function: see train.py)
    "train": "train",
    "TrainSettings": "training.settings",
    "rewire_": "training.rewire",
    # experiments
    "DNFExperiment": "experiments.dnf",
    "EmbeddingExperiment": "experiments.embedding",
    "run": "experiments.runner",
    "run_many": "experiments.runner",
    # result store and sweeps
    "load_results": "results.store",
    "ResultStore": "results.store",
    # sparse inference
    "to_sparse": "sparse",
    "SparseMLP": "sparse",
    "TorchSparseMLP": "sparse",
    # theory vs trained networks
    "measure_coverage": "nn.coverage",
    "split_support": "nn.coverage",
    "CoverageExperiment": "experiments.coverage",
    # config keys
    "config_key": "results.keys",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
