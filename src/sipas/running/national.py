"""``sipas run --provinces DIR --year Y``: every province project under ``DIR`` as one batch.

``DIR`` holds one project per province (``DIR/<province-id>/{params, notebooks, data}``,
as ``sipas demo-data --national`` writes under ``data/national/<year>/``). One run:

1. **intake** of every province whose field files (``data/raw/<year>/``), params or code
   changed since its last intake (key in ``data/processed/<year>/intake-key.json``), then
   the **tables** of every province (:class:`sipas.running.year.YearJob`, the same keys
   and manifest as ``sipas run`` in that project), several provinces at once: in
   ``--jobs`` processes beside the booting workers, or on the Dask cluster;
2. every stale **annex of every province** as one pool of tasks (the workers never wait
   for a province to finish), one progress bar; the workbooks / Word documents (with
   ``--formats``) while they run; then each province's front door;
3. the **national front door** ``DIR/index.html`` with its tables and workbook
   (:mod:`sipas.publishing.national`), keyed in ``DIR/manifest.json``.

One summary (a line per province, then every failure) and one exit code. A province
whose intake or tables fail is reported and left out; the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.running import cache
from sipas.running.batch import Side, Workers, clean_temporaries, year_lock
from sipas.running.faults import SchedulerLost
from sipas.running.manifest import Manifest, now
from sipas.running.plan import DEFAULT_TIMEOUT, FORMATS, PROVINCE_TASK, plan
from sipas.running.site_steps import build_site
from sipas.running.steps import Ledger, Step
from sipas.running.summary import Outcome, RunReport, print_notes, progress
from sipas.running.year import YearJob

INTAKE_KEY = "intake-key.json"


def province_roots(folder: Path, only: list[str] | None = None) -> dict[str, Path]:
    """The province projects under ``folder`` (sub-folders with ``params/settings.yaml``), by id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SipasError("folder of provinces not found", file=folder,
                         hint="write one with `sipas demo-data --national --year Y` (data/national/<year>/)")
    found = {d.name: d.resolve() for d in sorted(folder.iterdir()) if (d / "params" / "settings.yaml").is_file()}
    if not found:
        raise SipasError("no province project in this folder (no <id>/params/settings.yaml)", file=folder,
                         hint="point --provinces at the folder that holds one project folder per province")
    if only:
        unknown = [x for x in only if x not in found]
        if unknown:
            raise SipasError(f"unknown province id(s): {', '.join(unknown)}", file=folder,
                             hint=f"known: {', '.join(found)}")
        found = {k: v for k, v in found.items() if k in only}
    return found


# --------------------------------------------------------------------------- intake


def _intake_inputs(p: Paths, year: int, code: str) -> dict | None:
    raw = p.raw(year)
    files = sorted(f for f in raw.rglob("*") if f.is_file() and not f.name.startswith((".", "_"))) \
        if raw.is_dir() else []
    if not files:
        return None  # no field files: the processed data is used as it is
    return {"raw": cache.json_hash({f.relative_to(raw).as_posix(): cache.file_sha(f) for f in files}),
            "params": cache.json_hash({f.relative_to(p.params).as_posix(): cache.file_sha(f)
                                       for f in sorted(p.params.rglob("*.yaml"))}), "code": code}


def intake_reason(p: Paths, year: int, code: str, force: bool) -> str | None:
    """Why the province's intake must run, or None (up to date, or no field files)."""
    inputs = _intake_inputs(p, year, code)
    if inputs is None:
        return None
    key_file = p.processed(year) / INTAKE_KEY
    if force:
        return "forced (--force)"
    if not p.responses(year).is_file() or not key_file.is_file():
        return "new (no previous intake)"
    if key_file.read_text(encoding="utf-8").strip() != cache.key_of(inputs):
        return "field files, params or code changed"
    return None


def intake_step(year: int, root: str, code: str) -> str:
    """Run a province's intake (on the driver's helper process or a Dask worker); returns its summary."""
    from sipas.base.io import write_text
    from sipas.intake import run_intake

    p = default_paths(root)
    result = run_intake(year, paths=p)
    write_text(p.processed(year) / INTAKE_KEY, cache.key_of(_intake_inputs(p, year, code)) + "\n")
    return result.summary().splitlines()[0]


# ------------------------------------------------------------------------ helpers


