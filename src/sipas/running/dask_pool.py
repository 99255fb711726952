"""The Dask pool: the same annex tasks on a Dask distributed cluster (an existing one, or a LocalCluster).

Every Dask worker thread keeps its own warm kernel between tasks; with an existing
cluster the kernels stay warm from one ``sipas run`` to the next (a kernel whose worker
has other ``sipas`` code refuses the task: restart the workers after an update).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from sipas.running.executor import AnnexResult, AnnexTask, run_task, write_log
from sipas.running.kernel import shutdown_kernels, warm_up


class DaskPool:
    """``jobs`` workers of one thread each (a LocalCluster), or the cluster at ``scheduler``."""

    def __init__(self, jobs: int, scheduler: str | None = None, cwd: str | None = None):
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.cwd = cwd
        self.client = None
        self.cluster = None

    def start(self) -> DaskPool:
        import logging

        from distributed import Client, LocalCluster

        for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
                     "distributed.core", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.ERROR)
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="30s")
        else:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        if self.cwd:  # boot a kernel in every worker while the driver computes keys
            workers = list(self.client.scheduler_info().get("workers", {}))
            self._warm = [self.client.submit(warm_up, self.cwd, workers=[w], allow_other_workers=False,
                                             pure=False, key=f"sipas-warm-{i}-{time.time_ns()}")
                          for i, w in enumerate(workers)]
        return self

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def run(self, tasks: list[AnnexTask], on_start=None) -> Iterator[AnnexResult]:
        from distributed import as_completed

        futures = {self.client.submit(run_task, t, pure=False, key=f"sipas-annex-{t.year}-{t.name}-{os.getpid()}-{time.time_ns()}"): t
                   for t in tasks}
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (KilledWorker) or similar
                res = AnnexResult(t.year, t.name, False, 0.0, error=f"Dask: {type(exc).__name__}: {exc}")
                write_log(t, res, "")
            yield res

    def close(self, cancel: bool = False) -> None:
        try:
            if self.cluster is not None and not cancel:
                self.client.run(shutdown_kernels)
        except Exception:  # noqa: BLE001
            pass
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
