"""What the official Word documents and their PDF add to a demo year (issue 14: ≤ 30 s).

In a throw-away copy of the project (params and notebooks from this checkout, demo data
generated, intake and tables run once), for one year (default 2023; ``--year 2025`` has
50 units), cold runs (``--force``) of:

1. ``sipas run --formats html``                 (the baseline);
2. ``sipas run --formats html,docx``            (+ the Word documents, built by the driver
                                                 while the workers render the HTML);
3. ``sipas run --formats html,pdf,xlsx``        (the former full set);
4. ``sipas run --formats html,pdf,xlsx,docx``   (+ Word and the Word files' PDF);

and, on their own, ``build_year`` (all Word files) and ``to_pdf`` (one LibreOffice
process for all of them). Prints each figure (median of ``--repeat``) and the differences
2 − 1 and 4 − 3 (what the issue's target is about). Run from the project root:

    .venv/bin/python benchmarks/bench_official.py [--year 2023] [--repeat 1] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIPAS = str(Path(sys.executable).with_name("sipas"))


def sh(root: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([SIPAS, *args], cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "SIPAS_ROOT": str(root)})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sipas-bench-official-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        for folder in ("params", "notebooks"):
            shutil.copytree(REPO / folder, root / folder)
        years = [a.year - 1 if a.year == 2023 else 2023, a.year]  # the previous year: rank changes
        for y in years:
            for cmd in (("demo-data", "--year", str(y)), ("validate", "--year", str(y)), ("estimate", "--year", str(y))):
                sh(root, *cmd)
        runs = {}
        for fmts in ("html", "html,docx", "html,pdf,xlsx", "html,pdf,xlsx,docx"):
            runs[fmts] = statistics.median(
                sh(root, "run", "--year", str(a.year), "--formats", fmts, "--force", "--jobs", str(a.jobs))
                for _ in range(a.repeat))
        os.environ["SIPAS_ROOT"] = str(root)
        sys.path.insert(0, str(REPO / "src"))
        from sipas.base.config import paths
        from sipas.publishing.official.convert import soffice, to_pdf
        from sipas.publishing.official.documents import build_year

        p = paths(root)
        t0 = time.perf_counter()
        docs = build_year(p, a.year, out_dir=Path(tmp) / "docs")
        t_docx = time.perf_counter() - t0
        t_pdf = float("nan")
        if soffice():
            t0 = time.perf_counter()
            to_pdf(docs)
            t_pdf = time.perf_counter() - t0
        load = os.getloadavg()[0]
    print(f"year {a.year}: {len(docs)} Word documents; jobs {a.jobs}; {os.cpu_count()} cores; "
          f"load average {load:.1f}; median of {a.repeat}")
    for fmts, s in runs.items():
        print(f"  sipas run --formats {fmts:<22} {s:6.1f} s")
    print(f"  Word added to HTML only (2 - 1):          {runs['html,docx'] - runs['html']:+6.1f} s")
    print(f"  Word + its PDF added to the full set (4 - 3): {runs['html,pdf,xlsx,docx'] - runs['html,pdf,xlsx']:+6.1f} s"
          "  (target <= 30 s)")
    print(f"  on their own: build_year {t_docx:.1f} s, to_pdf (one soffice) {t_pdf:.1f} s, "
          f"sum {t_docx + t_pdf:.1f} s; ratio (4 / 3) {runs['html,pdf,xlsx,docx'] / runs['html,pdf,xlsx']:.2f}")


if __name__ == "__main__":
    main()
