"""One annex, built by a worker: the task it is sent, the result it sends back.

:func:`run_task` injects the parameters (papermill's ``parameterize_notebook``), executes
the notebook with nbclient in the worker's warm kernel (:mod:`sipas.running.kernel`),
writes the executed notebook and the HTML page (and the PDF when asked) under temporary
names and renames them. It never raises: it returns an :class:`AnnexResult` (the error
names the cell, the exception and its message) and writes the annex's log. The same
task runs in a process of the local pool (:mod:`sipas.running.local_pool`), on a Dask
worker (:mod:`sipas.running.dask_pool`), or in the caller's process (the tests).
A notebook has an overall timeout; a worker with other ``sipas`` code than the driver
refuses the task. A kernel that dies during an annex (killed, out of memory) is replaced
and the annex retried once; if it dies again, the annex fails and its previous page is
kept (:class:`_Attempt`, issue 16).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from sipas.running import kernel as kernels

ANNEXES_PER_KERNEL = int(os.environ.get("SIPAS_ANNEXES_PER_KERNEL", "200"))
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class AnnexTask:
    """Everything a worker needs to build one annex (picklable, absolute paths)."""

    year: int
    name: str  # unit id, or "province"
    notebook: str
    parameters: dict
    html: str
    executed: str
    log: str
    title: str
    kicker: str = ""
    footer: str = ""
    nav: tuple = ()
    steps: tuple = ("html",)  # "html" (execute + executed notebook + HTML) and/or "pdf"
    pdf: str | None = None
    timeout: float = 600.0
    code_hash: str = ""  # the driver's sipas source hash; a worker with other code refuses

    @property
    def id(self) -> str:
        return f"{self.year}/{self.name}"


@dataclass
class AnnexResult:
    year: int
    name: str
    ok: bool  # every requested step produced its file
    seconds: float
    outputs: dict = field(default_factory=dict)  # kind -> {"path", "sha256", "bytes"}
    error: str = ""  # one line for the summary ("cell 4 [3]: AssertionError: ...")
    pdf_unavailable: str = ""  # reason, when sipas.publishing.pdf could not render
    timings: dict = field(default_factory=dict)
    worker: str = ""
    kernel_deaths: int = 0  # faults (issue 16): kernels that died under this annex (1: retried)
    kept_previous: bool = False  # the kernel died twice: the previous page, if any, was left in place

    @property
    def id(self) -> str:
        return f"{self.year}/{self.name}"


def file_entry(path: str | os.PathLike) -> dict:
    from sipas.base.hashing import file_sha

    p = Path(path)
    return {"path": str(p), "sha256": file_sha(p), "bytes": p.stat().st_size}


# --------------------------------------------------------------------- one annex


def _cell_error(nb, exc) -> tuple[str, str]:
    """(one-line summary, details) for a notebook that stopped with an exception."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                line = f"cell {i + 1} [{cell.get('execution_count')}]: {out.get('ename')}: {out.get('evalue')}"
                details = f"{line}\n\n--- cell {i + 1} source\n{cell.source}\n\n--- traceback\n{tb}\n"
                return line, details
    text = f"{type(exc).__name__}: {_ANSI.sub('', str(exc)).strip().splitlines()[-1] if str(exc).strip() else ''}"
    return text, _ANSI.sub("", traceback.format_exc())


def _timed_out_cell(nb) -> int | None:
    """Index of the cell that was running when the deadline came (interrupted, or never finished)."""
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not cell.source.strip():
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])) or cell.get("execution_count") is None:
            return i
    return None


_CODE_HASH: str | None = None


def worker_code_hash() -> str:
    """This process's ``sipas`` source hash (the one the manifest records), computed once."""
    global _CODE_HASH
    if _CODE_HASH is None:
        from sipas.running.cache import source_hash

        _CODE_HASH = source_hash()
    return _CODE_HASH


