"""Benchmark (not a test): design-based SIPAS indices with standard errors at scale.

    .venv/bin/python benchmarks/bench_estimation.py [--rows 1000000] [--units 100] [--repeat 3]

Synthetic survey: ``--rows`` respondents in ``--units`` units (the strata); half the
units are departments (PSU = respondent), half districts (PSU = one of 30 communes);
22 criteria in 5 elements (4+5+6+3+4) coded 1-5, with "don't know" (98), "not
applicable" (99, frequent in element 5) and blanks; weight N_h / n_h and an fpc.

Timed, per run:
* baseline: a plain pandas groupby of the point estimates only (criterion shares per
  unit, then element and SIPAS means) - what a script without standard errors does;
* survey: ``SurveyDesign`` + ``linearize`` by unit: every criterion, element and SIPAS
  estimate per unit with SE, design effect, effective n, degrees of freedom, and the
  tidy table with logit intervals.
Peak memory of the survey step is measured with tracemalloc (Python and numpy
allocations made during the step), and the process's maximum resident set size.

Then (unless ``--no-designs``) each design runs the whole-year path (unit estimates,
then peer-group and province means of units, as ``compute_indices``) in a fresh process
under ``/usr/bin/time -v``, whose "Maximum resident set size" is the resident peak
measured from outside (numpy and Arrow buffers included, which tracemalloc misses):

* ``one-stage``: today's design (strata = units, PSU = commune or respondent, fpc);
* ``two-stage``: districts as commune -> respondent with an fpc at both stages
  (R's recursive variance), departments as before;
* ``raked``: the one-stage design raked to sex (2) x age band (4) margins.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from sipas.estimation.survey import SurveyDesign

ELEMENT_SIZES = (4, 5, 6, 3, 4)


def synthetic(rows: int, units: int, seed: int = 2023) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.sort(rng.integers(0, units, rows))
    district = unit % 2 == 1
    commune = np.where(district, rng.integers(0, 30, rows), -1)
    psu = np.where(district, unit * 100 + commune, units * 100 + np.arange(rows))
    n_h = np.bincount(unit, minlength=units)
    served = n_h * rng.uniform(2, 6, units)
    df = pd.DataFrame({
        "unit": unit, "psu": psu, "weight": (served / n_h)[unit],
        "fpc": np.where(district, 40.0, np.round(served)[unit]),
    })
    # satisfaction: a unit effect and a respondent effect on a latent scale
    level = rng.normal(0.8, 0.4, units)[unit] + rng.normal(0, 0.6, rows)
    for e, size in enumerate(ELEMENT_SIZES, start=1):
        for c in range(1, size + 1):
            latent = level[:, None] + rng.normal(0, 0.8, (rows, 1))
            code = np.clip(np.rint(3.2 + latent[:, 0]), 1, 5).astype(np.int16)
            u = rng.random(rows)
            code = np.where(u < 0.02, 98, code)
            code = np.where((u > 0.98) | ((e == 5) & (u < 0.40)), 99, code)
            df[f"c{e}_{c}"] = pd.arrays.IntegerArray(code.astype(np.int16), mask=u > 0.995)  # blanks
    return df


def criteria(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("c") and "_" in c]


def coefficients(sizes=ELEMENT_SIZES) -> tuple[np.ndarray, list[str]]:
    """(K x T): criteria, elements (mean of criteria), SIPAS (mean of elements)."""
    K, E = sum(sizes), len(sizes)
    elem = np.zeros((K, E))
    start = 0
    for e, size in enumerate(sizes):
        elem[start:start + size, e] = 1 / size
        start += size
    names = [f"c{e + 1}_{c + 1}" for e, s in enumerate(sizes) for c in range(s)]
    names += [f"e{e + 1}" for e in range(E)] + ["sipas"]
    return np.hstack([np.eye(K), elem, elem.mean(axis=1, keepdims=True)]), names


def baseline(df: pd.DataFrame) -> pd.DataFrame:
    cols = criteria(df)
    codes = df[cols]
    valid = codes.isin([1, 2, 3, 4, 5])
    pos = codes.isin([4, 5])
    w = df["weight"]
    num = pos.mul(w, axis=0).groupby(df["unit"]).sum()
    den = valid.mul(w, axis=0).groupby(df["unit"]).sum()
    crit = num / den
    out = {}
    start = 0
    for e, size in enumerate(ELEMENT_SIZES, start=1):
        out[f"e{e}"] = crit.iloc[:, start:start + size].mean(axis=1)
        start += size
    elem = pd.DataFrame(out)
    return pd.concat([crit, elem, elem.mean(axis=1).rename("sipas")], axis=1)


def survey(df: pd.DataFrame) -> pd.DataFrame:
    codes = df[criteria(df)].to_numpy(dtype=np.int16, na_value=0)
    valid = (codes >= 1) & (codes <= 5)
    positive = (codes >= 4) & (codes <= 5)
    coef, names = coefficients()
    design = SurveyDesign(df, strata="unit", psu="psu", weights="weight", fpc="fpc", lonely_psu="adjust")
    return design.linearize(positive, valid, valid, coef, names, by="unit").table("logit")


def design_of(df: pd.DataFrame, kind: str) -> SurveyDesign:
    if kind == "two-stage":
        district = df["fpc"].to_numpy() == 40.0
        df["resp"] = np.arange(len(df))
        per_psu = df.groupby("psu")["resp"].transform("size").to_numpy()
        df["fpc2"] = np.where(district, 3.0 * per_psu, 1.0)  # people served per commune; 1 = certainty
        # departments: PSU = respondent, a second stage of one unit with N = 1 (no variance)
        df["fpc"] = np.where(district, 40.0, df["fpc"])
        return SurveyDesign(df, strata="unit", psu=["psu", "resp"], weights="weight",
                            fpc=["fpc", "fpc2"], lonely_psu="adjust")
    d = SurveyDesign(df, strata="unit", psu="psu", weights="weight", fpc="fpc", lonely_psu="adjust")
    if kind == "raked":
        rng = np.random.default_rng(7)
        df["sex"] = rng.integers(0, 2, len(df))
        df["age"] = rng.integers(0, 4, len(df))
        W = d.weights.sum()
        margins = {"sex": {0: 0.52 * W, 1: 0.48 * W}, "age": {0: 0.3 * W, 1: 0.3 * W, 2: 0.25 * W, 3: 0.15 * W}}
        d = d.rake(margins)
    return d


def whole_year(df: pd.DataFrame, kind: str) -> tuple[float, int]:
    """Unit estimates, then peer-group and province means of units; returns seconds
    and the number of estimates."""
    t0 = time.perf_counter()
    codes = df[criteria(df)].to_numpy(dtype=np.int16, na_value=0)
    valid = (codes >= 1) & (codes <= 5)
    positive = (codes >= 4) & (codes <= 5)
    del codes
    coef, names = coefficients()
    design = design_of(df, kind)
    lin = design.linearize(positive, valid, valid, coef, names, by="unit")
    units = lin.table("logit")
    D = len(lin.domains)
    groups = np.zeros((3, D))
    odd = lin.domains["unit"].to_numpy() % 2 == 1
    groups[0, odd], groups[1, ~odd], groups[2] = 1 / odd.sum(), 1 / (~odd).sum(), 1 / D
    try:
        agg = lin.aggregate(groups, keep_cells=False).table("logit")
    except TypeError:   # sipas before issue 13 (to measure it: PYTHONPATH=<old>/src ... --child one-stage)
        agg = lin.aggregate(groups).table("logit")
    return time.perf_counter() - t0, len(units) + len(agg)


def child(args) -> None:
    df = synthetic(args.rows, args.units)
    seconds, n = whole_year(df, args.child)
    print(f"CHILD {seconds:.3f} {n}")


def outside(kind: str, args) -> tuple[float, float]:
    """(seconds, resident peak MiB) of the whole-year path in a fresh process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", kind, "--rows", str(args.rows),
           "--units", str(args.units)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = float(re.search(r"CHILD ([0-9.]+)", res.stdout).group(1))
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return seconds, kb / 1024


