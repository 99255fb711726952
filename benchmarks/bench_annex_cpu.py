"""CPU seconds per unit annex in a warm worker: this checkout against a baseline checkout.

    python benchmarks/bench_annex_cpu.py --baseline /path/to/other/checkout [--baseline ...] [--rounds 3]

A throw-away project (params and notebooks of this checkout, ``sipas demo-data``,
``validate`` and ``estimate`` of ``--year``) is built once; then, round after round and in
alternating order (baseline first in even rounds), each code tree renders the year's unit
annexes (HTML) in a one-worker :class:`sipas.running.local_pool.LocalPool`, started in its
own interpreter with ``PYTHONPATH=<tree>/src``. The first ``--warm`` annexes warm the
worker and its kernel up and are not counted; the figures are the user + system CPU of the
worker process and of its kernel (the worker's descendants, psutil) over the year's unit
annexes, divided by their number, and the wall time per annex. Timings are noisy on a loaded
machine: compare the two trees of the same round, and read the load printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu(pids: list[int]) -> tuple[float, float]:
    """User + system CPU seconds of the processes ``pids`` and of all their descendants."""
    import psutil

    own = below = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            t = proc.cpu_times()
            own += t.user + t.system
            for p in proc.children(recursive=True):
                t = p.cpu_times()
                below += t.user + t.system
        except psutil.Error:
            pass
    return own, below


def child(root: Path, year: int, warm: int, out: Path) -> None:
    """Runs under the measured tree's code: render the year's unit annexes in one worker."""
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.running.cache import source_hash, versions
    from sipas.running.executor import AnnexTask
    from sipas.running.local_pool import LocalPool
    from sipas.running.plan import PROVINCE_TASK, plan
    from sipas.running.year import YearJob

    cfg = YearConfig(year, paths(root))
    annexes = [a for a in plan(cfg, None) if a.name != PROVINCE_TASK]
    job = YearJob(cfg, annexes, ("html",), False, source_hash(), versions(), 600)

    def task(a, where: Path) -> AnnexTask:
        t = job.task(a, ("html",))
        return AnnexTask(**{**t.__dict__, "html": str(where / f"{a.name}.html"),
                            "executed": str(where / f"{a.name}.ipynb"), "log": str(where / f"{a.name}.log")})

    with LocalPool(1, str(root)) as pool:
        for res in pool.run([task(a, out / "warm") for a in annexes[:warm]]):
            assert res.ok, res.error
        pids = [p.pid for p in pool.procs.values()]
        before, wall = _cpu(pids), time.perf_counter()
        for res in pool.run([task(a, out / "measured") for a in annexes]):
            assert res.ok, res.error
        after, wall = _cpu(pids), time.perf_counter() - wall
    n = len(annexes)
    worker, kernel = ((a - b) / n for a, b in zip(after, before))
    print(json.dumps({"annexes": n, "cpu": worker + kernel, "worker": worker, "kernel": kernel, "wall": wall / n}))


def build(root: Path, year: int) -> None:
    for folder in ("params", "notebooks"):
        subprocess.run(["cp", "-r", str(REPO / folder), str(root / folder)], check=True)
    env = {**os.environ, "SIPAS_ROOT": str(root), "PYTHONPATH": str(REPO / "src")}
    for cmd in (["demo-data", "--year", str(year)], ["validate", "--year", str(year)],
                ["estimate", "--year", str(year)]):
        subprocess.run([sys.executable, "-m", "sipas.cli", *cmd], cwd=root, env=env, check=True,
                       capture_output=True)


def measure(tree: Path, root: Path, year: int, warm: int, out: Path) -> dict:
    env = {**os.environ, "SIPAS_ROOT": str(root), "PYTHONPATH": str(tree / "src"),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, __file__, "--child", str(root), "--year", str(year), "--warm", str(warm),
                           "--out", str(out)], env=env, capture_output=True, text=True, cwd=root)
    if proc.returncode:
        raise SystemExit(f"{tree}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, action="append", default=[],
                    help="another checkout of sipas (its src/ is used); repeatable")
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm", type=int, default=3, help="annexes rendered first and not counted")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.year, a.warm, a.out)
    trees = {**{f"baseline{i + 1}" if len(a.baseline) > 1 else "baseline": b.resolve()
                for i, b in enumerate(a.baseline)}, "this": REPO}
    with tempfile.TemporaryDirectory(prefix="sipas-bench-cpu-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        build(root, a.year)
        got: dict[str, list[dict]] = {name: [] for name in trees}
        for r in range(a.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                m = measure(trees[name], root, a.year, a.warm, Path(tmp) / f"{name}-{r}")
                got[name].append(m)
                print(f"round {r + 1} {name:9s}: {m['cpu']:.3f} s CPU/annex (worker {m['worker']:.3f}, kernel "
                      f"{m['kernel']:.3f}), {m['wall']:.3f} s wall/annex ({m['annexes']} annexes; load "
                      f"{os.getloadavg()[0]:.2f})", flush=True)
        for name, ms in got.items():
            med = {k: statistics.median(m[k] for m in ms) for k in ("cpu", "worker", "kernel", "wall")}
            print(f"{name:9s} median: {med['cpu']:.3f} s CPU per annex (worker {med['worker']:.3f}, kernel "
                  f"{med['kernel']:.3f}), {med['wall']:.3f} s wall")


if __name__ == "__main__":
    main()
