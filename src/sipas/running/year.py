"""The steps of one year (:class:`YearJob`): tables, annexes and their PDFs, workbook,
Word documents and front door, declared as :class:`~sipas.running.steps.Step` and
recorded in ``outputs/<year>/manifest.json``."""

from __future__ import annotations

from sipas.base.codebook import YearConfig
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.running import cache
from sipas.running.executor import AnnexResult, AnnexTask
from sipas.running.manifest import Manifest
from sipas.running.plan import PROVINCE_TASK, Annex, plan
from sipas.running.steps import Ledger, Step, rel
from sipas.running.summary import Outcome


def write_year_tables(year: int, root: str) -> list[str]:
    """Compute and write a year's tables (on the driver, or on a Dask worker)."""
    from sipas.estimation.tables import write_tables

    return [str(f) for f in write_tables(year, default_paths(root))]


def _official_listed(base) -> list[str]:
    """The official documents and releases the front door lists (issue 14), relative to ``official/``."""
    d = base / "official"
    files = sorted(f.name for f in d.iterdir() if f.is_file()) if d.is_dir() else []
    rel_ = base / "release"
    return files + ([f"../release/{v.name}/release.json" for v in sorted(rel_.iterdir())] if rel_.is_dir() else [])


def _years_with_tables(p) -> list[int]:
    from sipas.publishing.data import years_with_tables

    return years_with_tables(p)