class _Helpers:
    """Intake and tables of many provinces at once: on the Dask cluster, or in ``jobs``
    processes of the driver (spawned only when two or more steps are due)."""

    def __init__(self, jobs: int, workers: Workers, executor: str):
        self.jobs, self.workers, self.executor = jobs, workers, executor
        self.procs = None

    def map(self, fn, items: list, many: bool):
        """``fn(item, submit)`` for every item, ``jobs`` at a time; results in order."""
        submit = None
        if self.executor == "dask":
            submit = self.workers.get(self.jobs).call  # a lost scheduler stops the run (faults, issue 16)
        elif many and self.jobs > 1:
            if self.procs is None:
                import multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor

                self.procs = ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"))

            def submit(f, *args):
                return self.procs.submit(f, *args).result()
        with ThreadPoolExecutor(self.jobs if submit else 1) as threads:
            return list(threads.map(lambda it: fn(it, submit), items))

    def close(self) -> None:
        if self.procs is not None:
            self.procs.shutdown(wait=True, cancel_futures=True)
            self.procs = None


# ----------------------------------------------------------------------------- run


class NationalReport(RunReport):
    """Every step of every province (``provinces[id]``: that province's outcomes)."""

    def __init__(self):
        super().__init__()
        self.provinces: dict[str, RunReport] = {}
        self.national: Outcome | None = None

    def add(self, pid: str, outs) -> None:
        outs = outs if isinstance(outs, list) else [outs]
        self.provinces.setdefault(pid, RunReport()).outcomes.extend(outs)
        self.outcomes.extend(outs)


def _province_job(root: Path, year: int, formats, force, code, libs, timeout) -> YearJob:
    cfg = YearConfig(year, default_paths(root))
    return YearJob(cfg, plan(cfg, None), formats, force, code, libs, timeout)


