"""Faults a run survives (issue 16), provoked on real processes.

A kernel killed during an annex (locally and on Dask), a ``dask worker`` killed mid-run,
the ``dask scheduler`` killed mid-run, and a worker with another version of the code.
The scheduler and workers are the ``dask`` command line of the project's environment,
started here on 127.0.0.1 with free ports and killed (with their kernels: each is the
leader of its own process group) whatever happens. Every test starts from a copy of one
clean run and marks a few annexes stale in its manifest, so it builds only those.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipas.running import cache

from .demo_project import sipas
from .test_batch_incremental import project

pytest.importorskip("distributed")

DASK = Path(sys.executable).with_name("dask")
UNITS = ("so-tu-phap", "tam-duong", "phong-tho")
ANNEXES = ("province", *UNITS)
KILL_ENV = "SIPAS_TEST_KILL_KERNEL"
KILL_WORKER_ENV = "SIPAS_TEST_KILL_WORKER"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as a nanny sets


# ------------------------------------------------------------------ the clean run


@pytest.fixture(scope="module")
def clean(demo, tmp_path_factory) -> Path:
    """A project with a clean local run of the province report and three units."""
    root = project(demo, tmp_path_factory.mktemp("faults") / "clean")
    sipas(root, "run", "--year", "2023", "--unit", ",".join(UNITS), "--jobs", "2")
    return root


def out(root: Path) -> Path:
    return root / "outputs" / "2023"


def page(root: Path, name: str) -> Path:
    return out(root) / ("province.html" if name == "province" else f"units/{name}.html")


def hashes(root: Path, *copied_from: Path) -> dict[str, str]:
    """The annexes' pages (sha256) and executed notebooks (sha256 with the project root,
    or the root of the project they were copied from, replaced: the ``root`` parameter is
    where, not what)."""
    h = {}
    for name in ANNEXES:
        h[name] = cache.file_sha(page(root, name))
        nb = (out(root) / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
        for r in sorted({str(root), *map(str, copied_from)}, key=len, reverse=True):
            nb = nb.replace(r, "ROOT")
        h[f"{name}.ipynb"] = cache.sha256_bytes(nb.encode())
    return h


def copy_of(clean: Path, where: Path, stale: tuple[str, ...]) -> Path:
    """A copy of the clean run whose annexes ``stale`` are out of date (their key in the
    manifest no longer matches: the next run rebuilds those and nothing else)."""
    shutil.copytree(clean, where, ignore=shutil.ignore_patterns(".sipas-run.lock"))
    mf = out(where) / "manifest.json"
    m = json.loads(mf.read_text(encoding="utf-8"))
    for e in m["artefacts"]:
        if e["id"] in {f"annex:{n}" for n in stale}:
            e["key"] = "stale"
    mf.write_text(json.dumps(m), encoding="utf-8")
    return where


def manifest(root: Path) -> dict[str, dict]:
    m = json.loads((out(root) / "manifest.json").read_text(encoding="utf-8"))
    return {e["id"]: e for e in m["artefacts"]}


def rebuilt(root: Path, before: dict[str, dict]) -> set[str]:
    """Annexes whose manifest entry changed since the snapshot ``before`` (a rebuilt entry
    gets its new key, build time, worker...)."""
    return {e["name"] for i, e in manifest(root).items() if e["kind"] == "annex" and e != before.get(i)}


def tokens(tmp: Path, n: int) -> Path:
    """A folder of ``n`` files: the kernel-kill hook fires once per file."""
    d = tmp / "kill-tokens"
    d.mkdir()
    for i in range(n):
        (d / str(i)).write_text("")
    return d


def start_run(root: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    e = {**_environ(), "SIPAS_ROOT": str(root), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "sipas.cli", "run", "--year", "2023",
                             "--unit", ",".join(UNITS), *args], cwd=root, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _environ() -> dict:
    """This environment without the kernel-kill hook (a test sets it where it wants it)."""
    return {k: v for k, v in os.environ.items() if k not in (KILL_ENV, KILL_WORKER_ENV)}


def finish(proc: subprocess.Popen, timeout: float = 150) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        _kill(proc)
    return proc.returncode, err


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the process and its children (kernels, workers)
    with contextlib.suppress(Exception):
        proc.wait(10)


def wait_for(cond, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ------------------------------------------------------------------- a real cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (each in its own
    process group, killed with its kernels by :meth:`close`)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.address = ""
        self.client = None

    def _spawn(self, args: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        fh = open(self.tmp / log, "ab")
        proc = subprocess.Popen([str(DASK), *args], stdout=fh, stderr=fh, start_new_session=True,
                                env={**_environ(), **ONE_THREAD, **(env or {})}, cwd=self.tmp)
        fh.close()
        self.procs.append(proc)
        return proc

    def scheduler(self) -> subprocess.Popen:
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        proc = self._spawn(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                           f"scheduler-{port}.log")
        import logging

        from distributed import Client

        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)  # its reconnection tracebacks
        self.client = Client(self.address, timeout="60s")  # retries until the scheduler listens
        return proc

    def worker(self, env: dict | None = None) -> tuple[subprocess.Popen, str]:
        port = free_port()
        proc = self._spawn(["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                            "--host", "127.0.0.1", "--worker-port", str(port)], f"worker-{port}.log", env)
        return proc, f"tcp://127.0.0.1:{port}"

    def wait_workers(self, *addresses: str) -> None:
        wait_for(lambda: set(addresses) <= set(self.client.scheduler_info(n_workers=-1)["workers"]),
                 90, f"workers {addresses}", every=0.3)

    def running_annex(self) -> tuple[str, set[str]] | None:
        """(a worker, the annexes it is processing), when one is processing annex tasks."""
        for w, keys in self.client.processing().items():
            names = {str(k).removeprefix("sipas-annex-2023-").rsplit("-", 2)[0]
                     for k in keys if str(k).startswith("sipas-annex-")}
            if names:
                return w, names
        return None

    def kill(self, proc: subprocess.Popen) -> None:
        _kill(proc)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=3)
        for proc in self.procs:
            _kill(proc)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def worker_pid(entry: dict) -> int:
    return int(entry["worker"].rsplit(":", 1)[1])


# ---------------------------------------------------------------- 1. a dead kernel


def test_kernel_killed_during_an_annex_is_replaced_and_the_annex_retried(clean, tmp_path):
    root = copy_of(clean, tmp_path / "p", stale=("so-tu-phap",))
    kill = tokens(tmp_path, 1)
    snap = manifest(root)
    code, err = finish(start_run(root, "--jobs", "1", env={KILL_ENV: f"2023/so-tu-phap={kill}"}))
    assert code == 0, err
    assert not any(kill.iterdir()), "the hook did not fire: the kernel was never killed"
    assert "4 annexes written, 0 failed" in err, err
    assert rebuilt(root, snap) == {"so-tu-phap"}
    assert hashes(root, clean) == hashes(clean)  # the retry gives the same bytes
    log = (out(root) / "logs" / "so-tu-phap.log").read_text(encoding="utf-8")
    assert "attempt 1: the kernel died" in log and "status: ok" in log


def test_kernel_that_dies_twice_fails_the_annex_and_keeps_its_previous_page(clean, tmp_path):
    root = copy_of(clean, tmp_path / "p", stale=("so-tu-phap",))
    before = manifest(root)["annex:so-tu-phap"]
    kill = tokens(tmp_path, 2)
    code, err = finish(start_run(root, "--jobs", "1", env={KILL_ENV: f"2023/so-tu-phap={kill}"}))
    assert code == 1, err
    assert not any(kill.iterdir())
    flat = " ".join(err.split())
    assert "the kernel died twice" in flat and "the previous page, if any, is kept" in flat, err
    assert "Traceback" not in err
    assert hashes(root, clean) == hashes(clean)  # the previous page and notebook are still there
    entry = manifest(root)["annex:so-tu-phap"]  # still describing them, with the failed attempt
    assert entry["status"] == "ok" and entry["outputs"] == before["outputs"]
    assert "the kernel died twice" in entry["last_attempt"]["error"]
    index = (out(root) / "index.html").read_text(encoding="utf-8")
    assert "units/so-tu-phap.html" in index  # the front door still links it
    # the next run (no fault) rebuilds that annex only
    snap2 = manifest(root)
    code, err = finish(start_run(root, "--jobs", "1"))
    assert code == 0, err
    assert rebuilt(root, snap2) == {"so-tu-phap"} and "last_attempt" not in manifest(root)["annex:so-tu-phap"]


def test_kernel_killed_on_a_dask_worker_is_replaced_and_the_annex_retried(clean, tmp_path, cluster):
    root = copy_of(clean, tmp_path / "p", stale=("tam-duong",))
    kill = tokens(tmp_path, 1)
    cluster.scheduler()
    proc, addr = cluster.worker(env={KILL_ENV: f"2023/tam-duong={kill}"})
    cluster.wait_workers(addr)
    code, err = finish(start_run(root, "--executor", "dask", "--scheduler", cluster.address))
    assert code == 0, err
    assert not any(kill.iterdir())
    assert hashes(root, clean) == hashes(clean)
    entry = manifest(root)["annex:tam-duong"]
    assert worker_pid(entry) == proc.pid and entry["status"] == "ok"
    assert "attempt 1: the kernel died" in (out(root) / "logs" / "tam-duong.log").read_text(encoding="utf-8")


# --------------------------------------------------------------- 2. a worker killed


def test_local_worker_process_killed_during_an_annex_is_replaced_and_the_annex_retried(clean, tmp_path):
    root = copy_of(clean, tmp_path / "p", stale=("tam-duong",))
    kill = tokens(tmp_path, 1)
    snap = manifest(root)
    code, err = finish(start_run(root, "--jobs", "1", env={KILL_WORKER_ENV: f"2023/tam-duong={kill}"}))
    assert code == 0, err
    assert not any(kill.iterdir()), "the hook did not fire: the worker was never killed"
    assert "4 annexes written, 0 failed" in err, err
    assert rebuilt(root, snap) == {"tam-duong"}
    assert hashes(root, clean) == hashes(clean)


def test_worker_killed_mid_run_its_annexes_are_rescheduled_byte_identical(clean, tmp_path, cluster):
    root = copy_of(clean, tmp_path / "p", stale=ANNEXES)
    cluster.scheduler()
    workers = dict(cluster.worker() for _ in range(2))  # proc -> address
    by_addr = {a: p for p, a in workers.items()}
    cluster.wait_workers(*by_addr)
    snap = manifest(root)
    run = start_run(root, "--executor", "dask", "--scheduler", cluster.address)
    try:
        # mid-run: an annex finished, and a worker is building another one
        victim, lost = wait_for(lambda: rebuilt(root, snap) and cluster.running_annex(), 120,
                                "an annex done, one running")
        cluster.kill(by_addr[victim])
        code, err = finish(run)
    finally:
        _kill(run)
    assert code == 0, err
    assert "4 annexes written, 0 failed" in err, err
    assert rebuilt(root, snap) == set(ANNEXES)
    assert hashes(root, clean) == hashes(clean)
    survivor = next(p for a, p in by_addr.items() if a != victim)
    assert {worker_pid(manifest(root)[f"annex:{n}"]) for n in lost} == {survivor.pid}  # rescheduled
    assert {worker_pid(manifest(root)[f"annex:{n}"]) for n in ANNEXES} <= {p.pid for p in workers}


# ------------------------------------------------------------- 3. the scheduler lost


def test_scheduler_lost_mid_run_stops_clearly_and_the_next_run_builds_the_rest(clean, tmp_path, cluster):
    root = copy_of(clean, tmp_path / "p", stale=ANNEXES)
    scheduler = cluster.scheduler()
    first = [cluster.worker() for _ in range(2)]
    cluster.wait_workers(*(a for _, a in first))
    snap = manifest(root)
    run = start_run(root, "--executor", "dask", "--scheduler", cluster.address)
    try:
        wait_for(lambda: rebuilt(root, snap) and cluster.running_annex(), 120, "an annex done, one running")
        cluster.kill(scheduler)
        code, err = finish(run)
    finally:
        _kill(run)
    for proc, _ in first:  # the old workers are gone too (whatever they were doing)
        cluster.kill(proc)
    assert code == 3, err
    assert "the Dask scheduler at" in err and "was lost during the run" in err, err
    assert "builds only what is missing" in err and "Traceback" not in err
    done = rebuilt(root, snap)
    assert done and done != set(ANNEXES)
    # nothing half-written: every page whole, the manifest readable and true of the disk
    for name in ANNEXES:
        assert page(root, name).read_text(encoding="utf-8").rstrip().endswith("</html>"), name
    m = manifest(root)
    for name in done:
        for o in m[f"annex:{name}"]["outputs"]:
            assert cache.file_sha(out(root) / o["path"]) == o["sha256"], o["path"]
    # scheduler and workers restarted: the next run builds the rest, and only the rest
    cluster.client.close(timeout=3)
    cluster.scheduler()
    _, addr = cluster.worker()
    cluster.wait_workers(addr)
    snap2 = manifest(root)
    code, err = finish(start_run(root, "--executor", "dask", "--scheduler", cluster.address))
    assert code == 0, err
    assert rebuilt(root, snap2) == set(ANNEXES) - done
    assert hashes(root, clean) == hashes(clean)


# ------------------------------------------------------- 4. a worker with other code


def other_code(tmp: Path) -> Path:
    """A copy of the ``sipas`` package with one byte more: another version of the code."""
    import sipas

    dst = tmp / "other-sipas"
    shutil.copytree(Path(sipas.__file__).parent, dst / "sipas", ignore=shutil.ignore_patterns("__pycache__"))
    with open(dst / "sipas" / "__init__.py", "a", encoding="utf-8") as fh:
        fh.write("\n# another version\n")
    return dst


def test_worker_with_other_code_gets_no_task_and_the_summary_says_so(clean, tmp_path, cluster):
    root = copy_of(clean, tmp_path / "p", stale=("so-tu-phap", "tam-duong"))
    cluster.scheduler()
    good, good_addr = cluster.worker()
    bad, bad_addr = cluster.worker(env={"PYTHONPATH": str(other_code(tmp_path))})
    cluster.wait_workers(good_addr, bad_addr)
    snap = manifest(root)
    code, err = finish(start_run(root, "--executor", "dask", "--scheduler", cluster.address))
    assert code == 0, err
    flat = " ".join(err.split())
    assert f"Dask worker {bad_addr} runs another version of the sipas code" in flat, err
    assert good_addr not in flat
    assert rebuilt(root, snap) == {"so-tu-phap", "tam-duong"}
    assert {worker_pid(manifest(root)[f"annex:{n}"]) for n in ("so-tu-phap", "tam-duong")} == {good.pid}
    assert hashes(root, clean) == hashes(clean)
    # with no good worker left, the run fails at once, clearly, and builds nothing
    cluster.kill(good)
    wait_for(lambda: good_addr not in cluster.client.scheduler_info(n_workers=-1)["workers"], 60, "the good worker gone")
    copy = copy_of(clean, tmp_path / "q", stale=("so-tu-phap",))
    snap2 = manifest(copy)
    code, err = finish(start_run(copy, "--executor", "dask", "--scheduler", cluster.address), timeout=90)
    flat = " ".join(err.split())
    assert code == 2, err
    assert "no Dask worker of" in flat and f"Dask worker {bad_addr} runs another version" in flat, err
    assert "Traceback" not in err and rebuilt(copy, snap2) == set()


# ------------------------------------------------------------- 5. a national run


def test_national_run_notes_a_refused_worker_and_stops_clearly_when_the_scheduler_is_lost(tmp_path, cluster):
    from .test_national import PROVINCES, tiny_national

    folder = tiny_national(tmp_path / "project")
    cluster.scheduler()
    good, good_addr = cluster.worker()
    bad, bad_addr = cluster.worker(env={"PYTHONPATH": str(other_code(tmp_path))})
    cluster.wait_workers(good_addr, bad_addr)

    def run(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "sipas.cli", "run", "--provinces", str(folder), "--year", "2025",
                                 "--executor", "dask", "--scheduler", cluster.address, *args], cwd=folder.parent,
                                env={**_environ(), "SIPAS_ROOT": str(folder.parent)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    code, err = finish(run(), timeout=300)
    flat = " ".join(err.split())
    assert code == 0, err
    assert "2 provinces; 10 annexes written, 0 failed" in flat, err
    assert f"NOTE Dask worker {bad_addr} runs another version of the sipas code" in flat, err
    workers = {a["worker"] for pid in PROVINCES for a in json.loads(
        (folder / pid / "outputs" / "2025" / "manifest.json").read_text(encoding="utf-8"))["artefacts"]
        if a["kind"] == "annex"}
    assert {int(w.rsplit(":", 1)[1]) for w in workers} == {good.pid}
    # the scheduler lost during the annexes: the same clear stop as a one-province run
    proc = run("--force")
    try:
        wait_for(lambda: any(str(k).startswith("sipas-annex-") for keys in cluster.client.processing().values()
                             for k in keys), 200, "an annex running")
        cluster.kill(cluster.procs[0])  # the scheduler
        code, err = finish(proc)
    finally:
        _kill(proc)
    flat = " ".join(err.split())
    assert code == 3, err
    assert "the Dask scheduler at" in flat and "was lost during the run" in flat, err
    assert "builds only what is missing" in flat and "Traceback" not in err
