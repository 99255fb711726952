"""Run a year's report: tables, then every annex notebook, then the front doors.

The steps of a year, each an *artefact* with a key (:mod:`sipas.running.cache`) recorded in
``outputs/<year>/manifest.json`` (:mod:`sipas.running.manifest`):

1. ``tables``       the tidy result tables (``outputs/<year>/tables/``);
2. ``annex:<name>`` one per unit and the province report: the notebook executed in a warm
                    kernel (:mod:`sipas.running.executor`), ``notebooks/<name>.ipynb`` and the HTML
                    page (``units/<unit-id>.html``, ``province.html``);
3. ``pdf:<name>``   the PDF of each page (``--formats pdf``, :func:`sipas.publishing.pdf.render_pdf`);
4. ``workbook``     the Excel workbook of the year (``--formats xlsx``,
                    :func:`sipas.publishing.excel.write_workbook`);
5. ``index``        ``outputs/<year>/index.html`` (and the site's ``outputs/index.html``).

A run of two or more years also builds the trends annex ``outputs/trends.html``
(:func:`trends_step`, :mod:`sipas.publishing.trends`) with its key in ``outputs/notebooks/trends.key``.

A step whose key is unchanged and whose files are still there (same bytes) is not
rebuilt; ``--force`` rebuilds everything. Every file is written under a temporary name
and renamed, and the manifest is rewritten after each finished step, so a run stopped at
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
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.running import cache
from sipas.running.executor import AnnexResult, AnnexTask
from sipas.running.manifest import Manifest, now

UNIT_NOTEBOOK = "unit_annex.ipynb"
PROVINCE_NOTEBOOK = "province_report.ipynb"
PROVINCE_TASK = "province"
FORMATS = ("html", "pdf", "xlsx", "docx")
DEFAULT_TIMEOUT = 600.0


# ---------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Annex:
    """One annex of a year: which notebook, which parameters, which files."""

    year: int
    name: str  # unit id, or "province"
    title: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path
    unit_type: str | None = None

    @property
    def pdf(self) -> Path:
        return self.html.with_suffix(".pdf")


# kept for callers of the former API
Task = Annex


def plan(cfg: YearConfig, units: list[str] | None = None) -> list[Annex]:
    """The annexes of a year (province report first, then units in registry order)."""
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
    annexes = [Annex(cfg.year, PROVINCE_TASK, f"Báo cáo toàn tỉnh {cfg.settings.province} năm {cfg.year}",
                     p.notebooks / PROVINCE_NOTEBOOK, {"year": cfg.year, "root": root},
                     out / "province.html", out / "notebooks" / "province.ipynb")]
    for u in cfg.units:
        if u.id in wanted:
            annexes.append(Annex(cfg.year, u.id, f"{u.name} — năm {cfg.year}", p.notebooks / UNIT_NOTEBOOK,
                                 {"year": cfg.year, "unit_id": u.id, "root": root},
                                 out / "units" / f"{u.id}.html", out / "notebooks" / f"{u.id}.ipynb", u.type))
    for nb in {a.notebook for a in annexes}:
        if not nb.is_file():
            raise SipasError("notebook not found", file=nb, hint="restore it from the repository (git checkout)")
    return annexes


# ------------------------------------------------------------------------ outcomes


@dataclass
class Outcome:
    """One line of the summary: a step of a year, whether it was rebuilt and why."""

    year: int
    step: str  # "tables", "annex", "pdf", "workbook", "index", "trends"
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

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def of(self, step: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.step == step]


# ------------------------------------------------------------------------- helpers


def _rel(path: Path | str, base: Path) -> str:
    return Path(path).resolve().relative_to(base.resolve()).as_posix()


def _outputs_intact(entry: dict, base: Path) -> bool:
    for o in entry.get("outputs", []):
        if cache.maybe_file_sha(base / o["path"]) != o["sha256"]:
            return False
    return True


def _decide(entry: dict | None, inputs: dict, base: Path, force: bool) -> str | None:
    """Why a step must be rebuilt, or None when it is up to date."""
    if force:
        return "forced (--force)"
    if entry is None:
        return "new (no previous build)"
    if entry.get("status") != "ok":
        return f"previous build {entry.get('status', 'unknown')}"
    if entry.get("key") != cache.key_of(inputs):
        return cache.describe(cache.changed(entry.get("inputs"), inputs)) or "inputs changed"
    if not _outputs_intact(entry, base):
        return "output missing or changed on disk"
    return None


def _params_files(cfg: YearConfig) -> list[Path]:
    p = cfg.paths
    files = [p.params / "units" / f"{cfg.year}.yaml", p.params / "methodology" / f"{cfg.registry.methodology}.yaml",
             p.params / "settings.yaml", p.params / "fields.yaml"]
    prev = cfg.registry.previous_year
    if prev is not None and (p.params / "units" / f"{prev}.yaml").is_file():
        files.append(p.params / "units" / f"{prev}.yaml")
        try:
            files.append(p.params / "methodology" / f"{YearConfig(prev, p).registry.methodology}.yaml")
        except SipasError:
            pass
    return sorted(set(files))


def _clean_temporaries(folder: Path) -> None:
    """Remove what an interrupted run may have left: ``.<name>.tmp-*`` files (never read)."""
    if folder.is_dir():
        for tmp in folder.rglob(".*.tmp-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def _year_lock(folder: Path):
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


def _tables_hash(p: Paths, year: int) -> str:
    """Hash of every file in ``outputs/<year>/tables/`` (whatever tables the estimation writes)."""
    d = p.tables(year)
    files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith(".")) if d.is_dir() else []
    return cache.json_hash({f.name: cache.file_sha(f) for f in files})


def _official_listed(base: Path) -> list[str]:
    """The official documents and releases the front door lists (issue 14), relative to ``official/``."""
    d = base / "official"
    files = sorted(f.name for f in d.iterdir() if f.is_file()) if d.is_dir() else []
    rel = base / "release"
    return files + ([f"../release/{v.name}/release.json" for v in sorted(rel.iterdir())] if rel.is_dir() else [])


def _years_with_tables(p: Paths) -> list[int]:
    base = p.outputs()
    return sorted(int(d.name) for d in base.iterdir() if d.name.isdigit() and (d / "tables").is_dir()) \
        if base.is_dir() else []


def tables_step(year: int, root: str) -> list[str]:
    """Compute and write a year's tables (on the driver, or on a Dask worker)."""
    from sipas.estimation.tables import write_tables

    return [str(f) for f in write_tables(year, default_paths(root))]


