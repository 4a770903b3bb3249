"""Sweeps: what to run, for which profile, and running what a result store lacks.

- ``catalogue``: the profile catalogue, the only source of per-profile numbers;
- ``targets``: the configs every figure, table and claim needs (``configs(target,
  profile)``); ``vision_grids``: the vision grid builders (Figures 5-6, Tables A3-A5, A.7);
- ``grids``: named grids (``dnf-paper``, ``smoke``, ``emb-*``) and grid files;
- ``chunks`` / ``sweep`` / ``dask_backend``: ``run_sweep`` and ``python -m fpe_empirical.sweep``
  (resumable, batched, in-process or on Dask);
- ``profiles``: the API ``paper_figures`` and ``validation`` use (``configs``, ``ensure``,
  ``case_study_models``).
"""
