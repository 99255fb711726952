"""Intake speed and memory on a 300,000-row CSV built from the demo generator: this
checkout's ``sipas validate`` against a baseline checkout (the code before issue 12) in
the same run. Each run is a separate process measured from outside with
``/usr/bin/time -v`` (wall time, peak resident memory).

    .venv/bin/python benchmarks/bench_intake.py --baseline /tmp/sipas-main [--rows 300000]

``--keep DIR`` keeps the bench projects and CSV files in DIR and reuses them on the next
run with the same ``--rows``; ``--profile N`` runs this checkout once under cProfile on
the ~7% file instead and prints the N functions with the most cumulative time.
``--baseline`` is a checkout of the earlier code, e.g.
``git worktree add /tmp/sipas-main 5ac358f`` (the commit issue 12 started from); without
it only this checkout is measured. Two files are timed: the demo's own share of bad
rows, and with ~7% bad rows (every 14th row gets an answer code 7). The bench project
multiplies every unit's ``served`` by 100, so that weights stay above 1.
Targets (issue 12): 300,000 rows in <= 10 s, peak memory < 1 GB, a validation.json that
summarises (counts, first examples) while the full list stays in quarantine.xlsx.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
YEAR = 2023


def build_project(root: Path) -> Path:
    shutil.copytree(REPO / "params", root / "params")
    reg = root / "params/units" / f"{YEAR}.yaml"
    data = yaml.safe_load(reg.read_text(encoding="utf-8"))
    for u in data["units"]:
        u["served"] = int(u["served"]) * 100
    reg.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


def build_csv(root: Path, rows: int, bad_every: int | None) -> Path:
    """The demo file repeated to ``rows`` rows: each copy gets new questionnaire ids and
    interviewer codes (so copies are neither duplicate ids nor interviewer duplicates)."""
    sys.path.insert(0, str(REPO / "src"))
    from sipas.demo import write_demo_data

    demo = [p for p in write_demo_data(YEAR, root=root) if p.suffix == ".csv"][0]
    text = demo.read_text(encoding="utf-8-sig")
    shutil.rmtree(demo.parent)
    grid = list(csv.reader(io.StringIO(text)))
    head, body = grid[0], grid[1:]
    i_id, i_itv = head.index("Mã phiếu"), head.index("Điều tra viên")
    i_c = head.index("C1_1")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(head)
    n = 0
    k = 0
    while n < rows:
        for r in body:
            if n >= rows:
                break
            r2 = list(r)
            r2[i_id] = f"{r[i_id]}-{k}"
            r2[i_itv] = f"{r[i_itv]}-{k}"
            if bad_every and n % bad_every == 0:
                r2[i_c] = "7"
            w.writerow(r2)
            n += 1
        k += 1
    path = root / "bench.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def project_with_csv(root: Path, rows: int, bad_every: int | None) -> tuple[Path, Path]:
    """The bench project in ``root`` and its CSV, made unless ``root`` has them for ``rows``."""
    f, stamp = root / "bench.csv", root / "bench.rows"
    if f.exists() and stamp.exists() and stamp.read_text() == str(rows):
        return root, f
    shutil.rmtree(root, ignore_errors=True)
    proj = build_project(root)
    f = build_csv(proj, rows, bad_every)
    stamp.write_text(str(rows))
    return proj, f


def validate_code(csv_path: Path) -> str:
    return ("import sys; from sipas.cli import main; "
            f"sys.argv=['sipas','validate','--year','{YEAR}','--input',{str(csv_path)!r}]; main()")


def profile(root: Path, csv_path: Path, top: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "SIPAS_ROOT": str(root)}
    with tempfile.NamedTemporaryFile(suffix=".prof") as prof, \
            tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(validate_code(csv_path))
        script.flush()
        subprocess.run([sys.executable, "-m", "cProfile", "-o", prof.name, script.name], cwd=root, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        pstats.Stats(prof.name).sort_stats("cumulative").print_stats(top)


def measure(src: Path, root: Path, csv_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src / "src"), "SIPAS_ROOT": str(root)}
    code = validate_code(csv_path)
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], cwd=root, env=env,
                          capture_output=True, text=True)
    err = proc.stderr
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", err).group(1)) for k in ("User", "System"))
    vj = root / f"data/processed/{YEAR}/validation.json"
    ok = proc.returncode == 0
    summary = next((line for line in proc.stdout.splitlines() if line.startswith("SIPAS")), "")
    return {"ok": ok, "seconds": h * 3600 + m * 60 + s, "cpu": cpu, "rss_mb": rss / 1024,
            "validation_kb": vj.stat().st_size / 1024 if ok and vj.exists() else None,
            "summary": summary if ok else (proc.stdout + err)[-600:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, help="checkout of the code to compare with")
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep the generated files in DIR and reuse them")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile this checkout on the ~7%% file: top N")
    args = ap.parse_args()
    print("machine: %d cores, load average %.2f %.2f %.2f" % (os.cpu_count(), *os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep.resolve() if args.keep else Path(tmp)
        if args.profile:
            profile(*project_with_csv(tmp / "bad14", args.rows, 14), args.profile)
            return
        results = []
        for label, bad in (("demo bad rows", None), ("~7% bad rows", 14)):
            proj, f = project_with_csv(tmp / f"bad{bad or 0}", args.rows, bad)
            size = f.stat().st_size / 1e6
            for name, src in (("baseline", args.baseline), ("this", REPO)):
                if src is None:
                    continue
                shutil.rmtree(proj / "data/processed", ignore_errors=True)
                shutil.rmtree(proj / "outputs", ignore_errors=True)
                r = measure(src, proj, f)
                results.append((label, name, size, r))
                print(f"{label:<14} {name:<8} {args.rows:>8} rows {size:6.1f} MB  "
                      f"{r['seconds']:7.2f} s (cpu {r['cpu']:6.2f} s)  peak {r['rss_mb']:7.0f} MB  "
                      f"validation.json {r['validation_kb'] or 0:8.1f} KB  {'ok' if r['ok'] else 'FAILED'}",
                      flush=True)
                print("    " + r["summary"][:300].replace("\n", "\n    "), flush=True)
        for label in ("demo bad rows", "~7% bad rows"):
            got = {n: r for lab, n, _, r in results if lab == label}
            if "baseline" in got and "this" in got and got["this"]["seconds"]:
                b, t = got["baseline"], got["this"]
                print(f"{label}: speed-up x{b['seconds'] / t['seconds']:.2f}, memory "
                      f"x{b['rss_mb'] / t['rss_mb']:.2f} (baseline / this)")
        print("targets: <= 10 s, < 1024 MB peak; load average now %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