def run_task(task: AnnexTask) -> AnnexResult:
    """Build one annex. Never raises; the error (cell, exception, message) goes into the
    result and into ``task.log``."""
    import nbformat

    from sipas.base.io import atomic_path, write_text

    start = time.perf_counter()
    res = AnnexResult(task.year, task.name, False, 0.0, worker=f"{os.uname().nodename}:{os.getpid()}")
    details = ""
    warm: kernels.WarmKernel | None = None
    attempt: _Attempt | None = None
    nb = None
    try:
        if task.code_hash and worker_code_hash() != task.code_hash:
            raise RuntimeError("this worker runs a different version of the sipas code than the driver "
                               "(restart the workers after updating the code)")
        cwd = str(Path(task.notebook).parent)
        if "html" in task.steps:
            from sipas.publishing.render import notebook_html

            t0 = time.perf_counter()
            attempt = _Attempt(task, cwd)
            attempt.run(res)  # faults (issue 16): a dead kernel is replaced and the annex retried once
            nb, warm, t1, details = attempt.nb, attempt.kernel, attempt.started, attempt.details
            t2 = time.perf_counter()
            with atomic_path(task.executed) as tmp:
                nbformat.write(nb, str(tmp))
            write_text(task.html, notebook_html(nb, title=task.title, kicker=task.kicker,
                                                footer=task.footer, nav=list(task.nav)))
            res.outputs["html"] = file_entry(task.html)
            res.outputs["ipynb"] = file_entry(task.executed)
            res.timings.update(kernel=round(t1 - t0, 3), execute=round(t2 - t1, 3),
                               render=round(time.perf_counter() - t2, 3))
            if warm.count >= ANNEXES_PER_KERNEL:
                kernels.drop_kernel()
        if "pdf" in task.steps and task.pdf:
            t3 = time.perf_counter()
            reason = _render_pdf(task.html, task.pdf)
            if reason:
                res.pdf_unavailable = reason
            else:
                res.outputs["pdf"] = file_entry(task.pdf)
            res.timings["pdf"] = round(time.perf_counter() - t3, 3)
        res.ok = not res.pdf_unavailable
        if res.pdf_unavailable:
            res.error = f"PDF not produced: {res.pdf_unavailable}"
    except Exception as exc:  # noqa: BLE001 - one failing annex must not stop the others
        if attempt is not None:
            nb, warm = attempt.nb, attempt.kernel
        if nb is not None:
            res.error, details = _cell_error(nb, exc)
        else:
            res.error = f"{type(exc).__name__}: {exc}"
            details = _ANSI.sub("", traceback.format_exc())
        if attempt is not None and attempt.details:
            details = f"{attempt.details}\n{details}"
        if warm is not None:
            tail = warm.log_tail()
            if tail.strip():
                details += f"\n--- kernel output (tail)\n{tail}\n"
        try:
            kernels.drop_kernel()  # a fresh kernel for the next annex
        except Exception:  # noqa: BLE001
            kernels.STATE.kernel = None
        # a failed annex leaves no stale page behind that a reader could take for current;
        # but a kernel that died twice (killed, out of memory) says nothing against the
        # notebook: the previous page is kept, and the summary says so (faults, issue 16)
        res.kept_previous = isinstance(exc, KernelDied)
        for stale in (task.html, task.executed, task.pdf):
            if stale and "html" in task.steps and not res.kept_previous:
                Path(stale).unlink(missing_ok=True)
        if nb is not None:
            try:
                with atomic_path(Path(task.log).with_suffix(".ipynb")) as tmp:
                    nbformat.write(nb, str(tmp))
            except Exception:  # noqa: BLE001
                pass
    res.seconds = time.perf_counter() - start
    write_log(task, res, details)
    return res


# ---- faults (issue 16): a kernel that dies during an annex -------------------------


class KernelDied(RuntimeError):
    """The kernel died during the annex twice (the first time it was replaced and retried)."""


