"""Running: the annexes of a year (``plan``), the steps declared as data and their
ledger (``steps``: decide, record, report), the steps of a year (``year``) and across
years (``site_steps``), the one runner (``batch``) and ``--watch`` (``watch``), the
dependency keys (``cache``) and the run manifest (``manifest``), the summary
(``summary``), one annex on a worker (``executor``) in a warm kernel (``kernel``;
hygiene between annexes: ``kernel_state``), the pools (``local_pool``, ``dask_pool``),
and start-up shortcuts (``fastimport``).

The last stage: may import every other stage; nothing but the CLI imports it.
"""
