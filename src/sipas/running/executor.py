"""Executing annex notebooks in warm kernels, locally or on a Dask cluster.

One *task* = one annex: inject the parameters (papermill's ``parameterize_notebook``),
execute the notebook with nbclient in a kernel that is already running, write the
executed notebook and the HTML page (and the PDF when asked) under temporary names and
rename them. :func:`run_task` never raises: it returns an :class:`AnnexResult`.

Warm kernels
    Each worker (a process of the local pool, or a thread of a Dask worker) keeps one
    started IPython kernel. The kernel pre-imports pandas, matplotlib, seaborn and the
    ``sipas`` modules once (:mod:`sipas.running.kernel_state`); before every annex it is reset
    to that state (user namespace, execution counter, matplotlib rcParams and figures,
    pandas options, random states, working folder, environment, ``sipas`` module
    attributes). A kernel is replaced after a failure, a timeout, a dead kernel, or
    ``SIPAS_ANNEXES_PER_KERNEL`` annexes (default 50). A kernel that dies *during* an
    annex (killed, out of memory) is replaced and the annex retried once; if it dies
    again, the annex fails and its previous page is kept (:class:`_Attempt`, issue 16).

Robustness
    Kernels talk over ``ipc`` sockets in a private temporary folder (no TCP ports, so
    no port clashes between parallel kernels and no unencrypted-TCP warning); a failed
    start is retried (3 attempts); a notebook has an overall timeout; the kernel's own
    stdout/stderr go to a file whose tail is added to the annex's log when it fails.

Local pool
    :class:`LocalPool` runs N worker processes (spawned) fed from one queue. A worker
    that dies (killed, out of memory) is replaced and the annex it was running retried
    once in a new one (then it fails, its previous page kept); Ctrl-C stops the workers
    and their kernels.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "python3"
START_ATTEMPTS = 3
ANNEXES_PER_KERNEL = int(os.environ.get("SIPAS_ANNEXES_PER_KERNEL", "50"))
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ----------------------------------------------------------------------------- task


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


# --------------------------------------------------------------------- warm kernel


class KernelStartError(RuntimeError):
    pass


class WarmKernel:
    """One IPython kernel kept running between annexes (asyncio, one event loop)."""

    def __init__(self, cwd: str):
        self.cwd = cwd
        self.km = None
        self.kc = None
        self.tmp: str | None = None
        self.count = 0
        self.timed_out = False
        self._log = None

    @property
    def alive(self) -> bool:
        return self.km is not None

    async def start(self) -> None:
        last: BaseException | None = None
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self._start_once()
                return
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                last = exc
                await self.shutdown(now=True)
                await asyncio.sleep(0.5 * attempt)
        raise KernelStartError(f"kernel did not start after {START_ATTEMPTS} attempts: "
                               f"{type(last).__name__}: {last}")

    async def _start_once(self) -> None:
        from jupyter_client import AsyncKernelManager

        self.tmp = tempfile.mkdtemp(prefix="sipas-k-")
        self._log = open(os.path.join(self.tmp, "kernel.log"), "wb")
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                ip=os.path.join(self.tmp, "s"),
                                connection_file=os.path.join(self.tmp, "kernel.json"))
        self.km = km
        env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        await km.start_kernel(cwd=self.cwd, stdout=self._log, stderr=self._log, env=env,
                              extra_arguments=["--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"])
        kc = km.client()
        kc.start_channels()
        self.kc = kc
        await kc.wait_for_ready(timeout=90)
        await self.run_silent("__import__('sipas.running.kernel_state', fromlist=['prepare']).prepare()", timeout=120)
        self.count = 0

    async def run_silent(self, code: str, timeout: float = 60) -> None:
        """Run ``code`` outside the notebook's history (no execution count); raise on error."""
        outputs: list = []

        def hook(msg):
            if msg["msg_type"] in ("error", "stream"):
                outputs.append(msg["content"])

        reply = await self.kc.execute_interactive(code, store_history=False, allow_stdin=False,
                                                  timeout=timeout, output_hook=hook)
        content = reply["content"]
        if content.get("status") != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")

    async def reset(self, cwd: str) -> None:
        await self.run_silent(f"__import__('sipas.running.kernel_state', fromlist=['reset']).reset({cwd!r})", timeout=60)

    async def execute(self, nb, timeout: float, cwd: str, task_id: str = ""):
        from nbclient import NotebookClient

        await self.reset(cwd)
        self.count += 1
        client = NotebookClient(nb, km=self.km, kernel_name=KERNEL_NAME, timeout=int(timeout) + 30,
                                allow_errors=False, record_timing=False, interrupt_on_timeout=False,
                                resources={"metadata": {"path": cwd}})
        client.kc = self.kc
        from sipas.running.faults import arm_kill_hook

        arm_kill_hook(client, self, task_id)  # tests only (SIPAS_TEST_KILL_KERNEL); no-op otherwise
        # at the deadline the kernel is interrupted (the running cell stops with
        # KeyboardInterrupt); should it not respond, the execution is abandoned later
        self.timed_out = False
        loop = asyncio.get_running_loop()

        def deadline():
            self.timed_out = True
            asyncio.ensure_future(self.km.interrupt_kernel())

        handle = loop.call_later(timeout, deadline)
        try:
            await asyncio.wait_for(client.async_execute(cleanup_kc=False), timeout + 15)
        finally:
            handle.cancel()
        return nb

    @property
    def pid(self) -> int | None:
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    async def died(self) -> bool:
        """Whether the kernel process is gone (killed, out of memory), as opposed to a
        notebook that failed in a live kernel (faults, issue 16)."""
        try:
            return self.km is None or not await self.km.is_alive()
        except Exception:  # noqa: BLE001 - a manager that cannot tell: treat as dead
            return True

    def log_tail(self, n: int = 4000) -> str:
        if not self.tmp:
            return ""
        try:
            data = Path(self.tmp, "kernel.log").read_bytes()[-n:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def kill_now(self) -> None:
        """Kill the kernel process at once (from a signal handler: no event loop needed)."""
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            if proc is not None:
                proc.kill()
        except Exception:  # noqa: BLE001
            pass
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def shutdown(self, now: bool = False) -> None:
        kc, km, self.kc, self.km = self.kc, self.km, None, None
        try:
            if kc is not None:
                kc.stop_channels()
            if km is not None and km.has_kernel:
                await km.shutdown_kernel(now=now)
        except Exception:  # noqa: BLE001 - best effort
            pass
        if self._log:
            self._log.close()
            self._log = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class _ThreadState(threading.local):
    loop: asyncio.AbstractEventLoop | None = None
    kernel: WarmKernel | None = None


_STATE = _ThreadState()
_ALL: list[tuple[asyncio.AbstractEventLoop, WarmKernel]] = []
_ALL_LOCK = threading.Lock()


def _loop() -> asyncio.AbstractEventLoop:
    if _STATE.loop is None:
        _STATE.loop = asyncio.new_event_loop()
    return _STATE.loop


def _kernel(cwd: str) -> WarmKernel:
    k = _STATE.kernel
    if k is None or not k.alive:
        k = WarmKernel(cwd)
        _loop().run_until_complete(k.start())
        _STATE.kernel = k
        with _ALL_LOCK:
            _ALL.append((_loop(), k))
    return k


def _drop_kernel() -> None:
    k = _STATE.kernel
    _STATE.kernel = None
    if k is not None:
        _loop().run_until_complete(k.shutdown(now=True))


def warm_up(cwd: str) -> str:
    """Start this thread's kernel now (so that it boots while the driver works)."""
    try:
        _kernel(cwd)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the first task will retry and report
        return f"{type(exc).__name__}: {exc}"


def shutdown_kernels() -> int:
    """Stop every warm kernel of this process (at exit, or by the driver on Dask workers).

    Each kernel is shut down on its own event loop, from a helper thread (this may be
    called from a thread whose own loop is running, as Dask's ``Client.run`` does)."""
    with _ALL_LOCK:
        items = list(_ALL)
        _ALL.clear()

    def stop(loop, k):
        try:
            if loop.is_running() or loop.is_closed():
                k.kill_now()
            else:  # nothing to save in a kernel: no graceful shutdown handshake
                loop.run_until_complete(k.shutdown(now=True))
        except Exception:  # noqa: BLE001
            k.kill_now()

    for loop, k in items:
        t = threading.Thread(target=stop, args=(loop, k), daemon=True)
        t.start()
        t.join(30)
    _STATE.kernel = None
    return len(items)


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


def _worker_code_hash() -> str:
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
    kernel: WarmKernel | None = None
    attempt: _Attempt | None = None
    nb = None
    try:
        if task.code_hash and _worker_code_hash() != task.code_hash:
            raise RuntimeError("this worker runs a different version of the sipas code than the driver "
                               "(restart the workers after updating the code)")
        cwd = str(Path(task.notebook).parent)
        if "html" in task.steps:
            from sipas.publishing.render import notebook_html

            t0 = time.perf_counter()
            attempt = _Attempt(task, cwd)
            attempt.run(res)  # faults (issue 16): a dead kernel is replaced and the annex retried once
            nb, kernel, t1, details = attempt.nb, attempt.kernel, attempt.started, attempt.details
            t2 = time.perf_counter()
            with atomic_path(task.executed) as tmp:
                nbformat.write(nb, str(tmp))
            write_text(task.html, notebook_html(nb, title=task.title, kicker=task.kicker,
                                                footer=task.footer, nav=list(task.nav)))
            res.outputs["html"] = file_entry(task.html)
            res.outputs["ipynb"] = file_entry(task.executed)
            res.timings.update(kernel=round(t1 - t0, 3), execute=round(t2 - t1, 3),
                               render=round(time.perf_counter() - t2, 3))
            if kernel.count >= ANNEXES_PER_KERNEL:
                _drop_kernel()
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
            nb, kernel = attempt.nb, attempt.kernel
        if nb is not None:
            res.error, details = _cell_error(nb, exc)
        else:
            res.error = f"{type(exc).__name__}: {exc}"
            details = _ANSI.sub("", traceback.format_exc())
        if attempt is not None and attempt.details:
            details = f"{attempt.details}\n{details}"
        if kernel is not None:
            tail = kernel.log_tail()
            if tail.strip():
                details += f"\n--- kernel output (tail)\n{tail}\n"
        try:
            _drop_kernel()  # a fresh kernel for the next annex
        except Exception:  # noqa: BLE001
            _STATE.kernel = None
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
    _write_log(task, res, details)
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
        self.kernel: WarmKernel | None = None
        self.started = 0.0
        self.details = ""

    def _notebook(self):
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = load_notebook_node(self.task.notebook)
        _stable_cell_ids(nb, self.task.notebook)
        nb = parameterize_notebook(nb, self.task.parameters, kernel_name=KERNEL_NAME, language="python")
        for cell in nb.cells:  # papermill gives the injected cell a random id: make it stable
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell["id"] = "injected-parameters"
        return nb

    def run(self, res: AnnexResult) -> None:
        task = self.task
        for tries in (1, 2):
            self.kernel = kernel = _kernel(self.cwd)
            if _loop().run_until_complete(kernel.died()):  # died while idle (out of memory?): a new one
                _drop_kernel()
                self.kernel = kernel = _kernel(self.cwd)
            self.started = time.perf_counter()
            self.nb = self._notebook()
            try:
                _loop().run_until_complete(kernel.execute(self.nb, task.timeout, self.cwd, task.id))
                return
            except BaseException as exc:
                dead = isinstance(exc, Exception) and _loop().run_until_complete(kernel.died())
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
                _drop_kernel()
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
    try:
        from sipas.publishing import pdf as pdfmod
    except ImportError as exc:
        return f"sipas.publishing.pdf is not available ({exc})"
    from sipas.base.io import atomic_path

    try:
        with atomic_path(pdf) as tmp:
            pdfmod.render_pdf(Path(html), tmp)
    except pdfmod.PdfUnavailable as exc:
        return str(exc) or "no PDF renderer"
    return ""


def _write_log(task: AnnexTask, res: AnnexResult, details: str) -> None:
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


# ----------------------------------------------------------------------- local pool


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
        with _ALL_LOCK:
            for _loop_, k in _ALL:
                k.kill_now()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    # the HTML exporter and papermill are imported while the kernel boots (another process)
    warm = threading.Thread(target=_warm_worker_imports, daemon=True)
    warm.start()
    results.put(("ready", wid, warm_up(cwd)))
    warm.join()
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
        """Run ``tasks``; yield results as they complete (a dead worker fails its task only)."""
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
                        _write_log(t, res, "")
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
                    _write_log(t, res, "")
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


# ----------------------------------------------------------------------- dask


class DaskPool:
    """The same tasks on a Dask distributed cluster (an existing one, or a LocalCluster).

    Every Dask worker thread keeps its own warm kernel between tasks; with an existing
    cluster the kernels stay warm from one ``sipas run`` to the next. Faults (issue 16,
    :mod:`sipas.running.faults`): a worker whose ``sipas`` code differs from the driver's
    gets no task (``notes`` says so); a worker lost mid-run has its tasks rescheduled by
    Dask; a lost scheduler stops the run with :class:`~sipas.running.faults.SchedulerLost`.
    """

    GRACE = 30.0  # seconds the run waits for a worker with the right code to (re)appear

    def __init__(self, jobs: int, scheduler: str | None = None, cwd: str | None = None):
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.cwd = cwd
        self.client = None
        self.cluster = None
        self.good: list[str] | None = None  # None: any worker (a LocalCluster)
        self.notes: list[str] = []

    def start(self) -> DaskPool:
        import logging

        from distributed import Client, LocalCluster

        for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
                     "distributed.core", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)  # reconnection tracebacks
        if self.scheduler:
            self.client = _connect(self.scheduler)
        else:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        if self.scheduler:  # a LocalCluster runs this very code: any of its workers will do
            self._check_workers(patient=False)
        if self.cwd:  # boot a kernel in every worker while the driver computes keys
            workers = self.good or list(self.client.scheduler_info(n_workers=-1).get("workers", {}))
            self._warm = [self.client.submit(warm_up, self.cwd, workers=[w], allow_other_workers=False,
                                             pure=False, key=f"sipas-warm-{i}-{time.time_ns()}")
                          for i, w in enumerate(workers)]
        return self

    def _check_workers(self, patient: bool) -> None:
        """faults (issue 16): only the workers running the driver's code get tasks. Waits up
        to :attr:`GRACE` seconds for a worker to join; when the workers there all run other
        code, fails at once (``patient``: waits for a good one, as a restarted worker may be)."""
        from sipas.running.faults import check_workers, no_good_workers

        deadline = time.monotonic() + self.GRACE
        while True:
            if not self.client.scheduler_info(n_workers=-1).get("workers"):
                with _suppress():
                    self.client.wait_for_workers(1, timeout=max(1.0, deadline - time.monotonic()))
            good, refused = check_workers(self.client, _worker_code_hash())
            self.notes = list(refused.values())  # what the summary says of the workers left out
            if good:
                self.good = good
                return
            if (refused and not patient) or time.monotonic() >= deadline:
                raise no_good_workers(self.scheduler, refused)
            time.sleep(1.0)

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False, workers=self.good, allow_other_workers=False)

    def call(self, fn, *args):
        """``fn(*args)`` on a worker, waited for (the tables step); a lost scheduler stops the run."""
        from sipas.running.faults import is_connection_loss, scheduler_lost

        try:
            return self.submit(fn, *args).result()
        except (Exception, asyncio.CancelledError) as exc:
            if is_connection_loss(exc):
                raise scheduler_lost(self.scheduler, 0, 0) from None
            raise

    def _submit_task(self, t: AnnexTask):
        return self.client.submit(run_task, t, pure=False, workers=self.good, allow_other_workers=False,
                                  key=f"sipas-annex-{t.year}-{t.name}-{os.getpid()}-{time.time_ns()}")

    def run(self, tasks: list[AnnexTask], on_start=None) -> Iterator[AnnexResult]:
        from distributed import wait

        from sipas.running.faults import is_connection_loss, scheduler_lost

        if self.scheduler and self.good is not None:  # a standing pool (--watch): workers may have come or gone
            self._check_workers(patient=False)
        futures = {self._submit_task(t): t for t in tasks}
        done_count = 0
        while futures:
            try:
                try:
                    done, _ = wait(list(futures), timeout=2.0, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                if not done:
                    self._requeue_if_no_good_worker(futures)
                    continue
            except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001
                if is_connection_loss(exc):
                    raise scheduler_lost(self.scheduler, done_count, len(tasks)) from None
                raise
            for fut in sorted(done, key=lambda f: str(f.key)):
                t = futures.pop(fut)
                try:
                    res = fut.result()
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler
                    if is_connection_loss(exc):
                        raise scheduler_lost(self.scheduler, done_count, len(tasks)) from None
                    res = AnnexResult(t.year, t.name, False, 0.0, error=f"Dask: {type(exc).__name__}: {exc}")
                    _write_log(t, res, "")
                done_count += 1
                yield res

    def _requeue_if_no_good_worker(self, futures: dict) -> None:
        """faults (issue 16): the tasks are tied to the workers with the right code; when
        all of those are gone, tie the pending tasks to the good workers that joined since
        (or stop with a clear error after :attr:`GRACE` seconds without one)."""
        alive = set(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        if self.good is None or alive & set(self.good):
            return
        self._check_workers(patient=True)
        for fut in list(futures):
            t = futures.pop(fut)
            fut.cancel()
            futures[self._submit_task(t)] = t

    def close(self, cancel: bool = False) -> None:
        try:
            if self.cluster is not None and not cancel:
                self.client.run(shutdown_kernels)
        except Exception:  # noqa: BLE001
            pass
        if self.client is not None:
            with _suppress():
                self.client.close(timeout=5)
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _suppress():
    import contextlib

    return contextlib.suppress(Exception)


def _connect(address: str):
    """A client of the scheduler at ``address``, or a clear error when it cannot be reached."""
    from distributed import Client

    from sipas.base.errors import SipasError

    try:
        return Client(address, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise SipasError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__})",
                         hint="start it (`dask scheduler`) or check --scheduler") from None


def _atexit() -> None:
    shutdown_kernels()


import atexit  # noqa: E402

atexit.register(_atexit)
