"""Training: one loop, three trainers.

- ``settings``: ``TrainSettings`` (one phase's hyper-parameters), ``TrainHistory``, the
  optimizer and the L1 term every trainer uses;
- ``loop``: the training loop (data order, batches, step count, epoch losses) every trainer
  runs, and the autograd step of one model;
- ``trainer``: ``train``, the plain single-model reference, and ``train_each``;
- ``stacked`` / ``ensemble``: many small MLPs as one stacked computation with one fused Adam
  (``train_ensemble``), bit-identical per member whatever it is stacked with;
- ``wide`` / ``wide_simd``: one-hidden-layer binary models that see the same batches (a
  DNF run's strategies, every width of one data set and seed) trained as ONE wide layer,
  one Numba call per epoch with an explicit-SIMD GEMM tile (``train_wide``), bit-identical
  per model whatever family, chunk, thread or worker it lands in;
- ``rewire``: dynamic rewiring (``rewire_``, ``train_rewiring``: the reference loop with a
  rewire after every ``every`` steps);
- ``backends``: ``train_many(..., backend="loop" | "ensemble" | "auto" | "wide")``, the
  trainer a caller picks by name.
"""
