"""A fresh `sipas run` after one unit's comment changed (and a cold run): this checkout against baselines.

    python benchmarks/bench_fresh_run.py --baseline /path/to/other/checkout [--rounds 5] [--cold 2]

The "one unit's comment changed" row of ``bench_batch.py`` (the unit's annex and the
province report rebuilt, the tables not), measured for several code trees in the same
run: a throw-away project (params and notebooks of this checkout, ``sipas demo-data`` and
``validate`` of ``--year``) is copied once per tree and built cold by that tree; then,
round after round in alternating order (baselines first in even rounds), each tree's copy
gets one more comment edit and a fresh ``sipas run --formats html`` (``python -m sipas.cli``
with ``PYTHONPATH=<tree>/src``; each tree's ``src`` must hold its bytecode, ``python -m
compileall <tree>/src``, as ``make setup`` does for this one). Figures: wall seconds and
the user + system CPU of the run's whole process tree (driver, workers, kernels: the
waited-for descendants, ``getrusage``). ``--cold`` rounds also time a cold run (outputs
removed) and its tables step (from the manifest). Medians; the load average is printed
beside each round: compare the trees of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = "tam-duong"


def run(tree: Path, root: Path, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the process tree, process) of ``sipas *args`` under ``tree``'s code."""
    env = {**os.environ, "SIPAS_ROOT": str(root), "PYTHONPATH": str(tree / "src")}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sipas.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
    if proc.returncode:
        raise SystemExit(f"{tree}: sipas {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return wall, cpu, proc


def edit_comment(root: Path, year: int, n: int) -> None:
    import pandas as pd

    path = root / "data" / "processed" / str(year) / "responses.parquet"
    df = pd.read_parquet(path)
    df.loc[df.index[df.unit_id == UNIT][0], "comment"] = f"Ý kiến đã sửa lần {n}"
    df.to_parquet(path, index=False)


def written(stderr: str) -> str:
    return next((ln.strip() for ln in stderr.splitlines()[::-1] if "annexes written" in ln), "?")


def tables_seconds(root: Path, year: int) -> float:
    m = json.loads((root / "outputs" / str(year) / "manifest.json").read_text(encoding="utf-8"))
    return sum(a["seconds"] for a in m["artefacts"] if a["id"] == "tables")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, action="append", default=[],
                    help="another checkout of sipas (its src/ is used); repeatable")
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--rounds", type=int, default=5, help="one-comment runs per tree")
    ap.add_argument("--cold", type=int, default=1, help="cold runs per tree (after the one-comment rounds)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    trees = {**{f"baseline{i + 1}" if len(a.baseline) > 1 else "baseline": b.resolve()
                for i, b in enumerate(a.baseline)}, "this": REPO}
    y, jobs = str(a.year), ["--jobs", str(a.jobs)]
    print(f"load average at start {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sipas-bench-fresh-") as tmp:
        base = Path(tmp) / "project"
        base.mkdir()
        for folder in ("params", "notebooks"):
            shutil.copytree(REPO / folder, base / folder)
        for cmd in (["demo-data", "--year", y], ["validate", "--year", y]):
            run(REPO, base, *cmd)
        roots = {}
        for name, tree in trees.items():
            roots[name] = Path(tmp) / name
            shutil.copytree(base, roots[name])
            run(tree, roots[name], "run", "--year", y, "--formats", "html", *jobs)  # cold, not counted
        got: dict[str, dict[str, list[float]]] = {name: {} for name in trees}

        def note(name, key, value):
            got[name].setdefault(key, []).append(value)

        for r in range(a.rounds + a.cold):
            order = list(trees) if r % 2 else list(reversed(trees))
            for name in order:
                root = roots[name]
                if r < a.rounds:
                    edit_comment(root, a.year, r)
                    wall, cpu, p = run(trees[name], root, "run", "--year", y, "--formats", "html", *jobs)
                    note(name, "wall", wall)
                    note(name, "cpu", cpu)
                    what = "one comment"
                else:
                    shutil.rmtree(root / "outputs")
                    wall, cpu, p = run(trees[name], root, "run", "--year", y, "--formats", "html", *jobs)
                    note(name, "cold_wall", wall)
                    note(name, "cold_cpu", cpu)
                    note(name, "tables", tables_seconds(root, a.year))
                    what = f"cold (tables {got[name]['tables'][-1]:.2f} s)"
                print(f"round {r + 1} {name:9s} {what}: {wall:.2f} s wall, {cpu:.2f} s CPU; {written(p.stderr)} "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
        for name, g in got.items():
            med = {k: statistics.median(v) for k, v in g.items()}
            line = f"{name:9s} median: one comment {med['wall']:.2f} s wall, {med['cpu']:.2f} s CPU"
            if "cold_wall" in med:
                line += (f"; cold {med['cold_wall']:.2f} s wall, {med['cold_cpu']:.2f} s CPU, "
                         f"tables step {med['tables']:.2f} s")
            print(line)
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
