"""Benchmark (not a test) of the national run (issue 16): ``sipas run --provinces DIR``.

The national demo (``sipas.demo.write_national_demo``, year 2025: by default all 34
provinces, about 3,900 annexes; ``--provinces K`` the K smallest, ``--province-ids`` named
ones) is generated in a temporary folder and its intake run once (not timed). Then,
each time from no outputs (HTML only, the processed data kept):

1. the local executor with ``--jobs 1``;
2. the local executor with ``--jobs 2``;
3. a Dask cluster of separate processes on 127.0.0.1 (``dask scheduler`` and two
   ``dask worker --nworkers 1 --nthreads 1``, started here), ``--executor dask
   --scheduler``, against the local executor with 2 workers (run 2), same subset.

For each: wall time, annexes per minute, CPU per annex (user + system of every process
of the run: driver, workers, kernels, and the Dask processes, sampled every 0.1 s),
the peak memory of one worker (a worker process with its kernel, the largest), the
driver's peak, and whether the annex pages are byte-identical to run 2's. Then the
scaling ratio (annexes per minute, 2 workers / 1) and the targets: whole country in 20
minutes or less on 2 cores, scaling 1.8x or more.

    .venv/bin/python benchmarks/bench_national.py                 # the whole country (long)
    .venv/bin/python benchmarks/bench_national.py --provinces 2   # two provinces, about 110 annexes per run
    .venv/bin/python benchmarks/bench_national.py --provinces 2 --communes 3   # a check that it works
    .venv/bin/python benchmarks/bench_national.py --scaling-provinces 4  # the country with 2 workers, then
                                                 # 1 vs 2 workers and Dask on its 4 smallest provinces
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import BIN, NATIONAL_YEAR, REPO, smallest_provinces  # noqa: E402

TARGET_MINUTES, TARGET_SCALING = 20.0, 1.8
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Monitor:
    """CPU and memory of some process trees, sampled every 0.1 s while a run lasts."""

    def __init__(self, roots: list[int]):
        self.roots, self.cpu, self.base, self.peak_worker, self.peak_driver = roots, {}, {}, 0, 0
        self._stop = threading.Event()
        self._sample(baseline=True)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _procs(self) -> list[psutil.Process]:
        out = []
        for pid in self.roots:
            try:
                top = psutil.Process(pid)
                out += [top, *top.children(recursive=True)]
            except psutil.Error:
                pass
        return out

    def _sample(self, baseline: bool = False) -> None:
        rss, parent = {}, {}
        kernels = []
        for p in self._procs():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())
                    self.cpu[key] = t.user + t.system
                    if baseline:
                        self.base[key] = self.cpu[key]
                    rss[p.pid] = p.memory_info().rss
                    parent[p.pid] = p.ppid()
                    if any("ipykernel" in a for a in p.cmdline()):
                        kernels.append(p.pid)
            except psutil.Error:
                pass
        for k in kernels:  # a worker = the process that started a kernel, with its kernel
            self.peak_worker = max(self.peak_worker, rss.get(k, 0) + rss.get(parent.get(k), 0))
        if self.roots and self.roots[0] in rss:
            self.peak_driver = max(self.peak_driver, rss[self.roots[0]])

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def stop(self) -> float:
        """Stop sampling; the CPU seconds used since the start."""
        self._stop.set()
        self.thread.join()
        return sum(v - self.base.get(k, 0.0) for k, v in self.cpu.items())


def make_national(folder: Path, ids: list[str], communes: int | None) -> float:
    """The demo provinces under ``folder``, their intake done (as `sipas run` would); seconds.
    ``communes``: that many commune-level units per province instead of the demo's (a quick check)."""
    import yaml

    from sipas.demo import write_national_demo
    from sipas.running import cache
    from sipas.running.national import intake_step

    t0 = time.perf_counter()
    src = REPO
    if communes:
        src = folder.parent / "project"
        for d in ("params", "notebooks"):
            shutil.copytree(REPO / d, src / d)
        demo = src / "params" / "demo.yaml"
        data = yaml.safe_load(demo.read_text(encoding="utf-8"))
        data["national"]["communes_per_province"] = [communes, communes]
        demo.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    write_national_demo(NATIONAL_YEAR, out=folder, provinces=ids, root=src)
    code = cache.source_hash()
    for pid in ids:
        intake_step(NATIONAL_YEAR, str(folder / pid), code)
    return time.perf_counter() - t0


def clean(folder: Path) -> None:
    for d in folder.iterdir():
        if d.is_dir() and (d / "params").is_dir():
            shutil.rmtree(d / "outputs", ignore_errors=True)
    for name in ("index.html", "manifest.json", "tables", "logs", f"tong-hop-{NATIONAL_YEAR}.xlsx"):
        target = folder / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


def pages(folder: Path) -> dict[str, str]:
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.glob(f"*/outputs/{NATIONAL_YEAR}/**/*.html"))}


def annexes_built(folder: Path) -> tuple[int, float]:
    n, tables = 0, 0.0
    for m in sorted(folder.glob(f"*/outputs/{NATIONAL_YEAR}/manifest.json")):
        arts = json.loads(m.read_text(encoding="utf-8"))["artefacts"]
        n += sum(a["kind"] == "annex" and a["status"] == "ok" for a in arts)
        tables += sum(a["seconds"] for a in arts if a["id"] == "tables")
    return n, tables


