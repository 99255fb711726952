"""CPU seconds of the tables step (``sipas.estimation.tables.write_tables``): this checkout
against a baseline checkout.

    python benchmarks/bench_tables.py --baseline /path/to/other/checkout PROJECT:YEAR [PROJECT:YEAR ...]
        [--rounds 3]

Each ``PROJECT:YEAR`` is a project root whose processed microdata of ``YEAR`` exist
(``sipas validate`` done: a scratch demo project, or one province of ``sipas run
--provinces``). Round after round, in alternating order (baseline first in odd rounds),
each code tree computes and writes the tables of every project in its own interpreter
(``PYTHONPATH=<tree>/src``, one BLAS thread as under ``sipas``); the figure is the
process's user + system CPU seconds around ``write_tables`` (imports, SciPy's included,
not counted). The tables are written into the project, so both trees write over the same
files: compare their outputs elsewhere. Prints each measure with the load, then the
medians and the ratio baseline / this per project.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(root: str, year: int) -> None:
    """Runs under the measured tree's code."""
    import time

    import scipy.stats  # noqa: F401  (imported by the tables step; not what is measured)
    import statsmodels.api  # noqa: F401

    from sipas.base.config import paths
    from sipas.estimation.tables import write_tables

    p = paths(root)
    t = time.process_time()
    write_tables(year, p)
    print(json.dumps({"cpu": time.process_time() - t}))


def measure(tree: Path, root: str, year: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, __file__, "--child", root, str(year)], env=env, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"{tree}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["cpu"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("projects", nargs="*", help="PROJECT_ROOT:YEAR")
    ap.add_argument("--baseline", type=Path, required="--child" not in sys.argv,
                    help="another checkout of sipas (its src/ is used)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child[0], int(a.child[1]))
    trees = {"baseline": a.baseline.resolve(), "this": REPO}
    projects = [(root, int(year)) for root, year in (p.rsplit(":", 1) for p in a.projects)]
    got = {(name, p): [] for name in trees for p in projects}
    for r in range(a.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for root, year in projects:
            for name in order:
                cpu = measure(trees[name], root, year)
                got[name, (root, year)].append(cpu)
                print(f"round {r + 1} {name:8s} {root}:{year}: {cpu:.2f} s CPU (load {os.getloadavg()[0]:.2f})",
                      flush=True)
    for p in projects:
        base, this = (statistics.median(got[name, p]) for name in trees)
        print(f"{p[0]}:{p[1]}  median baseline {base:.2f} s, this {this:.2f} s CPU, ratio {base / this:.2f}x "
              f"({a.rounds} rounds)")


if __name__ == "__main__":
    main()
