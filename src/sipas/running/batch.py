"""Run years' reports: the one runner that decides, builds, records and reports every step.

The steps (:mod:`sipas.running.steps`: declared as data, each with its inputs, outputs,
key and builder) of each year (:class:`sipas.running.year.YearJob`) and across years
(:mod:`sipas.running.site_steps`), layer by layer:

1. ``tables``       the tidy result tables (``outputs/<year>/tables/``);
2. ``annex:<name>`` one per unit and the province report: the notebook executed in a warm
                    kernel (:mod:`sipas.running.executor`), ``notebooks/<name>.ipynb`` and the HTML
                    page (``units/<unit-id>.html``, ``province.html``); ``pdf:<name>`` its PDF
                    (``--formats pdf``); both built by the workers (:mod:`sipas.running.local_pool`,
                    or :mod:`sipas.running.dask_pool` with ``--executor dask``) while the driver
                    writes ``workbook`` (``--formats xlsx``) and ``docx`` / ``docx-pdf``
                    (``--formats docx``);
3. ``index``        ``outputs/<year>/index.html``, the year's front door;
4. ``trends``       (two or more years) ``outputs/trends.html`` (on the workers too), and
   ``site``         ``outputs/index.html``.

A step whose key is unchanged and whose files are still there (same bytes) is not
rebuilt; ``--force`` rebuilds everything. Every file is written under a temporary name
and renamed, and the manifest (``outputs/<year>/manifest.json``; ``outputs/manifest.json``
for the steps across years) is rewritten after each finished step, so a run stopped at
any moment leaves no half-written file and the next run does only the rest. A failing
annex never stops the others: its error (cell, exception, message) is in the summary and
in ``outputs/<year>/logs/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

from rich.console import Console

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.running import cache
from sipas.running.manifest import now
from sipas.running.plan import DEFAULT_TIMEOUT, FORMATS, Annex, plan
from sipas.running.site_steps import build_site
from sipas.running.summary import Outcome, RunReport, print_summary, progress
from sipas.running.year import YearJob


def clean_temporaries(folder) -> None:
    """Remove what an interrupted run may have left: ``.<name>.tmp-*`` files (never read)."""
    if folder.is_dir():
        for tmp in folder.rglob(".*.tmp-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def year_lock(folder):
    """One ``sipas run`` at a time per year's outputs (a second one gets a clear error)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / ".sipas-run.lock", "w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SipasError("another `sipas run` is writing this year's outputs", file=folder,
                             hint="wait for it to finish, then run again") from None
        yield
    finally:
        fh.close()


class Workers:
    """The worker pool of a run, started when first needed. A run owns it and stops it at
    its end; ``sipas run --watch`` keeps one across its runs, so the kernels stay warm."""

    def __init__(self, executor: str, jobs: int, scheduler: str | None, cwd: str, log_dir: str):
        if executor not in ("local", "dask"):
            raise SipasError(f"unknown executor '{executor}'", hint="use --executor local or --executor dask")
        self.executor, self.jobs, self.scheduler, self.cwd, self.log_dir = executor, jobs, scheduler, cwd, log_dir
        self.pool = None

    def get(self, tasks: int):
        """The pool (started with ``min(jobs, tasks)`` workers if it is not running yet)."""
        if self.pool is None:
            n = max(1, min(self.jobs, tasks))
            if self.executor == "dask":
                from sipas.running.dask_pool import DaskPool

                self.pool = DaskPool(n, self.scheduler, self.cwd).start()
            else:
                from sipas.running.local_pool import LocalPool

                self.pool = LocalPool(n, self.cwd, self.log_dir).start()
        return self.pool

    def close(self, cancel: bool = False) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close(cancel=cancel)


