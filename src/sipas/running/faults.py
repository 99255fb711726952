"""Faults a run survives (issue 16), and the one test hook that provokes one.

* A kernel that dies during an annex (killed, out of memory) is replaced and the annex
  retried once (:class:`sipas.running.executor._Attempt`); when it dies again the annex
  is reported failed and its previous page is kept.
* A Dask worker lost mid-run: Dask reschedules its tasks on the other workers.
* The Dask scheduler lost mid-run: :class:`SchedulerLost`, a message and a non-zero exit;
  what finished is recorded, the next run builds the rest.
* A Dask worker that runs another version of the ``sipas`` code (its source hash, the one
  the manifest records, differs from the driver's) gets no task: :func:`check_workers`,
  and the summary says so.

The test hook: with ``SIPAS_TEST_KILL_KERNEL=<year>/<name>=<folder>`` in a worker's
environment, the kernel running that annex is killed (SIGKILL, as the out-of-memory
killer does) just after a cell was sent to it, once per file in ``<folder>`` (each firing
deletes one); ``SIPAS_TEST_KILL_WORKER`` (same value) kills the worker process instead. Without the variable, or with an empty folder, nothing happens; the
tests set it on the processes they start, nothing else does.
"""

from __future__ import annotations

import os
import signal

from sipas.base.errors import SipasError

KILL_ENV = "SIPAS_TEST_KILL_KERNEL"
KILL_WORKER_ENV = "SIPAS_TEST_KILL_WORKER"  # the same, but the worker process running the annex dies


def _take_token(folder: str) -> bool:
    """Delete one file of ``folder``; False when there is none left (several processes may race)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return False
    for name in names:
        try:
            os.remove(os.path.join(folder, name))
            return True
        except OSError:
            continue
    return False


def arm_kill_hook(client, kernel, task_id: str) -> None:
    """Tests only: kill ``kernel`` (or, with ``SIPAS_TEST_KILL_WORKER``, this worker
    process) during the execution of ``task_id`` (see the module doc)."""
    victim = None
    for env, who in ((KILL_ENV, "kernel"), (KILL_WORKER_ENV, "worker")):
        target, _, folder = os.environ.get(env, "").partition("=")
        if target and target == task_id and folder:
            victim = who
            break
    if victim is None:
        return
    sent = []

    def on_cell_complete(cell, cell_index, **_):  # nbclient: the cell's request has been sent
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
            return
        sent.append(cell_index)
        if len(sent) == 2 and kernel.pid and _take_token(folder):
            os.kill(kernel.pid if victim == "kernel" else os.getpid(), signal.SIGKILL)

    client.on_cell_complete = on_cell_complete


# ---------------------------------------------------------------------------- dask


class SchedulerLost(SipasError):
    """The connection to the Dask scheduler was lost during the run."""

    exit_code = 3


def scheduler_lost(address: str | None, done: int, total: int) -> SchedulerLost:
    where = f" at {address}" if address else ""
    progress = (f": {done} of {total} annexes were finished and recorded in the manifest, {total - done} "
                "were not built (their previous pages, if any, are untouched)") if total else ""
    return SchedulerLost(
        f"the Dask scheduler{where} was lost during the run{progress}",
        hint="start the scheduler and the workers again, then run the same command: "
             "it builds only what is missing")


def is_connection_loss(exc: BaseException) -> bool:
    """Whether ``exc`` (from a future or a client call) means the scheduler is gone: its
    futures are cancelled for ``scheduler-connection-lost``, or the connection is closed."""
    import asyncio
    import concurrent.futures

    from distributed.comm.core import CommClosedError

    if isinstance(exc, (CommClosedError, ConnectionError)):
        return True
    return (isinstance(exc, (asyncio.CancelledError, concurrent.futures.CancelledError))
            and "connection-lost" in str(getattr(exc, "reason", exc)))


def check_workers(client, code: str) -> tuple[list[str], dict[str, str]]:
    """(addresses of the workers that run the driver's ``sipas`` code, {address: message}
    for the others). A worker that cannot answer counts as another version."""
    from sipas.running.executor import worker_code_hash

    workers = sorted(client.scheduler_info(n_workers=-1).get("workers", {}))
    if not workers:
        return [], {}
    hashes = client.run(worker_code_hash, workers=workers, on_error="return")
    good, bad = [], {}
    for w in workers:
        h = hashes.get(w)
        if isinstance(h, str) and h == code:
            good.append(w)
        else:
            seen = h[:12] if isinstance(h, str) else f"no answer ({type(h).__name__})"
            bad[w] = (f"Dask worker {w} runs another version of the sipas code (source {seen}, "
                      f"this run's {code[:12]}): it was given no task; restart it after updating the code")
    return good, bad


def no_good_workers(address: str | None, bad: dict[str, str]) -> SipasError:
    what = "; ".join(bad.values()) if bad else "the scheduler has no worker"
    return SipasError(f"no Dask worker{f' of {address}' if address else ''} can run this run's annexes: {what}",
                      hint="start workers from this checkout (`dask worker SCHEDULER --nthreads 1`), "
                           "or restart them after updating the code")