def run_national(folder: str | os.PathLike, year: int, provinces: list[str] | None = None, jobs: int | None = None,
                 formats=("html",), force: bool = False, executor: str = "local", scheduler: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, console: Console | None = None,
                 p: Paths | None = None) -> NationalReport:
    """Build what is stale for every province under ``folder`` and the national front
    door (module doc); ``p``: the running project (its settings rank the provinces)."""
    t_start, started = time.perf_counter(), now()
    folder = Path(folder).resolve()
    p = p or default_paths()
    console = console or Console(stderr=True)
    formats = tuple(f for f in FORMATS if f in set(formats) | {"html"})
    roots = province_roots(folder, provinces)
    jobs = max(1, jobs or os.cpu_count() or 1)
    code, libs = cache.source_hash(), cache.versions()
    report = NationalReport()
    first_nb = next(iter(roots.values())) / "notebooks"
    workers = Workers(executor, jobs, scheduler, str(first_nb), str(folder / "logs"))
    helpers = _Helpers(jobs, workers, executor)
    jobs_: dict[str, YearJob] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(year_lock(folder))
        for root in roots.values():
            stack.enter_context(year_lock(default_paths(root).outputs(year)))
            clean_temporaries(default_paths(root).outputs(year))
        try:
            # 1. intake where the field files changed, then every province's keys and tables
            due = {pid: r for pid in roots if (r := intake_reason(default_paths(roots[pid]), year, code, force))}
            if due:
                console.print(f"Nhập dữ liệu / intake: {len(due)} tỉnh ({', '.join(due)})", highlight=False)

            def intake(pid, submit):
                t0 = time.perf_counter()
                try:
                    args = (year, str(roots[pid]), code)
                    text = submit(intake_step, *args) if submit else intake_step(*args)
                    return Outcome(year, "intake", pid, True, True, due[pid], time.perf_counter() - t0, "", "ok"), text
                except SchedulerLost:  # faults (issue 16): no province can go on
                    raise
                except Exception as exc:  # noqa: BLE001 - this province is reported, the others go on
                    why = exc.render() if isinstance(exc, SipasError) else f"{type(exc).__name__}: {exc}"
                    return Outcome(year, "intake", pid, False, True, due[pid], time.perf_counter() - t0, why), ""
            for pid, (out, text) in zip(due, helpers.map(intake, list(due), len(due) > 1)):
                report.add(pid, out)
                if text:
                    console.print(f"  {pid}: {text}", highlight=False, soft_wrap=True)
            ready: dict[str, YearJob] = {}
            for pid, root in roots.items():
                if any(not o.ok for o in report.provinces.get(pid, RunReport()).outcomes):
                    continue
                try:
                    ready[pid] = _province_job(root, year, formats, force, code, libs, timeout)
                except SipasError as exc:
                    report.add(pid, Outcome(year, "tables", pid, False, False, "", 0.0, exc.render()))
            # a guess from file hashes (the microdata are not read yet): start the workers now
            # (their kernels boot during the tables) and use helper processes for the tables
            guess = [pid for pid, j in ready.items() if j.probably_stale()]
            if guess:
                workers.get(sum(len(j.annexes) for j in ready.values()))
            def tables(pid, submit):
                """The province's tables, then its annexes' keys at once (the driver holds
                the microdata of ``jobs`` provinces at a time, not of all of them)."""
                j = ready[pid]
                try:
                    out = j.build_tables(submit)
                except SchedulerLost:
                    raise
                except SipasError as exc:
                    return Outcome(year, "tables", pid, False, True, "", 0.0, exc.render()), ([], [])
                return out, (j.todo("pdf" in formats) if j.tables_ok else ([], []))
            todo = []
            for pid, (out, (build, fresh)) in zip(ready, helpers.map(tables, list(ready), len(guess) > 1)):
                report.add(pid, [out, *fresh])
                todo += [(pid, ready[pid], a, steps, why) for a, steps, why in build]
            helpers.close()
            todo.sort(key=lambda t: t[2].name != PROVINCE_TASK)  # the longer province reports first, no long tail
            jobs_.update((pid, j) for pid, j in ready.items() if j.tables_ok)

            # 2. every annex of every province, one pool
            side_fns = [(pid, f) for pid, j in jobs_.items() for f in
                        ([j.workbook] if "xlsx" in formats else []) + ([j.official] if "docx" in formats else [])]
            side = Side([_tagged(pid, f) for pid, f in side_fns]) if side_fns else None
            if todo:
                _execute(workers.get(len(todo)), todo, report, console)
            workers.close(cancel=not todo)
            if side:
                for pid, o in side.join():
                    report.add(pid, o)
            for pid, j in jobs_.items():  # each province's front doors: its year's, its site's
                report.add(pid, [j.index(), *build_site(j.p, [year], code, libs, force, trends=False)])
            # 3. the national front door: every province of the folder with current tables
            # (those left out by --province with their last build), none whose tables failed now
            failed = {pid for pid, r in report.provinces.items() if any(not o.ok and o.step in ("intake", "tables")
                                                                       for o in r.outcomes)}
            listed = {pid: r for pid, r in province_roots(folder).items()
                      if pid not in failed and (r / "outputs" / str(year) / "tables" / "indices.parquet").is_file()}
            if listed:
                report.national = national_step(folder, year, listed, p, code, force)
                report.outcomes.append(report.national)
        except BaseException:
            workers.close(cancel=True)
            raise
        finally:
            helpers.close()
            workers.close()
            report.seconds = time.perf_counter() - t_start
            meta = {"started": started, "finished": now(), "seconds": round(report.seconds, 3),
                    "executor": executor, "scheduler": scheduler or "", "jobs": jobs, "formats": list(formats),
                    "force": force, "units": "all", "national": str(folder)}
            for pid, j in jobs_.items():
                mine = report.provinces.get(pid, RunReport()).outcomes
                j.finish({**meta, "rebuilt": sum(o.rebuilt for o in mine), "failed": sum(not o.ok for o in mine)})
    return report


def _tagged(pid, fn):
    def call():
        r = fn()
        return [(pid, o) for o in (r if isinstance(r, list) else [r])]
    return call


def _execute(pool, todo, report: NationalReport, console: Console) -> None:
    """One pool for the annexes of every province; a task's name is ``<province>/<unit>``."""
    tasks, where = [], {}
    for pid, j, a, steps, why in todo:
        t = dataclasses.replace(j.task(a, steps), name=f"{pid}/{a.name}")
        tasks.append(t)
        where[t.id] = (pid, j, a, steps, why)
    with progress(console) as bar:
        tid = bar.add_task("phụ lục / annexes", total=len(tasks), last="")
        for res in pool.run(tasks):
            pid, j, a, steps, why = where[res.id]
            report.add(pid, j.record(a, steps, why, res))
            bar.update(tid, advance=1, last=f"{res.name} {'ok' if res.ok else 'LỖI'} {res.seconds:.1f}s")
    report.add_notes(pool)  # faults (issue 16): e.g. the Dask workers refused


