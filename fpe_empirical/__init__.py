"""fpe_empirical: train dense and Fixed-Parameter-Expansion networks, measure interference.

Public names are imported lazily (PEP 562), so ``import fpe_empirical`` is cheap and each
submodule loads torch, numba or dask only when used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    # models (models.py)
    "MaskedLinear": "models",
    "MLP": "models",
    "count_nonzero": "models",
    "apply_masks_": "models",
    # data (dnf.py, embeddings.py)
    "make_dnf_dataset": "dnf",
    "DNFDataset": "dnf",
    "load_embeddings": "embeddings",
    "EmbeddingData": "embeddings",
    "load_digits_data": "embeddings",
    # expansion (expand.py)
    "fpe_expand": "expand",
    # metrics (metrics.py)
    "gram_matrix": "metrics",
    "feature_capacity": "metrics",
    "mean_cosine_similarity": "metrics",
    "relative_improvement": "metrics",
    # training (train.py, ensemble.py, rewire.py)
    "train": "train",
    "TrainSettings": "train",
    "rewire_": "rewire",
    # experiments (dnf_experiment.py, embedding_experiment.py, runner.py)
    "DNFExperiment": "dnf_experiment",
    "EmbeddingExperiment": "embedding_experiment",
    "run": "runner",
    "run_many": "runner",
    # result store and sweeps (store.py)
    "load_results": "store",
    "ResultStore": "store",
    # sparse inference (sparse.py)
    "to_sparse": "sparse",
    "SparseMLP": "sparse",
    "TorchSparseMLP": "sparse",
    # theory vs trained networks (coverage.py)
    "measure_coverage": "coverage",
    "split_support": "coverage",
    "CoverageExperiment": "coverage",
    # config keys (config.py)
    "config_key": "config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fpe_empirical' has no attribute {name!r}")
    mod = importlib.import_module(f"{__name__}.{module}")
    # ``train`` names a submodule too: hand out the (callable) module, so that
    # ``import fpe_empirical.train as t`` still finds ``t.TrainSettings`` after
    # ``fpe_empirical.train`` was looked up (caching the function used to shadow the module)
    value = mod if module == name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