class YearJob:
    """The steps of one year: their inputs, decisions and manifest entries."""

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
        self.ledger = Ledger(self.manifest, self.base, cfg.year, force)
        self.params_hash = cache.params_hash(cfg)
        # the data file and notebooks as this run found them, hashed once (keys, guess, manifest)
        self.data_sha = cache.maybe_file_sha(self.p.responses(cfg.year))
        self.notebook_sha = {nb: cache.maybe_file_sha(nb) for nb in sorted({a.notebook for a in annexes})}
        self.tables_ok = False
        self.steps: dict[str, Step] = {}  # the annex and PDF steps, once their inputs are known
        self._tables: Step | None = None
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

    # -- layer 1: tables
    def tables_step(self, submit=None) -> Step:
        """The microdata as the tables read it (no comments: :func:`sipas.estimation.tables.estimation_frame`),
        and the previous year's when the change tests compare with it."""
        if self._tables is None:
            from sipas.base.microdata import comparable_previous, estimation_hash

            prev = comparable_previous(self.cfg)
            inputs = {**self.common(), "data": estimation_hash(self.cfg, self.responses),
                      "previous_data": estimation_hash(prev) if prev else None}
            self._tables = Step("tables", "tables", "tables", inputs, parameters={"year": self.year},
                                fatal=SipasError)
        root = str(self.p.root)
        self._tables.build = lambda: submit(write_year_tables, self.year, root) if submit else write_year_tables(self.year, root)
        return self._tables

    def tables_reason(self) -> str | None:
        return self.ledger.decide(self.tables_step())

    def build_tables(self, submit=None) -> Outcome:
        out = self.ledger.build(self.tables_step(submit))
        self.tables_ok = out.ok
        return out

    # -- layer 2: annexes and their PDFs (built by the workers)
    def annex_steps(self) -> dict[str, Step]:
        """The step of every annex of the year (see :mod:`sipas.running.cache` for the granularity)."""
        tables = cache.tables_hash(self.p, self.year)
        others = cache.json_hash({str(y): cache.tables_hash(self.p, y) for y in _years_with_tables(self.p)
                                  if y != self.year})
        resp = self.responses
        rows = cache.RowHashes(resp)
        for a in self.annexes:
            params = {k: v for k, v in a.parameters.items() if k != "root"}  # where, not what
            inputs = {**self.common(), "notebook": self.notebook_sha[a.notebook],
                      "parameters": cache.json_hash(params), "tables": tables, "other_years": others}
            if a.name == PROVINCE_TASK:
                inputs["data"] = self.data_sha
            else:
                inputs["unit_data"] = rows.of(resp.unit_id == a.name)
            self.steps[f"annex:{a.name}"] = Step(f"annex:{a.name}", "annex", a.name, inputs, parameters=params)
        self._responses = None  # every key is computed: do not hold the microdata for the run
        return self.steps

    def pdf_step(self, a: Annex) -> Step:
        """A page's PDF: its HTML as it is on disk (hashed when asked)."""
        inputs = {"code": self.code, "libraries": self.libs_hash, "html": cache.maybe_file_sha(a.html)}
        self.steps[f"pdf:{a.name}"] = Step(f"pdf:{a.name}", "pdf", a.name, inputs)
        return self.steps[f"pdf:{a.name}"]

    def todo(self, want_pdf: bool) -> tuple[list[tuple[Annex, tuple, str]], list[Outcome]]:
        """(annex, steps, reason) to build, and outcomes for what is up to date."""
        steps = self.annex_steps()
        build, fresh = [], []
        for a in self.annexes:
            reason = self.ledger.decide(steps[f"annex:{a.name}"])
            parts: tuple = ()
            if reason is not None:
                parts = ("html", "pdf") if want_pdf else ("html",)
            else:
                fresh.append(self.ledger.fresh(steps[f"annex:{a.name}"]))
                if want_pdf:
                    pdf = self.pdf_step(a)
                    pr = self.ledger.decide(pdf)
                    if pr is not None:
                        parts, reason = ("pdf",), pr
                    else:
                        fresh.append(self.ledger.fresh(pdf))
            if parts:
                build.append((a, parts, reason))
        return build, fresh

    def task(self, a: Annex, steps: tuple) -> AnnexTask:
        from sipas.publishing.render import annex_chrome

        return AnnexTask(
            year=self.year, name=a.name, notebook=str(a.notebook), parameters=dict(a.parameters),
            html=str(a.html), executed=str(a.executed), log=str(self.base / "logs" / f"{a.name}.log"),
            title=a.title, **annex_chrome(self.cfg.settings.province, self.year, a.name == PROVINCE_TASK),
            steps=steps, pdf=str(a.pdf) if "pdf" in steps else None, timeout=self.timeout, code_hash=self.code)

    def record(self, a: Annex, steps: tuple, reason: str, res: AnnexResult) -> list[Outcome]:
        """Record what a worker built for annex ``a`` (its page, its PDF) in the manifest."""
        out = []
        log = f"logs/{a.name}.log"
        if res.kept_previous and self.ledger.keep_previous(  # faults (issue 16): the previous page stays
                [f"annex:{a.name}", f"pdf:{a.name}"], res.error, log=log, worker=res.worker):
            return [Outcome(self.year, "annex", a.name, False, True, reason, round(res.seconds, 3), res.error)]
        files = {k: {**o, "path": rel(o["path"], self.base)} for k, o in sorted(res.outputs.items())}
        if "html" in steps:
            ok = "html" in res.outputs
            pages = [o for k, o in files.items() if k in ("html", "ipynb")]
            out.append(self.ledger.record(
                self.steps[f"annex:{a.name}"], reason, pages, res.seconds - res.timings.get("pdf", 0.0),
                "ok" if ok else "failed", "" if ok else res.error, notebook=rel(a.notebook, self.p.root),
                timings=res.timings, log=log, worker=res.worker))
        if "pdf" in steps:
            if "html" in steps and "html" not in res.outputs:
                status, error = "failed", "annex failed"
            elif res.pdf_unavailable:
                status, error = "unavailable", res.pdf_unavailable
            else:
                status, error = ("ok", "") if "pdf" in res.outputs else ("failed", res.error)
            out.append(self.ledger.record(self.pdf_step(a), reason, [files["pdf"]] if "pdf" in files else [],
                                          res.timings.get("pdf", 0.0), status, error))
        return out

    # -- layer 2, on a driver thread: workbook and Word documents
    def workbook(self) -> Outcome:
        def build():
            from sipas.publishing.excel import write_workbook

            return [write_workbook(self.cfg)]

        inputs = {**self.common(), "tables": cache.tables_hash(self.p, self.year)}
        return self.ledger.build(Step("workbook", "workbook", "xlsx", inputs, build, {"year": self.year}))

    def official(self) -> list[Outcome]:
        """The official documents (issue 14): :mod:`sipas.publishing.official.steps` says what they read."""
        from sipas.publishing.official import steps

        inputs = {**self.common(), **steps.inputs(self.p, self.year)}
        out = [self.ledger.build(Step("docx", "docx", "docx", inputs, lambda: steps.build_docx(self.p, self.year),
                                      {"year": self.year}))]
        entry = self.manifest.get("docx") or {}
        if "pdf" in self.formats and out[0].ok and steps.pdf_unavailable():  # no LibreOffice: say why
            out.append(Outcome(self.year, "docx-pdf", "docx-pdf", False, False, "", 0.0, steps.pdf_unavailable(),
                               "unavailable"))
        elif "pdf" in self.formats and out[0].ok:
            files = [self.base / o["path"] for o in entry.get("outputs", [])]
            pin = {**self.common(), "docx": cache.json_hash(entry.get("outputs", []))}
            out.append(self.ledger.build(Step("docx-pdf", "docx-pdf", "docx-pdf", pin,
                                              lambda: steps.build_pdf(files), {"year": self.year})))
        return out

    # -- layer 3: the year's front door
    def index(self) -> Outcome:
        present = self._present()
        have = sorted(a.name for a in present)
        # the page lists the documents found on disk (with their size): they are inputs too
        docs = {r: cache.maybe_file_sha(self.base / r) for r in
                sorted({"province.pdf", "quality.html", f"phu-luc-{self.year}.xlsx",
                        *(f"units/{n}.pdf" for n in have),
                        *(f"official/{f}" for f in _official_listed(self.base))}) if (self.base / r).is_file()}
        inputs = {**self.common(), "annexes": cache.json_hash(have), "documents": cache.json_hash(docs),
                  "tables": cache.tables_hash(self.p, self.year),
                  "other_years": cache.json_hash(_years_with_tables(self.p))}

        def build():
            from sipas.publishing.site import write_index

            write_index(self.cfg, present)
            return [self.base / "index.html"]

        return self.ledger.build(Step("index", "index", "index", inputs, build, {"year": self.year, "annexes": have}))

    def _present(self) -> list[Annex]:
        """Every annex of the registry whose page is built and current (this run or before)."""
        out = []
        for a in plan(self.cfg, None):
            e = self.manifest.get(f"annex:{a.name}")
            if e and e.get("status") == "ok" and a.html.is_file():
                out.append(a)
        return out

    def finish(self, run_meta: dict) -> None:
        self.manifest.meta.update(
            versions=self.libs, sipas={"version": self.libs.get("sipas"), "source_sha256": self.code},
            data={"path": rel(self.p.responses(self.year), self.p.root), "sha256": self.data_sha},
            inputs=self.run_inputs(), run=run_meta)
        self.manifest.save()