class _Attempt:
    """Execute ``task``'s notebook in this thread's warm kernel; when the kernel process dies
    under it (killed, out of memory: nbclient's ``DeadKernelError``, or any error with the
    kernel gone), start a new kernel and execute a fresh copy of the notebook once more.
    A notebook that fails in a live kernel is not retried (it would fail again). After the
    call (or its exception) ``nb`` and ``kernel`` are those of the last attempt."""

    def __init__(self, task: AnnexTask, cwd: str):
        self.task, self.cwd = task, cwd
        self.nb = None
        self.kernel: kernels.WarmKernel | None = None
        self.started = 0.0
        self.details = ""

    def _notebook(self):
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = load_notebook_node(self.task.notebook)
        _stable_cell_ids(nb, self.task.notebook)
        nb = parameterize_notebook(nb, self.task.parameters, kernel_name=kernels.KERNEL_NAME, language="python")
        for cell in nb.cells:  # papermill gives the injected cell a random id: make it stable
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell["id"] = "injected-parameters"
        return nb

    def run(self, res: AnnexResult) -> None:
        task, loop = self.task, kernels.event_loop()
        for tries in (1, 2):
            self.kernel = kernel = kernels.kernel_for(self.cwd)
            if loop.run_until_complete(kernel.died()):  # died while idle (out of memory?): a new one
                kernels.drop_kernel()
                self.kernel = kernel = kernels.kernel_for(self.cwd)
            self.started = time.perf_counter()
            self.nb = self._notebook()
            try:
                loop.run_until_complete(kernel.execute(self.nb, task.timeout, self.cwd, task.id))
                return
            except BaseException as exc:
                dead = isinstance(exc, Exception) and loop.run_until_complete(kernel.died())
                if not dead and (kernel.timed_out or isinstance(exc, asyncio.TimeoutError)):
                    idx = _timed_out_cell(self.nb)
                    self.nb = None  # the message is the timeout, not the interrupt it caused
                    raise TimeoutError(f"notebook timed out after {task.timeout:g} s"
                                       + (f" (in cell {idx + 1})" if idx is not None else "")) from None
                if not dead:
                    raise
                res.kernel_deaths = tries
                tail = kernel.log_tail()
                self.details += (f"--- attempt {tries}: the kernel died ({type(exc).__name__}: {exc})\n"
                                 + (f"--- kernel output (tail)\n{tail}\n" if tail.strip() else ""))
                kernels.drop_kernel()
                self.kernel = None
                if tries == 2:
                    self.nb = None
                    raise KernelDied("the kernel died twice during this annex (killed, or out of memory?); "
                                     "the previous page, if any, is kept") from None


def _stable_cell_ids(nb, path: str) -> None:
    """Cells without an id in the file (nbformat < 4.5) get one from their position, not a
    random one from nbformat's upgrade: the executed notebook and the HTML stay byte-stable."""
    import json

    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    for i, cell in enumerate(raw.get("cells", [])):
        if "id" not in cell and i < len(nb.cells):
            nb.cells[i]["id"] = f"cell-{i}"


def _render_pdf(html: str, pdf: str) -> str:
    """Render the PDF through :func:`sipas.publishing.pdf.render_pdf`; return '' or why it could not."""
    from sipas.base.io import atomic_path
    from sipas.publishing import pdf as pdfmod

    try:
        with atomic_path(pdf) as tmp:
            pdfmod.render_pdf(Path(html), tmp)
    except pdfmod.PdfUnavailable as exc:
        return str(exc) or "no PDF renderer"
    return ""


def write_log(task: AnnexTask, res: AnnexResult, details: str) -> None:
    from sipas.base.io import write_text

    lines = [f"annex: {task.id}", f"notebook: {task.notebook}", f"parameters: {task.parameters}",
             f"steps: {', '.join(task.steps)}", f"worker: {res.worker}",
             f"status: {'ok' if res.ok else 'FAILED'}", f"seconds: {res.seconds:.3f}",
             f"timings: {res.timings}"]
    if res.error:
        lines.append(f"error: {res.error}")
    if details:
        lines += ["", details]
    try:
        write_text(task.log, "\n".join(lines) + "\n")
    except OSError:
        pass