def timed(fn, *args, trace: bool = False):
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-designs", action="store_true", help="skip the per-design whole-year runs")
    ap.add_argument("--child", choices=["one-stage", "two-stage", "raked"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    t0 = time.perf_counter()
    df = synthetic(args.rows, args.units)
    print(f"data: {len(df):,} respondents, {args.units} units, {df['psu'].nunique():,} PSUs, "
          f"{len(criteria(df))} criteria (generated in {time.perf_counter() - t0:.1f} s)")

    base_t, surv_t = [], []
    for run in range(1, args.repeat + 1):
        ref, tb, _ = timed(baseline, df)
        table, ts, peak = timed(survey, df, trace=(run == 1))
        base_t.append(tb)
        surv_t.append(ts)
        if run == 1:
            got = table.pivot(index="unit", columns="variable", values="estimate")[ref.columns]
            assert np.allclose(got.to_numpy(float), ref.to_numpy(float), equal_nan=True), "estimates differ"
            print(f"result: {len(table):,} estimates with SE/CI/deff/n_eff/df; "
                  f"point estimates equal the baseline's; peak traced memory of the survey step "
                  f"{peak / 2 ** 20:.0f} MiB")
        print(f"run {run}: baseline (point estimates only) {tb:.2f} s, survey (with SEs) {ts:.2f} s")
    mb, ms = statistics.median(base_t), statistics.median(surv_t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median of {args.repeat}: baseline {mb:.2f} s, survey {ms:.2f} s "
          f"(ratio {ms / mb:.1f}x); process max RSS {rss:.0f} MiB")

    if args.no_designs:
        return
    print("whole-year path (unit, peer-group and province estimates), fresh process each, "
          "resident peak from /usr/bin/time -v (data generation included):")
    base = None
    for kind in ("one-stage", "two-stage", "raked"):
        seconds, mib = outside(kind, args)
        base = base or seconds
        print(f"  {kind:9s}: {seconds:6.2f} s ({seconds / base:.2f}x one-stage), resident peak {mib:,.0f} MiB")


if __name__ == "__main__":
    main()