def run(years: list[int], units: list[str] | None = None, jobs: int | None = None, p: Paths | None = None,
        formats: tuple[str, ...] | list[str] = ("html",), force: bool = False, executor: str = "local",
        scheduler: str | None = None, timeout: float = DEFAULT_TIMEOUT, console: Console | None = None,
        workers: Workers | None = None) -> RunReport:
    """Build what is stale for ``years`` (see the module doc); returns every step's outcome.
    ``workers``: a pool kept by the caller across runs (``--watch``); by default the run
    starts its own and stops it at the end."""
    started, t_start = now(), time.perf_counter()
    p = p or default_paths()
    console = console or Console(stderr=True)
    formats = tuple(f for f in FORMATS if f in set(formats) | {"html"})
    years = sorted(set(years))  # earlier years first: a year's narrative reads the previous one's tables
    cfgs = {y: YearConfig(y, p) for y in years}
    annexes = {y: plan(cfgs[y], units) for y in years}
    code, libs = cache.source_hash(), cache.versions()
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = RunReport()
    own = workers is None
    with contextlib.ExitStack() as stack:
        for y in years:
            stack.enter_context(year_lock(p.outputs(y)))
            clean_temporaries(p.outputs(y))
        jobs_ = {y: YearJob(cfgs[y], annexes[y], formats, force, code, libs, timeout) for y in years}
        if own:
            workers = Workers(executor, jobs, scheduler, str(p.notebooks), str(p.outputs() / "logs"))
        n_annexes = sum(len(a) for a in annexes.values())
        try:
            # start the workers now (their kernels boot while the keys and the tables are
            # computed) when something probably has to be built
            if any(j.probably_stale() for j in jobs_.values()) or any(j.tables_reason() for j in jobs_.values()):
                workers.get(n_annexes)
            # on a Dask worker with this code; a lost scheduler stops the run clearly (faults, issue 16)
            submit = workers.pool.call if executor == "dask" and workers.pool is not None else None
            for j in jobs_.values():  # layer 1
                report.outcomes.append(j.build_tables(submit))
            ready = [j for j in jobs_.values() if j.tables_ok]
            todo: list[tuple[YearJob, Annex, tuple, str]] = []
            for j in ready:
                build, fresh = j.todo("pdf" in formats)
                report.outcomes += fresh
                todo += [(j, a, steps, why) for a, steps, why in build]
            # layer 2: the workbooks and Word documents are written by the driver while the workers run
            side = Side(([j.workbook for j in ready] if "xlsx" in formats else [])
                         + ([j.official for j in ready] if "docx" in formats else []))
            if todo:
                # the front door will probably change (new tables, or never built): the driver
                # imports what it needs (1 s of CPU) while the workers run; not otherwise, as
                # that CPU would slow down the booting kernels
                if any(o.step == "tables" and o.rebuilt for o in report.outcomes) or any(
                        (j.manifest.get("index") or {}).get("status") != "ok" for j in jobs_.values()):
                    threading.Thread(target=_preimport_site, daemon=True).start()
                _execute(workers.get(len(todo)), todo, report, console)
            elif own:  # nothing to build after all: do not wait for the kernels to boot
                workers.close(cancel=True)
            report.outcomes += side.join()
            report.outcomes += [j.index() for j in ready]  # layer 3
            if ready:  # layer 4
                report.outcomes += build_site(p, years, code, libs, force,
                                              trends=len(years) >= 2 and len(ready) == len(years),
                                              run=lambda task: list(workers.get(1).run([task]))[0])
        except BaseException:
            workers.close(cancel=True)
            raise
        finally:
            if own:
                workers.close()
            report.seconds = time.perf_counter() - t_start
            meta = {"started": started, "finished": now(), "seconds": round(report.seconds, 3),
                    "executor": executor, "scheduler": scheduler or "", "jobs": jobs, "formats": list(formats),
                    "force": force, "units": sorted(units) if units else "all",
                    "rebuilt": sum(o.rebuilt for o in report.outcomes),
                    "failed": sum(not o.ok for o in report.outcomes)}
            for y, j in jobs_.items():
                j.finish({**meta, "rebuilt": sum(o.rebuilt for o in report.outcomes if o.year == y),
                          "failed": sum(not o.ok for o in report.outcomes if o.year == y)})
    return report


def _preimport_site() -> None:
    try:
        import sipas.publishing.site  # noqa: F401
    except Exception:  # noqa: BLE001 - imported again, with its error, when used
        pass


class Side:
    """Run callables in a background thread of the driver (the workbooks, the Word documents)."""

    def __init__(self, fns):
        self.results: list[Outcome] = []

        def work():
            for f in fns:
                r = f()
                self.results.extend(r if isinstance(r, list) else [r])

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def join(self) -> list[Outcome]:
        self.thread.join()
        return self.results


def _execute(pool, todo, report: RunReport, console: Console) -> None:
    """The annex and PDF steps, on the workers; each recorded in its year's manifest as it comes back."""
    by_id = {f"{j.year}/{a.name}": (j, a, steps, why) for j, a, steps, why in todo}
    tasks = [j.task(a, steps) for j, a, steps, why in todo]
    with progress(console) as bar:
        tid = bar.add_task("phụ lục / annexes", total=len(tasks), last="")
        for res in pool.run(tasks):
            j, a, steps, why = by_id[res.id]
            report.outcomes += j.record(a, steps, why, res)
            state = "ok" if res.ok else ("LỖI" if "html" in steps and "html" not in res.outputs else "pdf?")
            bar.update(tid, advance=1, last=f"{res.id} {state} {res.seconds:.1f}s")
    report.add_notes(pool)  # faults (issue 16)


def run_years(years: list[int], units: list[str] | None = None, jobs: int | None = None,
              p: Paths | None = None, **kw) -> list[Outcome]:
    """Run several years; print the summary; return what failed (or was not produced)."""
    p = p or default_paths()
    console = kw.pop("console", None) or Console(stderr=True, width=None if sys.stderr.isatty() else 110)
    report = run(years, units, jobs, p, console=console, **kw)
    print_summary(report, console, p)
    return report.failed
