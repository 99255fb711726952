"""The Dask pool: the same annex tasks on a Dask distributed cluster (an existing one, or a LocalCluster).

Every Dask worker thread keeps its own warm kernel between tasks; with an existing
cluster the kernels stay warm from one ``sipas run`` to the next. Only the workers that
run the driver's ``sipas`` code get tasks (restart the others after an update); a lost
scheduler stops the run with a clear message (faults, issue 16).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

from sipas.running.executor import AnnexResult, AnnexTask, run_task, worker_code_hash, write_log
from sipas.running.kernel import shutdown_kernels, warm_up


class DaskPool:
    """``jobs`` workers of one thread each (a LocalCluster), or the cluster at ``scheduler``.

    Faults (issue 16, :mod:`sipas.running.faults`): a worker whose ``sipas`` code differs
    from the driver's gets no task (``notes`` says so); a worker lost mid-run has its tasks
    rescheduled by Dask; a lost scheduler stops the run with
    :class:`~sipas.running.faults.SchedulerLost`.
    """

    GRACE = 30.0  # seconds the run waits for a worker with the right code to (re)appear

    def __init__(self, jobs: int, scheduler: str | None = None, cwd: str | None = None):
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.cwd = cwd
        self.client = None
        self.cluster = None
        self.good: list[str] | None = None  # None: any worker (a LocalCluster)
        self.notes: list[str] = []

    def start(self) -> DaskPool:
        import logging

        from distributed import Client, LocalCluster

        for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
                     "distributed.core", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)  # reconnection tracebacks
        if self.scheduler:
            self.client = _connect(self.scheduler)
        else:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        if self.scheduler:  # a LocalCluster runs this very code: any of its workers will do
            self._check_workers(patient=False)
        if self.cwd:  # boot a kernel in every worker while the driver computes keys
            workers = self.good or list(self.client.scheduler_info(n_workers=-1).get("workers", {}))
            self._warm = [self.client.submit(warm_up, self.cwd, workers=[w], allow_other_workers=False,
                                             pure=False, key=f"sipas-warm-{i}-{time.time_ns()}")
                          for i, w in enumerate(workers)]
        return self

    def _check_workers(self, patient: bool) -> None:
        """faults (issue 16): only the workers running the driver's code get tasks. Waits up
        to :attr:`GRACE` seconds for a worker to join; when the workers there all run other
        code, fails at once (``patient``: waits for a good one, as a restarted worker may be)."""
        from sipas.running.faults import check_workers, no_good_workers

        deadline = time.monotonic() + self.GRACE
        while True:
            if not self.client.scheduler_info(n_workers=-1).get("workers"):
                with _suppress():
                    self.client.wait_for_workers(1, timeout=max(1.0, deadline - time.monotonic()))
            good, refused = check_workers(self.client, worker_code_hash())
            self.notes = list(refused.values())  # what the summary says of the workers left out
            if good:
                self.good = good
                return
            if (refused and not patient) or time.monotonic() >= deadline:
                raise no_good_workers(self.scheduler, refused)
            time.sleep(1.0)

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False, workers=self.good, allow_other_workers=False)

    def call(self, fn, *args):
        """``fn(*args)`` on a worker, waited for (the tables step); a lost scheduler stops the run."""
        from sipas.running.faults import is_connection_loss, scheduler_lost

        try:
            return self.submit(fn, *args).result()
        except (Exception, asyncio.CancelledError) as exc:
            if is_connection_loss(exc):
                raise scheduler_lost(self.scheduler, 0, 0) from None
            raise

    def _submit_task(self, t: AnnexTask):
        return self.client.submit(run_task, t, pure=False, workers=self.good, allow_other_workers=False,
                                  key=f"sipas-annex-{t.year}-{t.name}-{os.getpid()}-{time.time_ns()}")

    def run(self, tasks: list[AnnexTask], on_start=None) -> Iterator[AnnexResult]:
        from distributed import wait

        from sipas.running.faults import is_connection_loss, scheduler_lost

        if self.scheduler and self.good is not None:  # a standing pool (--watch): workers may have come or gone
            self._check_workers(patient=False)
        futures = {self._submit_task(t): t for t in tasks}
        done_count = 0
        while futures:
            try:
                try:
                    done, _ = wait(list(futures), timeout=2.0, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                if not done:
                    self._requeue_if_no_good_worker(futures)
                    continue
            except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001
                if is_connection_loss(exc):
                    raise scheduler_lost(self.scheduler, done_count, len(tasks)) from None
                raise
            for fut in sorted(done, key=lambda f: str(f.key)):
                t = futures.pop(fut)
                try:
                    res = fut.result()
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler
                    if is_connection_loss(exc):
                        raise scheduler_lost(self.scheduler, done_count, len(tasks)) from None
                    res = AnnexResult(t.year, t.name, False, 0.0, error=f"Dask: {type(exc).__name__}: {exc}")
                    write_log(t, res, "")
                done_count += 1
                yield res

    def _requeue_if_no_good_worker(self, futures: dict) -> None:
        """faults (issue 16): the tasks are tied to the workers with the right code; when
        all of those are gone, tie the pending tasks to the good workers that joined since
        (or stop with a clear error after :attr:`GRACE` seconds without one)."""
        alive = set(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        if self.good is None or alive & set(self.good):
            return
        self._check_workers(patient=True)
        for fut in list(futures):
            t = futures.pop(fut)
            fut.cancel()
            futures[self._submit_task(t)] = t

    def close(self, cancel: bool = False) -> None:
        try:
            if self.cluster is not None and not cancel:
                self.client.run(shutdown_kernels)
        except Exception:  # noqa: BLE001
            pass
        if self.client is not None:
            with _suppress():
                self.client.close(timeout=5)
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _suppress():
    import contextlib

    return contextlib.suppress(Exception)


def _connect(address: str):
    """A client of the scheduler at ``address``, or a clear error when it cannot be reached."""
    from distributed import Client

    from sipas.base.errors import SipasError

    try:
        return Client(address, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise SipasError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__})",
                         hint="start it (`dask scheduler`) or check --scheduler") from None
