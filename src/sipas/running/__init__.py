"""Running: the batch driver (``batch``), the dependency keys (``cache``) and the run
manifest (``manifest``), the executors (``executor``: warm local kernels or Dask
workers), kernel hygiene between annexes (``kernel_state``) and start-up shortcuts
(``fastimport``).

The last stage: may import every other stage; nothing but the CLI imports it.
"""