def _file_entries(files, base: Path) -> list[dict]:
    return [{"path": _rel(f, base), "sha256": cache.file_sha(f), "bytes": Path(f).stat().st_size}
            for f in sorted(files, key=str)]


# ---------------------------------------------------------------------------- a year


class YearJob:
    """Keys, decisions and manifest entries of one year."""

    def __init__(self, cfg: YearConfig, annexes: list[Annex], formats: tuple[str, ...], force: bool,
                 code: str, libs: dict, timeout: float):
        self.cfg = cfg
        self.year = cfg.year
        self.p = cfg.paths
        self.base = self.p.outputs(cfg.year)
        self.annexes = annexes
        self.formats = formats
        self.force = force
        self.code = code
        self.libs = libs
        self.libs_hash = cache.json_hash(libs)
        self.timeout = timeout
        self.manifest = Manifest.load(self.base / "manifest.json", cfg.year)
        self.params_hash = cache.json_hash({_rel(f, self.p.root): cache.maybe_file_sha(f)
                                            for f in _params_files(cfg)})
        # the data file and notebooks as this run found them, hashed once (keys, guess, manifest)
        self.data_sha = cache.maybe_file_sha(self.p.responses(cfg.year))
        self.notebook_sha = {nb: cache.maybe_file_sha(nb) for nb in sorted({a.notebook for a in annexes})}
        self.outcomes: list[Outcome] = []
        self.tables_ok = False
        self.inputs: dict[str, dict] = {}
        self._tables_inputs: dict | None = None
        self._responses = None

    @property
    def responses(self):
        """The processed microdata, read once for the keys (dropped once they are computed)."""
        if self._responses is None:
            from sipas.base.microdata import load_responses

            self._responses = load_responses(self.cfg)
        return self._responses

    def probably_stale(self) -> bool:
        """A guess made from file hashes only, before any key is computed: will this run
        build something? (Then the workers are started at once, to boot while the keys are
        computed; a wrong guess costs an idle pool, stopped at once.)"""
        if self.data_sha is None:  # no data: the run stops at once with a message
            return False
        m = self.manifest.meta
        return bool(self.force or not self.manifest.entries or m.get("run", {}).get("failed")
                    or m.get("sipas", {}).get("source_sha256") != self.code or m.get("versions") != self.libs
                    or m.get("inputs") != self.run_inputs() or m.get("data", {}).get("sha256") != self.data_sha)

    def run_inputs(self) -> dict:
        """The params and notebooks of the year's run (recorded in the manifest)."""
        return {"params": self.params_hash, "notebooks": {nb.name: sha for nb, sha in self.notebook_sha.items()}}

    def common(self) -> dict:
        return {"code": self.code, "libraries": self.libs_hash, "params": self.params_hash}

    # -- tables
    def tables_inputs(self) -> dict:
        """The microdata as the tables read it (no comments: :func:`sipas.estimation.tables.estimation_frame`),
        and the previous year's when the change tests compare with it."""
        if self._tables_inputs is None:
            from sipas.base.microdata import comparable_previous, estimation_hash

            prev = comparable_previous(self.cfg)
            self._tables_inputs = {**self.common(), "data": estimation_hash(self.cfg, self.responses),
                                   "previous_data": estimation_hash(prev) if prev else None}
        return self._tables_inputs

    def tables_reason(self) -> str | None:
        return _decide(self.manifest.get("tables"), self.tables_inputs(), self.base, self.force)

    def build_tables(self, submit=None) -> Outcome:
        def build():
            root = str(self.p.root)
            return submit(tables_step, self.year, root) if submit else tables_step(self.year, root)

        out = self._step("tables", "tables", self.tables_inputs(), {"year": self.year}, build, fatal=SipasError)
        self.tables_ok = out.ok
        return out

    def _step(self, step: str, name: str, inputs: dict, parameters: dict, build, fatal=()) -> Outcome:
        """A step the driver runs (tables, workbook, front door): rebuilt when its key changed
        or its files did; ``build()`` returns the files it wrote, and its exception (unless
        ``fatal``: the run stops) is the step's error in the summary and the manifest."""
        reason = _decide(self.manifest.get(step), inputs, self.base, self.force)
        if reason is None:
            return Outcome(self.year, step, name, True, False, "up to date")
        t0 = time.perf_counter()
        entry = {"id": step, "kind": step, "name": name, "key": cache.key_of(inputs), "inputs": inputs,
                 "parameters": parameters, "built_at": now()}
        try:
            entry.update(outputs=_file_entries(build(), self.base), status="ok", error="")
        except fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, the other steps go on
            entry.update(outputs=[], status="failed", error=f"{type(exc).__name__}: {exc}")
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        self.manifest.put(entry)
        self.manifest.save()
        return Outcome(self.year, step, name, entry["status"] == "ok", True, reason, entry["seconds"],
                       entry["error"], entry["status"])

    # -- annexes
    def annex_inputs(self) -> dict[str, dict]:
        """The inputs of every annex of the year (see :mod:`sipas.running.cache` for the granularity)."""
        tables = _tables_hash(self.p, self.year)
        others = cache.json_hash({str(y): _tables_hash(self.p, y) for y in _years_with_tables(self.p)
                                  if y != self.year})
        resp = self.responses
        rows = cache.RowHashes(resp)
        out: dict[str, dict] = {}
        for a in self.annexes:
            params = {k: v for k, v in a.parameters.items() if k != "root"}  # where, not what
            inputs = {**self.common(), "notebook": self.notebook_sha[a.notebook],
                      "parameters": cache.json_hash(params), "tables": tables, "other_years": others}
            if a.name == PROVINCE_TASK:
                inputs["data"] = self.data_sha
            else:
                inputs["unit_data"] = rows.of(resp.unit_id == a.name)
            out[a.name] = inputs
        self.inputs = out
        self._responses = None  # every key is computed: do not hold the microdata for the run
        return out

    def todo(self, want_pdf: bool, pdf_missing: str) -> tuple[list[tuple[Annex, tuple, str]], list[Outcome]]:
        """(annex, steps, reason) to build, and outcomes for what is up to date."""
        inputs = self.annex_inputs()
        build, fresh = [], []
        for a in self.annexes:
            entry = self.manifest.get(f"annex:{a.name}")
            reason = _decide(entry, inputs[a.name], self.base, self.force)
            steps: tuple = ()
            if reason is not None:
                steps = ("html", "pdf") if want_pdf and not pdf_missing else ("html",)
            else:
                fresh.append(Outcome(self.year, "annex", a.name, True, False, "up to date"))
                if want_pdf and not pdf_missing:
                    pr = _decide(self.manifest.get(f"pdf:{a.name}"), self.pdf_inputs(a), self.base, self.force)
                    if pr is not None:
                        steps, reason = ("pdf",), pr
                    else:
                        fresh.append(Outcome(self.year, "pdf", a.name, True, False, "up to date"))
            if want_pdf and pdf_missing:
                fresh.append(Outcome(self.year, "pdf", a.name, False, False, "", 0.0, pdf_missing, "unavailable"))
            if steps:
                build.append((a, steps, reason))
        return build, fresh

    def pdf_inputs(self, a: Annex) -> dict:
        return {"code": self.code, "libraries": self.libs_hash, "html": cache.maybe_file_sha(a.html)}

    def task(self, a: Annex, steps: tuple) -> AnnexTask:
        from sipas.publishing.render import annex_chrome

        return AnnexTask(
            year=self.year, name=a.name, notebook=str(a.notebook), parameters=dict(a.parameters),
            html=str(a.html), executed=str(a.executed), log=str(self.base / "logs" / f"{a.name}.log"),
            title=a.title, **annex_chrome(self.cfg.settings.province, self.year, a.name == PROVINCE_TASK),
            steps=steps, pdf=str(a.pdf) if "pdf" in steps else None, timeout=self.timeout, code_hash=self.code)

    def record(self, a: Annex, steps: tuple, reason: str, res: AnnexResult) -> list[Outcome]:
        out = []
        log = _rel(self.base / "logs" / f"{a.name}.log", self.base)
        if res.kept_previous and _keep_previous(self.manifest, a.name, res, log):  # faults (issue 16)
            return [Outcome(self.year, "annex", a.name, False, True, reason, round(res.seconds, 3), res.error)]
        if "html" in steps:
            ok = "html" in res.outputs
            params = {k: v for k, v in a.parameters.items() if k != "root"}
            entry = {"id": f"annex:{a.name}", "kind": "annex", "name": a.name, "key": cache.key_of(self.inputs[a.name]),
                     "inputs": self.inputs[a.name], "parameters": params,
                     "notebook": _rel(a.notebook, self.p.root), "status": "ok" if ok else "failed",
                     "error": "" if ok else res.error, "seconds": round(res.seconds - res.timings.get("pdf", 0.0), 3),
                     "timings": res.timings, "built_at": now(), "log": log, "worker": res.worker,
                     "outputs": [{**o, "path": _rel(o["path"], self.base)}
                                 for k, o in sorted(res.outputs.items()) if k in ("html", "ipynb")]}
            self.manifest.put(entry)
            out.append(Outcome(self.year, "annex", a.name, ok, True, reason, entry["seconds"], entry["error"]))
        if "pdf" in steps:
            ok = "pdf" in res.outputs
            if "html" in steps and "html" not in res.outputs:
                status, error = "failed", "annex failed"
            elif res.pdf_unavailable:
                status, error = "unavailable", res.pdf_unavailable
            else:
                status, error = ("ok", "") if ok else ("failed", res.error)
            entry = {"id": f"pdf:{a.name}", "kind": "pdf", "name": a.name, "key": cache.key_of(self.pdf_inputs(a)),
                     "inputs": self.pdf_inputs(a), "status": status, "error": error,
                     "seconds": res.timings.get("pdf", 0.0), "built_at": now(),
                     "outputs": [{**res.outputs["pdf"], "path": _rel(res.outputs["pdf"]["path"], self.base)}] if ok else []}
            self.manifest.put(entry)
            out.append(Outcome(self.year, "pdf", a.name, ok, True, reason, entry["seconds"], error, status))
        return out

    # -- workbook
    def workbook(self) -> Outcome:
        def build():
            from sipas.publishing.excel import write_workbook

            return [write_workbook(self.cfg)]

        inputs = {**self.common(), "tables": _tables_hash(self.p, self.year)}
        return self._step("workbook", "xlsx", inputs, {"year": self.year}, build)

    # -- official documents (issue 14): the one registration point of sipas.publishing.official.steps
    def official(self) -> list[Outcome]:
        from sipas.publishing.official import steps

        inputs = {**self.common(), **steps.inputs(self.p, self.year)}
        out = [self._step("docx", "docx", inputs, {"year": self.year}, lambda: steps.build_docx(self.p, self.year))]
        entry = self.manifest.get("docx") or {}
        if "pdf" in self.formats and out[0].ok and steps.pdf_unavailable():  # no LibreOffice: say why
            out.append(Outcome(self.year, "docx-pdf", "docx-pdf", False, False, "", 0.0, steps.pdf_unavailable(),
                               "unavailable"))
        elif "pdf" in self.formats and out[0].ok:
            files = [self.base / o["path"] for o in entry.get("outputs", [])]
            pin = {**self.common(), "docx": cache.json_hash(entry.get("outputs", []))}
            out.append(self._step("docx-pdf", "docx-pdf", pin, {"year": self.year}, lambda: steps.build_pdf(files)))
        return out

    # -- front door
    def index(self) -> Outcome:
        present = self._present()
        have = sorted(a.name for a in present)
        # the page lists the documents found on disk (with their size): they are inputs too
        docs = {r: cache.maybe_file_sha(self.base / r) for r in
                sorted({"province.pdf", "quality.html", f"phu-luc-{self.year}.xlsx",
                        *(f"units/{n}.pdf" for n in have),
                        *(f"official/{f}" for f in _official_listed(self.base))}) if (self.base / r).is_file()}
        inputs = {**self.common(), "annexes": cache.json_hash(have), "documents": cache.json_hash(docs),
                  "tables": _tables_hash(self.p, self.year),
                  "other_years": cache.json_hash(_years_with_tables(self.p))}

        def build():
            from sipas.publishing.site import write_index

            write_index(self.cfg, present)
            return [self.base / "index.html"]

        return self._step("index", "index", inputs, {"year": self.year, "annexes": have}, build)

    def _present(self) -> list[Annex]:
        """Every annex of the registry whose page is built and current (this run or before)."""
        known = {u.id: u for u in self.cfg.units}
        everything = plan(self.cfg, None)
        out = []
        for a in everything:
            e = self.manifest.get(f"annex:{a.name}")
            if e and e.get("status") == "ok" and a.html.is_file() and (a.name in known or a.name == PROVINCE_TASK):
                out.append(a)
        return out

    def finish(self, run_meta: dict) -> None:
        self.manifest.meta.update(
            versions=self.libs, sipas={"version": self.libs.get("sipas"), "source_sha256": self.code},
            data={"path": _rel(self.p.responses(self.year), self.p.root), "sha256": self.data_sha},
            inputs=self.run_inputs(), run=run_meta)
        self.manifest.save()


