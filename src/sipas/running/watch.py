"""``sipas run --watch``: run, then run again whenever what a run reads changes, with the same warm workers.

The files are polled (their modification time and size, every 0.3 s: a few dozen files,
under a millisecond of CPU each time; why not ``watchfiles``: the README's Contributing
section), and a change is acted on once nothing has moved for one more interval, so
that a writer has finished.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from rich.console import Console

from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.running import cache
from sipas.running.batch import Workers, run
from sipas.running.summary import print_summary


def _stamps(files) -> dict[str, tuple[int, int]]:
    out = {}
    for f in files:
        with contextlib.suppress(OSError):
            st = f.stat()
            if f.is_file():
                out[str(f)] = (st.st_mtime_ns, st.st_size)
    return out


def _watched(p: Paths) -> dict[str, tuple[int, int]]:
    """What a run reads that a person edits: processed data, params, notebooks (mtime, size)."""
    return _stamps([*(p.root / "data" / "processed").glob("*/responses.parquet"), *p.params.rglob("*"),
                    *p.notebooks.glob("*.ipynb")])


def _raw(p: Paths, year: int) -> dict[str, tuple[int, int]]:
    """The field files of a year (``data/raw/<year>/``), which ``sipas validate`` reads."""
    return _stamps(sorted((p.root / "data" / "raw" / str(year)).rglob("*")))


def watch_years(years: list[int], units: list[str] | None = None, jobs: int | None = None,
                p: Paths | None = None, interval: float = 0.3, **kw) -> int:
    """``sipas run --watch``: run, then run again whenever the processed data, the params or
    a notebook changes, with the same workers (their kernels stay warm, so a corrected
    comment is rebuilt in about a second). When a field file of a year changes
    (``data/raw/<year>/``), the year's intake runs first (``sipas validate --year Y``: every
    file of the folder). Ctrl-C stops it (exit code 0, or 1 when the last run had
    failures); a change of the ``sipas`` code stops it with a message, since this process
    would keep running the old code."""
    p = p or default_paths()
    console = kw.pop("console", None) or Console(stderr=True, width=None if sys.stderr.isatty() else 110)
    jobs = max(1, jobs or os.cpu_count() or 1)
    code = cache.source_hash()
    workers = Workers(kw.get("executor", "local"), jobs, kw.get("scheduler"), str(p.notebooks),
                      str(p.outputs() / "logs"))
    failed = False
    first = True
    raw = {y: _raw(p, y) for y in years}
    try:
        while True:
            for y in years:  # corrected field files: the intake first
                now_raw = _raw(p, y)
                if now_raw != raw[y] and now_raw:
                    from sipas.intake import run_intake

                    try:
                        console.print(run_intake(y, paths=p).summary(), highlight=False, soft_wrap=True)
                    except SipasError as exc:
                        console.print(f"Lỗi / Error: {exc.render()}", highlight=False, soft_wrap=True)
                raw[y] = now_raw
            seen = _watched(p)
            try:
                report = run(years, units, jobs, p, console=console, workers=workers, **kw)
                print_summary(report, console, p, changed_only=not first)
                failed = bool(report.failed)
            except SipasError as exc:  # e.g. a data file missing while it is rewritten
                console.print(f"Lỗi / Error: {exc.render()}", highlight=False, soft_wrap=True)
                failed = True
            first = False
            workers.get(jobs)  # warm (if nothing was built) while the person edits
            console.print("Đang theo dõi / watching data/raw, data/processed, params, notebooks … "
                          "(Ctrl-C: dừng / stop)", highlight=False, soft_wrap=True)
            while True:
                time.sleep(interval)
                if cache.source_hash() != code:
                    raise SipasError("the sipas code changed while watching; this process runs the old code",
                                     hint="start `sipas run --watch` again")
                current = (_watched(p), {y: _raw(p, y) for y in years})
                if current != (seen, raw):
                    while True:  # let the writer finish: nothing moves for one interval
                        time.sleep(interval)
                        again = (_watched(p), {y: _raw(p, y) for y in years})
                        if again == current:
                            break
                        current = again
                    break
    except KeyboardInterrupt:
        console.print("Đã dừng / stopped.", highlight=False)
        return 1 if failed else 0
    finally:
        workers.close(cancel=True)
