"""Warm kernels: one IPython kernel per worker thread, kept running between annexes.

The kernel pre-imports pandas, matplotlib and the ``sipas`` modules once
(:mod:`sipas.running.kernel_state`); before every annex it is reset to that state (user
namespace, execution counter, matplotlib rcParams and figures, pandas options, random
states, working folder, environment, ``sipas`` module attributes). The caller
(:func:`sipas.running.executor.run_task`) replaces it after a failure, a timeout, a dead
kernel, or ``SIPAS_ANNEXES_PER_KERNEL`` annexes (default 200). A kernel that dies *during*
an annex (killed, out of memory: :meth:`WarmKernel.died`) is replaced and the annex retried
once (:class:`sipas.running.executor._Attempt`, issue 16).

Kernels talk over ``ipc`` sockets in a private temporary folder (no TCP ports, so no port
clashes between parallel kernels and no unencrypted-TCP warning); a failed start is
retried (3 attempts); the kernel's own stdout/stderr go to a file whose tail is added to
the annex's log when it fails. Every kernel of the process is stopped at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

KERNEL_NAME = "python3"
START_ATTEMPTS = 3


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
        self.on_launch = None  # called once, as soon as the kernel process is started

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
        launched, self.on_launch = self.on_launch, None
        if launched is not None:
            launched()
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


STATE = _ThreadState()
_ALL: list[tuple[asyncio.AbstractEventLoop, WarmKernel]] = []
_ALL_LOCK = threading.Lock()


def event_loop() -> asyncio.AbstractEventLoop:
    if STATE.loop is None:
        STATE.loop = asyncio.new_event_loop()
    return STATE.loop


def kernel_for(cwd: str, on_launch=None) -> WarmKernel:
    k = STATE.kernel
    if k is None or not k.alive:
        k = WarmKernel(cwd)
        k.on_launch = on_launch
        event_loop().run_until_complete(k.start())
        STATE.kernel = k
        with _ALL_LOCK:
            _ALL.append((event_loop(), k))
    return k


def drop_kernel() -> None:
    k = STATE.kernel
    STATE.kernel = None
    if k is not None:
        event_loop().run_until_complete(k.shutdown(now=True))


def warm_up(cwd: str, on_launch=None) -> str:
    """Start this thread's kernel now (so that it boots while the driver works);
    ``on_launch()`` is called as soon as its process is started (then, not before, the
    worker imports what it needs itself: the kernel's boot is what the first annex waits for)."""
    try:
        kernel_for(cwd, on_launch)
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
    STATE.kernel = None
    return len(items)


def kill_all_now() -> None:
    """Kill every kernel of this process at once (a worker's SIGTERM handler)."""
    with _ALL_LOCK:
        for _loop_, k in _ALL:
            k.kill_now()


atexit.register(shutdown_kernels)