def _keep_previous(manifest: Manifest, name: str, res: AnnexResult, log: str) -> bool:
    """faults (issue 16): the kernel died twice under annex ``name``, which left its previous
    page (and PDF) in place. The manifest keeps describing those files (previous key and
    hashes: the next run rebuilds the annex when its inputs changed), with the failed
    attempt noted; False when there was no previous build to keep."""
    for step in (f"annex:{name}", f"pdf:{name}"):
        entry = manifest.get(step)
        if entry is not None and entry.get("status") == "ok":
            manifest.put({**entry, "last_attempt": {"at": now(), "status": "failed", "error": res.error,
                                                    "log": log, "worker": res.worker}})
    entry = manifest.get(f"annex:{name}")
    return entry is not None and entry.get("status") == "ok"


# ----------------------------------------------------------------------------- run


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
            from sipas.running.executor import DaskPool, LocalPool

            n = max(1, min(self.jobs, tasks))
            self.pool = (DaskPool(n, self.scheduler, self.cwd) if self.executor == "dask"
                         else LocalPool(n, self.cwd, self.log_dir)).start()
        return self.pool

    def close(self, cancel: bool = False) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close(cancel=cancel)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("còn / left"), TimeRemainingColumn(),
                    TextColumn("{task.fields[last]}"), console=console, transient=False)


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
    want_pdf = "pdf" in formats
    pdf_missing = ""
    if want_pdf:
        import importlib.util

        if importlib.util.find_spec("sipas.publishing.pdf") is None:
            pdf_missing = "sipas.publishing.pdf is not installed yet (no PDF renderer module)"
    report = RunReport()
    own = workers is None
    with contextlib.ExitStack() as stack:
        for y in years:
            stack.enter_context(_year_lock(p.outputs(y)))
            _clean_temporaries(p.outputs(y))
        jobs_ = {y: YearJob(cfgs[y], annexes[y], formats, force, code, libs, timeout) for y in years}
        if own:
            workers = Workers(executor, jobs, scheduler, str(p.notebooks), str(p.outputs() / "logs"))
        n_annexes = sum(len(a) for a in annexes.values())
        try:
            # start the workers now (their kernels boot while the keys and the tables are
            # computed) when something probably has to be built
            if any(j.probably_stale() for j in jobs_.values()) or any(j.tables_reason() for j in jobs_.values()):
                workers.get(n_annexes)
            submit = _dask_submit(workers.pool) if executor == "dask" and workers.pool is not None else None
            for j in jobs_.values():
                report.outcomes.append(j.build_tables(submit))
            todo: list[tuple[YearJob, Annex, tuple, str]] = []
            for j in jobs_.values():
                if not j.tables_ok:
                    continue
                build, fresh = j.todo(want_pdf, pdf_missing)
                report.outcomes += fresh
                todo += [(j, a, steps, why) for a, steps, why in build]
            side = None
            side_fns = [j.workbook for j in jobs_.values() if j.tables_ok] if "xlsx" in formats else []
            side_fns += [j.official for j in jobs_.values() if j.tables_ok] if "docx" in formats else []
            if side_fns:  # the workbooks and Word documents are written by the driver while the workers run
                side = _Side(side_fns)
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
            if side:
                report.outcomes += side.join()
            for j in jobs_.values():
                if j.tables_ok:
                    report.outcomes.append(j.index())
            if len(years) >= 2 and all(j.tables_ok for j in jobs_.values()):
                report.outcomes.append(trends_step(p, years, code, force))
            if any(o.step in ("index", "trends") and o.rebuilt for o in report.outcomes) \
                    or not (p.outputs() / "index.html").exists():
                from sipas.publishing.site import write_site_index

                write_site_index(p)
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


