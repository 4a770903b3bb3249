"""Compact sparse inference for (FPE-expanded) MLPs: ``to_sparse(model) -> SparseMLP``.

- ``layers``: the stored form of a layer (``SparseLayer``: ELL, CSR, dense, or grouped FPE
  blocks, ``grouped``: recognised from the partition ``fpe_expand(..., n_partitions=G)``
  stores, run as dense slices over shared input rows or as torch GEMMs);
- ``cpu``: ``to_sparse`` and ``SparseMLP``, run by the Numba ``kernels`` (layout transforms
  in ``blocked``);
- ``io``: the file format (safetensors + a JSON header; ``SparseMLP.save`` / ``.load``);
- ``cuda``: ``TorchSparseMLP`` (``SparseMLP.to_torch``), 2:4 layers on sparse tensor cores.
"""

from .cpu import SparseMLP, to_sparse
from .cuda import TorchSparseMLP, is_two_four
from .io import FORMAT_NAME, FORMAT_VERSION
from .layers import ELL_MAX_PADDING, SparseLayer

__all__ = ["to_sparse", "SparseMLP", "SparseLayer", "TorchSparseMLP", "is_two_four", "ELL_MAX_PADDING",
           "FORMAT_NAME", "FORMAT_VERSION"]
