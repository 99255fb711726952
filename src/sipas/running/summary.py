"""What a run reports: one :class:`Outcome` per step, the run summary table and the progress bar."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sipas.base.config import Paths
from sipas.running.plan import PROVINCE_TASK


@dataclass
class Outcome:
    """One line of the summary: a step of a year, whether it was rebuilt and why."""

    year: int
    step: str  # the kind of step: "tables", "annex", "pdf", "workbook", "docx", "index", "trends", "site"
    name: str
    ok: bool
    rebuilt: bool
    reason: str = ""
    seconds: float = 0.0
    error: str = ""
    status: str = ""  # ok / failed / unavailable

    def __post_init__(self):
        self.status = self.status or ("ok" if self.ok else "failed")


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # faults (issue 16): e.g. Dask workers refused

    def add_notes(self, pool) -> None:
        """The notes of the pool that ran the annexes (what it worked around), once each."""
        self.notes += [n for n in getattr(pool, "notes", []) if n not in self.notes]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def of(self, step: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.step == step]


def progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("còn / left"), TimeRemainingColumn(),
                    TextColumn("{task.fields[last]}"), console=console, transient=False)


def summary_table(report: RunReport, changed_only: bool = False) -> Table:
    """Every step of the run: status, seconds, whether it was rebuilt and why (or its error);
    ``changed_only``: the steps rebuilt or failed only."""
    table = Table(title="Kết quả chạy / Run summary", title_justify="left")
    for col, just in (("năm", "left"), ("phụ lục / step", "left"), ("trạng thái", "left"),
                      ("giây", "right"), ("dựng lại", "left"), ("lý do / lỗi (why / error)", "left")):
        table.add_column(col, justify=just, overflow="fold")
    order = {"tables": 0, "annex": 1, "pdf": 2, "workbook": 3, "docx": 3, "docx-pdf": 3, "index": 4, "trends": 5,
             "site": 6}
    rows = sorted((o for o in report.outcomes if o.rebuilt or not o.ok or not changed_only),
                  key=lambda o: (o.year, order.get(o.step, 9), o.name != PROVINCE_TASK, o.name))
    for o in rows:
        label = o.name if o.step == "annex" else (f"pdf {o.name}" if o.step == "pdf" else o.step)
        status = {"ok": "ok", "failed": "LỖI / FAILED", "unavailable": "UNAVAILABLE"}.get(o.status, o.status)
        rebuilt = "có / yes" if o.rebuilt else "không / no"
        why = o.error.splitlines()[0] if o.error else (o.reason if o.rebuilt else "up to date")
        table.add_row(str(o.year), label, status, f"{o.seconds:.2f}" if o.rebuilt else "–", rebuilt, why)
    return table


def print_notes(report: RunReport, console: Console) -> None:
    for note in report.notes:  # faults (issue 16): what the run worked around (refused workers)
        console.print(f"[yellow]NOTE[/yellow] {note}", highlight=False, soft_wrap=True)


def print_summary(report: RunReport, console: Console, p: Paths, changed_only: bool = False) -> None:
    if report.outcomes and not (changed_only and not any(o.rebuilt or not o.ok for o in report.outcomes)):
        console.print(summary_table(report, changed_only))
    for o in report.failed:
        what = o.name if o.step == "annex" else f"{o.step} {o.name}"
        tag = "UNAVAILABLE" if o.status == "unavailable" else "FAILED"
        console.print(f"[red]{tag}[/red] {o.year} {what}: {o.error}", highlight=False, soft_wrap=True)
        if o.step == "annex":
            console.print(f"  log: {p.outputs(o.year) / 'logs' / (o.name + '.log')}", highlight=False, soft_wrap=True)
    print_notes(report, console)
    annexes = report.of("annex")
    failed = [o for o in annexes if not o.ok]
    rebuilt = sum(o.rebuilt for o in report.outcomes)
    fresh = sum(1 for o in report.outcomes if not o.rebuilt and o.ok)
    console.print(f"{len(annexes) - len(failed)} annexes written, {len(failed)} failed; "
                  f"{rebuilt} steps rebuilt, {fresh} up to date; {report.seconds:.1f} s.",
                  highlight=False, soft_wrap=True)