def trends_step(p: Paths, years: list[int], code: str, force: bool) -> Outcome:
    """The trends annex across the run's years (``outputs/trends.html``), rebuilt when a
    year's tables, the trends notebook, the params or the code changed."""
    from sipas.publishing import trends

    year = max(years)
    html = trends.trends_html_path(p)
    key_file = p.outputs() / "notebooks" / "trends.key"
    inputs = {"years": years, "tables": {str(y): _tables_hash(p, y) for y in years},
              "notebook": cache.file_sha(p.notebooks / "trends.ipynb"), "code": code,
              "params": cache.json_hash({str(f.relative_to(p.params)): cache.file_sha(f)
                                         for f in sorted(p.params.rglob("*.yaml"))})}
    key = cache.key_of(inputs)
    if not force and html.is_file() and key_file.is_file() and key_file.read_text(encoding="utf-8") == key:
        return Outcome(year, "trends", "trends", True, False, "up to date")
    reason = "forced" if force else ("new" if not html.is_file() else "inputs changed")
    t0 = time.perf_counter()
    try:  # the trends table, then the notebook through the same executor and render path as every annex
        from sipas.running.executor import AnnexTask, run_task, shutdown_kernels

        trends.write_trends_table(years, paths=p)
        page = trends.trends_spec(years, p)
        page["executed"].parent.mkdir(parents=True, exist_ok=True)
        res = run_task(AnnexTask(year=year, name="trends", notebook=str(page["notebook"]),
                                 parameters=page["parameters"], html=str(page["html"]),
                                 executed=str(page["executed"]), log=str(p.outputs() / "notebooks" / "trends.log"),
                                 title=page["title"], kicker=page["kicker"], footer=page["footer"],
                                 nav=page["nav"]))
        shutdown_kernels()
        if not res.ok:
            raise RuntimeError(res.error)
    except Exception as exc:  # reported in the summary, like a failing annex
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Outcome(year, "trends", "trends", False, True, reason, time.perf_counter() - t0, detail)
    from sipas.base.io import write_text

    write_text(key_file, key)
    return Outcome(year, "trends", "trends", True, True, reason, time.perf_counter() - t0)


