"""The local pool: N worker processes on this machine, each with a warm kernel, fed from one queue.

Workers are spawned processes; each boots its kernel (:mod:`sipas.running.kernel`) and
imports papermill and nbconvert at once, then takes :class:`~sipas.running.executor.AnnexTask`
after task and sends back their :class:`~sipas.running.executor.AnnexResult`
(messages ``ready``, ``start``, ``done``). A worker that dies (killed, out of memory) is
replaced and the annex it was running retried once in a new one (then it fails, its
previous page kept: faults, issue 16); one that hangs past its task's timeout fails only
the annex it was running, and is replaced;
a worker whose driver is gone stops, and so does its kernel; Ctrl-C reaches the driver
alone, which stops the workers and their kernels.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sipas.running.executor import AnnexResult, AnnexTask, run_task, write_log
from sipas.running.kernel import kill_all_now, shutdown_kernels, warm_up


def _silence_stderr(log: str | None) -> None:
    """Send this process's stderr (fd 2 included) to ``log``: no noise on the user's terminal."""
    target = open(log, "ab", buffering=0) if log else open(os.devnull, "wb")
    os.dup2(target.fileno(), 2)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)


def _warm_worker_imports() -> None:
    """Import papermill and nbconvert and render a one-output page once (templates
    compiled): the first annex of a worker then costs what the others do."""
    try:
        import nbformat
        import papermill.iorw  # noqa: F401
        import papermill.parameterize  # noqa: F401

        from sipas.publishing.render import notebook_html

        cell = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<h2>sipas</h2><p>khởi động</p>"})])
        notebook_html(nbformat.v4.new_notebook(cells=[cell]), title="sipas")
    except Exception:  # noqa: BLE001 - imported again, with its error, by the first task
        pass


def _worker_main(wid: int, cwd: str, tasks, results, log: str | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides; Ctrl-C reaches it alone
    from sipas.running.fastimport import skip_slow_optional_imports

    skip_slow_optional_imports()
    _silence_stderr(log)
    import warnings

    warnings.simplefilter("ignore")
    parent = os.getppid()

    def on_term(*_):
        kill_all_now()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    # the HTML exporter and papermill are imported while the kernel boots (another process),
    # once the kernel's process is started: before, they would delay its start
    warm = threading.Thread(target=_warm_worker_imports, daemon=True)
    state = warm_up(cwd, on_launch=warm.start)
    if warm.ident is None:  # the kernel did not start (the first task retries and reports)
        warm.start()
    results.put(("ready", wid, state))
    warm.join()
    # what is loaded now (libraries, templates) lives as long as the worker: collect the
    # warm-up's garbage, then leave the rest out of every later collection
    gc.collect()
    gc.freeze()
    while True:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the driver is gone
                break
            continue
        if task is None:
            break
        results.put(("start", wid, task.id))
        results.put(("done", wid, run_task(task)))
    shutdown_kernels()
    # every result is flushed to the driver; skip the interpreter's slow tear-down of the
    # loaded libraries (a third of a second the driver would wait for at every run)
    results.close()
    results.join_thread()
    sys.stderr.flush()
    os._exit(0)


class LocalPool:
    """N worker processes, each with a warm kernel, fed from one queue."""

    def __init__(self, jobs: int, cwd: str, log_dir: str | None = None):
        self.jobs = max(1, jobs)
        self.cwd = cwd
        self.log_dir = log_dir
        self.ctx = mp.get_context("spawn")
        self.tasks = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.procs: dict[int, mp.Process] = {}
        self.current: dict[int, str] = {}
        self._next = 0

    def start(self) -> LocalPool:
        for _ in range(self.jobs):
            self._spawn()
        return self

    def _spawn(self) -> None:
        wid = self._next
        self._next += 1
        log = os.path.join(self.log_dir, f"worker-{wid}.log") if self.log_dir else None
        if log:
            os.makedirs(self.log_dir, exist_ok=True)
            Path(log).write_bytes(b"")
        p = self.ctx.Process(target=_worker_main, args=(wid, self.cwd, self.tasks, self.results, log),
                             name=f"sipas-worker-{wid}", daemon=True)
        p.start()
        self.procs[wid] = p

    def run(self, tasks: list[AnnexTask], on_start: Callable[[str], None] | None = None) -> Iterator[AnnexResult]:
        """Run ``tasks``; yield results as they complete (a dead worker's task is retried once)."""
        by_id = {t.id: t for t in tasks}
        pending = set(by_id)
        for t in tasks:
            self.tasks.put(t)
        started_at: dict[str, float] = {}
        retried: set[str] = set()
        last_event = time.monotonic()
        while pending:
            try:
                kind, wid, payload = self.results.get(timeout=0.5)
                last_event = time.monotonic()
            except queue.Empty:
                kind = None
                # a worker killed right after taking a task may not have said so: when every
                # worker is idle, nothing is queued and nothing is heard for a while, the
                # remaining tasks are lost; report them instead of waiting for ever
                if not self.current and self.tasks.empty() and time.monotonic() - last_event > 60:
                    for tid in sorted(pending):
                        t = by_id[tid]
                        res = AnnexResult(t.year, t.name, False, 0.0, error="lost: its worker process died")
                        write_log(t, res, "")
                        yield res
                    pending.clear()
                    break
            if kind == "start":
                self.current[wid] = payload
                started_at[payload] = time.monotonic()
                if on_start:
                    on_start(payload)
            elif kind == "done":
                self.current.pop(wid, None)
                pending.discard(payload.id)
                yield payload
            # dead or hung workers: fail their task, replace them
            for wid, p in list(self.procs.items()):
                tid = self.current.get(wid)
                hung = tid is not None and time.monotonic() - started_at.get(tid, time.monotonic()) > \
                    by_id[tid].timeout + 120
                if p.is_alive() and not hung:
                    continue
                if hung:
                    p.kill()
                    p.join(5)
                del self.procs[wid]
                self.current.pop(wid, None)
                if tid in pending and not hung and tid not in retried:
                    retried.add(tid)  # faults (issue 16): killed (out of memory?): once more, in a new worker
                    self.tasks.put(by_id[tid])
                elif tid in pending:
                    pending.discard(tid)
                    t = by_id[tid]
                    why = "hung past its timeout" if hung else f"exit code {p.exitcode}, twice"
                    res = AnnexResult(t.year, t.name, False, time.monotonic() - started_at.get(tid, time.monotonic()),
                                      error=f"worker process died ({why}); the previous page, if any, is kept",
                                      kept_previous=True)
                    write_log(t, res, "")
                    yield res
                if pending:
                    self._spawn()
            if pending and not self.procs:
                self._spawn()

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (after their current task; at once with ``cancel``)."""
        if cancel:
            for p in self.procs.values():
                if p.is_alive():
                    p.terminate()
        for _ in self.procs:
            self.tasks.put(None)
        # idle workers stop their kernels and exit at once; the driver waits a little, then
        # terminates the rest (SIGTERM: a worker kills its kernel before it exits)
        deadline = time.monotonic() + 3
        for p in self.procs.values():
            p.join(max(0.05, deadline - time.monotonic()))
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
                p.join(5)
            if p.is_alive():
                p.kill()
        self.procs.clear()
        for q in (self.tasks, self.results):
            q.cancel_join_thread()
            q.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.close(cancel=exc_type is not None)