def national_step(folder: Path, year: int, roots: dict[str, Path], p: Paths, code: str, force: bool) -> Outcome:
    """``DIR/index.html``, its tables and workbook; rebuilt when a province's tables,
    front door, the running project's settings or the code changed."""
    from sipas.base.codebook import load_settings
    from sipas.publishing.official.settings import load_official

    settings, threshold = load_settings(p), load_official(p).threshold
    inputs = {"code": code, "settings": cache.json_hash(settings.model_dump(mode="json")), "threshold": threshold,
              "provinces": cache.json_hash({pid: [cache.tables_hash(default_paths(r), year),
                                                  (r / "outputs" / str(year) / "index.html").is_file()]
                                            for pid, r in sorted(roots.items())})}

    def build():
        from sipas.publishing.national import write_national

        return write_national(folder, year, list(roots.items()), settings, threshold)

    ledger = Ledger(Manifest.load(folder / "manifest.json", year), folder, year, force)
    return ledger.build(Step("national", "national", "index", inputs, build, {"year": year, "provinces": sorted(roots)}))


# -------------------------------------------------------------------------- summary


def _state(r: RunReport, step: str) -> str:
    o = r.of(step)
    return "–" if not o else ("LỖI" if not o[0].ok else ("dựng lại" if o[0].rebuilt else "up to date"))


def print_national(report: NationalReport, console: Console, folder: Path) -> None:
    """A line per province (intake, tables, annexes written / rebuilt / failed, front door),
    then every failure with its log, then the totals."""
    table = Table(title="Kết quả chạy toàn quốc / National run summary", title_justify="left")
    for col in ("tỉnh / province", "nhập / intake", "bảng / tables", "phụ lục / annexes", "dựng lại / rebuilt",
                "lỗi / failed", "trang chủ / index"):
        table.add_column(col, overflow="fold")
    for pid, r in sorted(report.provinces.items()):
        ann = r.of("annex")
        table.add_row(pid, _state(r, "intake"), _state(r, "tables"), str(sum(o.ok for o in ann)),
                      str(sum(o.rebuilt for o in r.outcomes)), str(sum(not o.ok for o in r.outcomes)),
                      _state(r, "index"))
    console.print(table)
    for pid, r in sorted(report.provinces.items()):
        for o in r.failed:
            what = f"{o.step} {o.name}" if o.step in ("annex", "pdf") else o.step
            console.print(f"[red]FAILED[/red] {pid} {o.year} {what}: {o.error}", highlight=False, soft_wrap=True)
            if o.step == "annex":
                log = folder / pid / "outputs" / str(o.year) / "logs" / f"{o.name}.log"
                console.print(f"  log: {log}", highlight=False, soft_wrap=True)
    print_notes(report, console)
    nat = report.national
    if nat is not None:
        what = "LỖI / FAILED: " + nat.error if not nat.ok else ("dựng lại / rebuilt" if nat.rebuilt else "up to date")
        console.print(f"national front door {folder / 'index.html'}: {what}", highlight=False, soft_wrap=True)
    annexes = report.of("annex")
    failed = [o for o in annexes if not o.ok]
    console.print(f"{len(report.provinces)} provinces; {len(annexes) - len(failed)} annexes written, "
                  f"{len(failed)} failed; {sum(o.rebuilt for o in report.outcomes)} steps rebuilt, "
                  f"{sum(1 for o in report.outcomes if o.ok and not o.rebuilt)} up to date; {report.seconds:.1f} s.",
                  highlight=False, soft_wrap=True)


def run_provinces(folder: str, year: int, provinces: list[str] | None = None, **kw) -> list[Outcome]:
    """``sipas run --provinces``: run, print the summary, return what failed."""
    console = kw.pop("console", None) or Console(stderr=True, width=None if sys.stderr.isatty() else 110)
    report = run_national(folder, year, provinces, console=console, **kw)
    print_national(report, console, Path(folder).resolve())
    return report.failed
