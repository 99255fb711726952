"""The steps across years, recorded in ``outputs/manifest.json`` (paths relative to ``outputs/``):

* ``trends``  the trends annex of the run's years (two or more): the trends table
              (``tables/trends.*``), then ``notebooks/trends.ipynb`` executed and rendered
              by :func:`sipas.running.executor.run_task`, like every annex, into ``trends.html``;
* ``site``    the site's front door ``outputs/index.html`` (one row per year).

Both are :class:`~sipas.running.steps.Step` decided, built and recorded by a
:class:`~sipas.running.steps.Ledger`, as the steps of a year are. Runs of different
years share these files: the site's steps take ``outputs/.sipas-site.lock`` in turn.
"""

from __future__ import annotations

import contextlib
import fcntl

from sipas.base.config import Paths
from sipas.running import cache
from sipas.running.executor import AnnexResult, AnnexTask, run_task
from sipas.running.faults import SchedulerLost
from sipas.running.manifest import Manifest
from sipas.running.steps import Ledger, Step
from sipas.running.summary import Outcome


@contextlib.contextmanager
def site_ledger(p: Paths, year: int, force: bool):
    """The ledger of ``outputs/manifest.json`` (outcomes shown under ``year``), under the site's lock."""
    base = p.outputs()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".sipas-site.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield Ledger(Manifest.load(base / "manifest.json", None), base, year, force)


def _in_process(task: AnnexTask) -> AnnexResult:
    from sipas.running.kernel import shutdown_kernels

    try:
        return run_task(task)
    finally:
        shutdown_kernels()


def _params_hash(p: Paths) -> str:
    return cache.json_hash({f.relative_to(p.params).as_posix(): cache.file_sha(f) for f in sorted(p.params.rglob("*.yaml"))})


def trends_step(p: Paths, years: list[int], code: str, libs: dict, run=None) -> Step:
    """The trends annex: rebuilt when a year's tables, the trends notebook, the params,
    the code or the libraries changed. ``run(task)`` builds its :class:`AnnexTask` (the
    run's workers); by default :func:`run_task` in this process, in a kernel stopped after."""
    from sipas.publishing import trends

    inputs = {"years": cache.json_hash(years), "tables": cache.json_hash({str(y): cache.tables_hash(p, y) for y in years}),
              "notebook": cache.file_sha(p.notebooks / "trends.ipynb"), "code": code,
              "libraries": cache.json_hash(libs), "params": _params_hash(p)}

    def build():
        tables = trends.write_trends_table(years, paths=p)
        page = trends.trends_spec(years, p)
        page["executed"].parent.mkdir(parents=True, exist_ok=True)
        task = AnnexTask(year=max(years), name="trends", notebook=str(page["notebook"]),
                         parameters=page["parameters"], html=str(page["html"]), executed=str(page["executed"]),
                         log=str(p.outputs() / "notebooks" / "trends.log"), title=page["title"],
                         kicker=page["kicker"], footer=page["footer"], nav=page["nav"], code_hash=code)
        res = run(task) if run else _in_process(task)
        if not res.ok:
            raise RuntimeError(res.error)
        return [*tables, page["html"], page["executed"]]

    parameters = {k: v for k, v in trends.trends_spec(years, p)["parameters"].items() if k != "root"}
    return Step("trends", "trends", "trends", inputs, build, parameters, fatal=SchedulerLost)  # faults (issue 16)


def front_door_step(p: Paths, code: str, libs: dict) -> Step:
    """``outputs/index.html``: it shows each year's headline figures and links the
    documents present; rebuilt when one of them, the trends page, or the code changed."""
    base = p.outputs()
    years = sorted(int(d.name) for d in base.iterdir() if d.name.isdigit() and (d / "index.html").is_file())
    shown = {str(y): {"tables": cache.tables_hash(p, y),
                      "documents": sorted(f.relative_to(base / str(y)).as_posix() for f in (base / str(y)).iterdir()
                                          if f.is_file() and not f.name.startswith("."))} for y in years}

    def build():
        from sipas.publishing.site import write_site_index

        return [write_site_index(p)]

    inputs = {"code": code, "libraries": cache.json_hash(libs), "params": _params_hash(p),
              "years": cache.json_hash(shown), "trends": cache.maybe_file_sha(base / "trends.html")}
    return Step("site", "site", "site", inputs, build)


def build_site(p: Paths, years: list[int], code: str, libs: dict, force: bool, trends: bool,
               run=None) -> list[Outcome]:
    """The trends annex (when ``trends``; ``run``: see :func:`trends_step`) and the site's front door."""
    with site_ledger(p, max(years), force) as ledger:
        out = [ledger.build(trends_step(p, years, code, libs, run))] if trends else []
        out.append(ledger.build(front_door_step(p, code, libs)))
    return out