def _preimport_site() -> None:
    try:
        import sipas.publishing.site  # noqa: F401
    except Exception:  # noqa: BLE001 - imported again, with its error, when used
        pass


def _dask_submit(pool):
    return pool.call  # faults (issue 16): on a worker with this code; a lost scheduler stops the run clearly


class _Side:
    """Run callables in a background thread of the driver (the workbooks)."""

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
    by_id = {f"{j.year}/{a.name}": (j, a, steps, why) for j, a, steps, why in todo}
    tasks = [j.task(a, steps) for j, a, steps, why in todo]
    with _progress(console) as bar:
        tid = bar.add_task("phụ lục / annexes", total=len(tasks), last="")
        for res in pool.run(tasks):
            j, a, steps, why = by_id[res.id]
            outs = j.record(a, steps, why, res)
            j.manifest.save()
            report.outcomes += outs
            state = "ok" if res.ok else ("LỖI" if "html" in steps and "html" not in res.outputs else "pdf?")
            bar.update(tid, advance=1, last=f"{res.id} {state} {res.seconds:.1f}s")
    report.notes += [n for n in getattr(pool, "notes", []) if n not in report.notes]  # faults (issue 16)


# -------------------------------------------------------------------------- summary


def summary_table(report: RunReport, changed_only: bool = False) -> Table:
    """Every step of the run: status, seconds, whether it was rebuilt and why (or its error);
    ``changed_only``: the steps rebuilt or failed only."""
    table = Table(title="Kết quả chạy / Run summary", title_justify="left")
    for col, just in (("năm", "left"), ("phụ lục / step", "left"), ("trạng thái", "left"),
                      ("giây", "right"), ("dựng lại", "left"), ("lý do / lỗi (why / error)", "left")):
        table.add_column(col, justify=just, overflow="fold")
    order = {"tables": 0, "annex": 1, "pdf": 2, "workbook": 3, "docx": 3, "docx-pdf": 3, "index": 4, "trends": 5}
    rows = sorted((o for o in report.outcomes if o.rebuilt or not o.ok or not changed_only),
                  key=lambda o: (o.year, order.get(o.step, 9), o.name != PROVINCE_TASK, o.name))
    for o in rows:
        label = o.name if o.step == "annex" else (f"pdf {o.name}" if o.step == "pdf" else o.step)
        status = {"ok": "ok", "failed": "LỖI / FAILED", "unavailable": "UNAVAILABLE"}.get(o.status, o.status)
        rebuilt = "có / yes" if o.rebuilt else "không / no"
        why = o.error.splitlines()[0] if o.error else (o.reason if o.rebuilt else "up to date")
        table.add_row(str(o.year), label, status, f"{o.seconds:.2f}" if o.rebuilt else "–", rebuilt, why)
    return table


