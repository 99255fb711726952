"""Run a year's report: tables, then every notebook through papermill, then HTML.

One task per annex (each unit, plus the province report). Tasks run in parallel
worker processes; a task that fails does not stop the others: the run ends with a
summary naming every failed annex and its error, and a non-zero exit.

Output names are stable: ``outputs/<year>/units/<unit-id>.html``,
``outputs/<year>/province.html``, executed notebooks under
``outputs/<year>/notebooks/``, and ``outputs/<year>/index.html`` linking them.
"""

from __future__ import annotations

import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .codebook import YearConfig
from .config import Paths, paths as default_paths
from .errors import SipasError
from .tables import write_tables

UNIT_NOTEBOOK = "unit_annex.ipynb"
PROVINCE_NOTEBOOK = "province_report.ipynb"
PROVINCE_TASK = "province"


@dataclass(frozen=True)
class Task:
    year: int
    name: str  # unit id, or "province"
    title: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path


@dataclass
class Result:
    task: Task
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class YearRun:
    year: int
    results: list[Result] = field(default_factory=list)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]


def plan(cfg: YearConfig, units: list[str] | None = None) -> list[Task]:
    """The annex tasks of a year (province report first, then units in registry order)."""
    p = cfg.paths
    known = [u.id for u in cfg.units]
    wanted = units or known
    unknown = [u for u in wanted if u not in known and u != PROVINCE_TASK]
    if unknown:
        raise SipasError(f"unknown unit id(s) for {cfg.year}: {', '.join(unknown)}",
                         file=p.params / "units" / f"{cfg.year}.yaml",
                         hint=f"known ids: {', '.join(known)}")
    out = p.outputs(cfg.year)
    root = str(p.root)
    tasks = [Task(cfg.year, PROVINCE_TASK, f"Báo cáo toàn tỉnh {cfg.settings.province} năm {cfg.year}",
                  p.notebooks / PROVINCE_NOTEBOOK, {"year": cfg.year, "root": root},
                  out / "province.html", out / "notebooks" / "province.ipynb")]
    for u in cfg.units:
        if u.id in wanted:
            tasks.append(Task(cfg.year, u.id, f"{u.name} — năm {cfg.year}", p.notebooks / UNIT_NOTEBOOK,
                              {"year": cfg.year, "unit_id": u.id, "root": root},
                              out / "units" / f"{u.id}.html", out / "notebooks" / f"{u.id}.ipynb"))
    return tasks


def _error_text(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    if isinstance(exc, SipasError):
        return exc.render()
    return f"{type(exc).__name__}: {exc}"


def execute(task: Task, province: str) -> Result:
    """Execute one notebook with papermill and render its HTML. Never raises."""
    import papermill as pm

    from .io import atomic_path
    from .render import write_notebook_html

    start = time.perf_counter()
    try:
        with atomic_path(task.executed) as tmp:
            pm.execute_notebook(str(task.notebook), str(tmp), parameters=task.parameters,
                                kernel_name="python3", progress_bar=False, log_output=False,
                                cwd=str(task.notebook.parent))
        nav = [("Trang chủ năm " + str(task.year), "../index.html" if task.name != PROVINCE_TASK else "index.html")]
        write_notebook_html(task.executed, task.html, title=task.title,
                            kicker=f"Tỉnh {province} · Khảo sát sự hài lòng năm {task.year}",
                            footer="Tạo tự động bởi sipas từ dữ liệu khảo sát; số liệu tái lập được.",
                            nav=nav)
        return Result(task, True, time.perf_counter() - start)
    except Exception as exc:  # one failing annex must not stop the others
        detail = _error_text(exc)
        if os.environ.get("SIPAS_DEBUG"):
            detail += "\n" + traceback.format_exc()
        return Result(task, False, time.perf_counter() - start, detail)


def run_year(year: int, units: list[str] | None = None, jobs: int | None = None,
             p: Paths | None = None, console: Console | None = None) -> YearRun:
    from .site import write_index, write_site_index

    p = p or default_paths()
    console = console or Console(stderr=True)
    cfg = YearConfig(year, p)
    tasks = plan(cfg, units)
    write_tables(year, p)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    run = YearRun(year)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[last]}"), console=console,
                  transient=False) as bar:
        tid = bar.add_task(f"{year}: phụ lục", total=len(tasks), last="")
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(execute, t, cfg.settings.province) for t in tasks]
            for fut in as_completed(futures):
                res = fut.result()
                run.results.append(res)
                bar.update(tid, advance=1, last=f"{res.task.name} {'ok' if res.ok else 'LỖI'} {res.seconds:.1f}s")
    order = {t.name: i for i, t in enumerate(tasks)}
    run.results.sort(key=lambda r: order[r.task.name])
    write_index(cfg, [r.task for r in run.results if r.ok])
    write_site_index(p)
    return run


def summary_table(runs: list[YearRun]) -> Table:
    table = Table(title="Kết quả chạy / Run summary")
    for col in ("năm", "phụ lục", "trạng thái", "giây", "lỗi"):
        table.add_column(col)
    for run in runs:
        for r in run.results:
            table.add_row(str(run.year), r.task.name, "ok" if r.ok else "LỖI / FAILED",
                          f"{r.seconds:.1f}", r.error.splitlines()[0] if r.error else "")
    return table


def run_years(years: list[int], units: list[str] | None = None, jobs: int | None = None,
              p: Paths | None = None) -> list[Result]:
    """Run several years; print the summary; return the failed annexes."""
    console = Console(stderr=True)
    runs = [run_year(y, units, jobs, p, console) for y in years]
    console.print(summary_table(runs))
    failed = [r for run in runs for r in run.failed]
    for r in failed:
        console.print(f"[red]FAILED[/red] {r.task.year} {r.task.name}: {r.error}")
    ok = sum(len(run.results) for run in runs) - len(failed)
    console.print(f"{ok} annexes written, {len(failed)} failed.")
    return failed