def national_run(folder: Path, jobs: int, extra: list[str], watch: list[int]) -> dict:
    clean(folder)
    cmd = [str(BIN / "sipas"), "run", "--provinces", str(folder), "--year", str(NATIONAL_YEAR), "--formats", "html",
           "--jobs", str(jobs), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**ENV, "SIPAS_ROOT": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    mon = Monitor([proc.pid, *watch])
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    cpu = mon.stop()
    n, tables = annexes_built(folder)
    last = [line for line in err.splitlines() if "annexes written" in line]
    return {"seconds": seconds, "annexes": n, "annexes_per_min": n / seconds * 60, "cpu_s": cpu,
            "cpu_per_annex": cpu / max(n, 1), "peak_worker_mb": mon.peak_worker / 2**20,
            "peak_driver_mb": mon.peak_driver / 2**20, "tables_s": tables, "exit": proc.returncode,
            "summary": last[-1].strip() if last else err[-2000:], "pages": pages(folder)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_cluster(n: int) -> tuple[str, list[subprocess.Popen]]:
    """``dask scheduler`` and ``n`` separate ``dask worker`` processes on 127.0.0.1."""
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    log = open(os.devnull, "wb")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=ENV, stdout=log, stderr=log)]
    procs += [subprocess.Popen([str(BIN / "dask"), "worker", addr, "--nworkers", "1", "--nthreads", "1",
                                "--no-dashboard", "--name", f"bench-{i}"], env=ENV, stdout=log, stderr=log, cwd=REPO)
              for i in range(n)]
    from distributed import Client

    with Client(addr, timeout="60s") as c:
        c.wait_for_workers(n, timeout=120)
    return addr, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def line(label: str, r: dict) -> str:
    return (f"  {label}: {r['annexes']} annexes in {r['seconds']:.1f} s = {r['annexes_per_min']:.1f} per minute; "
            f"CPU {r['cpu_s']:.1f} s = {r['cpu_per_annex']:.2f} s per annex; peak memory of a worker (process + "
            f"kernel) {r['peak_worker_mb']:.0f} MB, driver {r['peak_driver_mb']:.0f} MB; tables steps "
            f"{r['tables_s']:.1f} s; exit {r['exit']}; {r['summary']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provinces", type=int, default=34, help="the K smallest provinces (34: the whole country)")
    ap.add_argument("--province-ids", default="", help="these provinces instead (comma separated)")
    ap.add_argument("--communes", type=int, default=None,
                    help="commune-level units per province instead of the demo's 40-160 (a quick check)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask cluster run")
    ap.add_argument("--scaling-provinces", type=int, default=0,
                    help="run the whole set once with 2 workers, then the 1-vs-2-worker and Dask comparisons on "
                         "its K smallest provinces only (`--province`), so the whole country fits in one sitting")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    ids = [x for x in args.province_ids.split(",") if x] or smallest_provinces(args.provinces)
    tmp = Path(tempfile.mkdtemp(prefix="sipas-bench-national-"))
    folder = tmp / "national"
    fig: dict = {"machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                             "python": platform.python_version(), "load_avg_at_start": os.getloadavg()},
                 "provinces": ids}
    print(f"sipas national benchmark — {os.cpu_count()} cores, {fig['machine']['memory_gb']} GB, Python "
          f"{platform.python_version()}, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{len(ids)} provinces", flush=True)
    try:
        fig["prepare_s"] = make_national(folder, ids, args.communes)
        print(f"demo data and intake of {len(ids)} provinces: {fig['prepare_s']:.1f} s (not timed below)", flush=True)
        subset: list[str] = []
        if 0 < args.scaling_provinces < len(ids):
            fig["all2"] = r = national_run(folder, 2, [], [])
            print(line(f"all {len(ids)} provinces, local executor, --jobs 2", r), flush=True)
            subset = ids[:args.scaling_provinces]
            fig["subset"] = subset
            print(f"comparisons below on {len(subset)} provinces: {', '.join(subset)}", flush=True)
        only = ["--province", ",".join(subset)] if subset else []
        for j in (1, 2):
            fig[f"local{j}"] = r = national_run(folder, j, only, [])
            print(line(f"local executor, --jobs {j}", r), flush=True)
        if not args.no_dask:
            addr, procs = dask_cluster(2)
            try:
                fig["dask2"] = r = national_run(folder, 2, [*only, "--executor", "dask", "--scheduler", addr],
                                                [p.pid for p in procs])
            finally:
                stop(procs)
            r["identical_to_local"] = r["pages"] == fig["local2"]["pages"]
            print(line("Dask cluster, separate scheduler + 2 `dask worker` processes", r), flush=True)
            print(f"  pages byte-identical to the local executor's: {r['identical_to_local']}; Dask / local "
                  f"wall time {r['seconds'] / fig['local2']['seconds']:.2f}x", flush=True)
        fig["scaling"] = fig["local2"]["annexes_per_min"] / fig["local1"]["annexes_per_min"]
        total_min = fig.get("all2", fig["local2"])["seconds"] / 60
        print(f"\nscaling, 2 workers / 1: {fig['scaling']:.2f}x annexes per minute (target ≥ {TARGET_SCALING}x: "
              f"{'met' if fig['scaling'] >= TARGET_SCALING else 'NOT met'})")
        scope = "the whole country" if len(ids) == 34 else f"{len(ids)} provinces (not the whole country)"
        print(f"{scope}, 2 workers: {total_min:.1f} min (target for the whole country ≤ {TARGET_MINUTES:g} min"
              + (f": {'met' if total_min <= TARGET_MINUTES else 'NOT met'})" if len(ids) == 34 else ")"))
        print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.json:
            for k in ("all2", "local1", "local2", "dask2"):
                fig.get(k, {}).pop("pages", None)
            args.json.write_text(json.dumps(fig, indent=1, ensure_ascii=False), encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