def print_summary(report: RunReport, console: Console, p: Paths, changed_only: bool = False) -> None:
    if report.outcomes and not (changed_only and not any(o.rebuilt or not o.ok for o in report.outcomes)):
        console.print(summary_table(report, changed_only))
    for o in report.failed:
        what = o.name if o.step == "annex" else f"{o.step} {o.name}"
        tag = "UNAVAILABLE" if o.status == "unavailable" else "FAILED"
        console.print(f"[red]{tag}[/red] {o.year} {what}: {o.error}", highlight=False, soft_wrap=True)
        if o.step == "annex":
            console.print(f"  log: {p.outputs(o.year) / 'logs' / (o.name + '.log')}", highlight=False, soft_wrap=True)
    for note in report.notes:  # faults (issue 16): what the run worked around (refused workers)
        console.print(f"[yellow]NOTE[/yellow] {note}", highlight=False, soft_wrap=True)
    annexes = report.of("annex")
    failed = [o for o in annexes if not o.ok]
    rebuilt = sum(o.rebuilt for o in report.outcomes)
    fresh = sum(1 for o in report.outcomes if not o.rebuilt and o.ok)
    console.print(f"{len(annexes) - len(failed)} annexes written, {len(failed)} failed; "
                  f"{rebuilt} steps rebuilt, {fresh} up to date; {report.seconds:.1f} s.",
                  highlight=False, soft_wrap=True)


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


def run_years(years: list[int], units: list[str] | None = None, jobs: int | None = None,
              p: Paths | None = None, **kw) -> list[Outcome]:
    """Run several years; print the summary; return what failed (or was not produced)."""
    p = p or default_paths()
    console = kw.pop("console", None) or Console(stderr=True, width=None if sys.stderr.isatty() else 110)
    report = run(years, units, jobs, p, console=console, **kw)
    print_summary(report, console, p)
    return report.failed


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `sipas run`")
