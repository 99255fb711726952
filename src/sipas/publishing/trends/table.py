"""Trends across years: one tidy table of the SIPAS of the province, of each department
and of each crosswalk area per year, with its interval, where the methodology changes
(a break in every series) and which year-to-year changes may be compared and tested.

Series (``series_id``):

* ``province``: the province's SIPAS as each year's table gives it;
* one per area of the crosswalks (``params/crosswalk/<from>-<to>.yaml``, read by
  :func:`sipas.base.codebook.load_crosswalk`) that lie within the years: a year before the
  crosswalk's ``to_year`` uses the area's ``from`` units, a later one its ``to`` units;
* one per unit of the years' registries that no area covers (same id in every year).

A series' figure in a year is its unit's SIPAS, or for several units (merged bodies,
former districts split into communes) the unweighted mean of their SIPAS (the units
are separate strata: SE = sqrt(Σ se²)/k, df = Σ df), with the year's interval method.

Comparisons (:func:`trends_table`, columns ``comparable`` ... ``significant``): a
year is compared with the previous year of its series only when both use the same
methodology and measure the same thing: the same units when no crosswalk lies between
them, or an area the crosswalk marks ``comparable: true``. The province is compared
across a crosswalk only when its unit composition is unchanged. Such changes are
tested as independent annual samples (:func:`sipas.estimation.survey.difference`), with p-values
adjusted together (``settings.multiple_testing``). A change of methodology is never
tested: the series is broken there (``break_before``).

Nothing here names a methodology or a unit: methods, units and crosswalks come from
``params/``; the figures from each year's ``outputs/<year>/tables/indices``.

The annex that shows this table is :mod:`sipas.publishing.trends.annex`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base.codebook import Crosswalk, YearConfig, load_crosswalk
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.base.io import write_table
from sipas.estimation.indices import PROVINCE_ID
from sipas.estimation.significance import adjust_pvalues
from sipas.estimation.survey import difference, interval

TREND_COLUMNS = [
    "series_id", "series_name", "series_level", "year", "methodology", "method_label", "segment",
    "break_before", "units", "n_units", "estimate", "se", "ci_low", "ci_high", "ci_method", "df", "n",
    "previous_year", "comparable", "comparison_note", "change", "change_se", "p_value", "p_adjusted",
    "significant",
]
LEVEL_LABELS = {"province": "Toàn tỉnh", "department": "Sở, ban, ngành", "former_district": "Địa bàn huyện cũ"}
NOTE_SAME = "cùng phương pháp, cùng đơn vị"
NOTE_AREA = "cùng phương pháp; đơn vị tương đương theo bảng chuyển đổi"
NOTE_METHOD = "khác phương pháp đo lường: không so sánh"
NOTE_UNITS = "đơn vị thay đổi (sáp nhập, chia tách hoặc đổi nhiệm vụ): không so sánh"
NOTE_FIRST = ""


def parse_years(years) -> list[int]:
    """``"2022,2023,2025"``, ``[2022, 2023]`` or ``2025`` -> sorted distinct years."""
    if isinstance(years, (int, np.integer)):
        return [int(years)]
    if isinstance(years, str):
        parts = [x for x in re.split(r"[,\s;]+", years) if x]
    else:
        parts = list(years)
    try:
        out = sorted({int(x) for x in parts})
    except ValueError:
        raise SipasError("years must be whole numbers", value=years, hint='e.g. years = "2022,2023,2025"') from None
    if not out:
        raise SipasError("no years given for the trends", hint='e.g. years = "2022,2023,2025"')
    return out


@dataclass(frozen=True)
class Series:
    id: str
    name: str
    level: str
    members: dict[int, tuple[str, ...]]      # year -> unit ids (empty: not present that year)
    comparable_across: dict[tuple[int, int], bool]   # (from_year, to_year) of a crosswalk -> comparable


def crosswalks_between(years: list[int], p: Paths) -> list[Crosswalk]:
    """The crosswalks in ``params/crosswalk/`` whose two years are among ``years``."""
    folder = p.params / "crosswalk"
    out = []
    for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        m = re.fullmatch(r"(\d{4})-(\d{4})", f.stem)
        if m and int(m.group(1)) in years and int(m.group(2)) in years:
            out.append(load_crosswalk(int(m.group(1)), int(m.group(2)), p))
    return out


def _series(cfgs: dict[int, YearConfig], crosswalks: list[Crosswalk]) -> list[Series]:
    years = sorted(cfgs)
    present = {y: {u.id for u in cfgs[y].units} for y in years}
    units_of = {y: {u.id: u for u in cfgs[y].units} for y in years}
    out: list[Series] = []
    covered: dict[int, set[str]] = {y: set() for y in years}
    for cw in crosswalks:
        for a in cw.areas:
            members = {}
            for y in years:
                side = tuple(a.to) if y >= cw.to_year else tuple(a.from_)
                members[y] = side if side and set(side) <= present[y] else ()
                covered[y] |= set(members[y])
            out.append(Series(a.id, a.name, a.level, members, {(cw.from_year, cw.to_year): a.comparable}))
    seen = {s.id for s in out}
    for y in years:
        for u in cfgs[y].units:
            if u.id in covered[y] or u.id in seen:
                continue
            seen.add(u.id)
            members = {yy: ((u.id,) if u.id in present[yy] and u.id not in covered[yy] else ()) for yy in years}
            last = max(yy for yy in years if members[yy])
            unit = units_of[last][u.id]
            out.append(Series(u.id, unit.name, unit.type, members, {}))
    return out


def _figure(idx: pd.DataFrame, units: tuple[str, ...]) -> dict:
    rows = idx[(idx.unit_id.isin(units)) & (idx.level == "sipas")].set_index("unit_id").reindex(list(units))
    est = rows["estimate"].astype(float)
    if not len(units) or est.isna().any():
        return {"estimate": np.nan, "se": np.nan, "df": np.nan, "n": 0}
    k = len(units)
    se = np.sqrt((rows["se"].astype(float) ** 2).sum()) / k if "se" in rows else np.nan
    return {"estimate": float(est.mean()), "se": float(se),
            "df": float(rows["df"].astype(float).sum()) if "df" in rows else np.nan,
            "n": int(rows["n"].sum())}


def read_indices(year: int, p: Paths) -> pd.DataFrame:
    path = p.tables(year) / "indices.parquet"
    if not path.is_file():
        raise SipasError(f"result table of {year} not found (needed for the trends)", file=path,
                         hint=f"run `sipas estimate --year {year}` (or `sipas run --year {year}`)")
    return pd.read_parquet(path)


def available_years(years, p: Paths) -> tuple[list[int], list[int]]:
    """(years whose result table exists, years without one)."""
    ys = parse_years(years)
    have = [y for y in ys if (p.tables(y) / "indices.parquet").is_file()]
    return have, [y for y in ys if y not in have]


def trends_table(years, root: str | Path | None = None, *, paths: Paths | None = None,
                 missing: str = "error") -> pd.DataFrame:
    """The tidy trends table (:data:`TREND_COLUMNS`) of ``years`` (see the module doc).

    ``missing="skip"`` leaves out the years whose result table does not exist yet
    (``"error"``, the default, names the first such table and the command to run)."""
    p = paths or default_paths(root)
    years = parse_years(years)
    if missing == "skip":
        years, _ = available_years(years, p)
        if not years:
            raise SipasError("no result table for any of the years asked for the trends", file=p.outputs(),
                             hint="run `sipas estimate --year <year>` for each year first")
    cfgs = {y: YearConfig(y, p) for y in years}
    idx = {y: read_indices(y, p) for y in years}
    crosswalks = crosswalks_between(years, p)
    series = [Series(PROVINCE_ID, f"Tỉnh {cfgs[years[-1]].settings.province}", "province",
                     {y: (PROVINCE_ID,) for y in years}, {})] + _series(cfgs, crosswalks)
    composition = {y: tuple(sorted(u.id for u in cfgs[y].units)) for y in years}
    rows = []
    for s in series:
        prev: dict | None = None
        segment = 0
        for y in years:
            units = s.members.get(y, ())
            if not units:
                continue
            cfg = cfgs[y]
            fig = _figure(idx[y], units)
            method = cfg.methodology
            row = {"series_id": s.id, "series_name": s.name, "series_level": s.level, "year": y,
                   "methodology": method.id, "method_label": method.short_title,
                   "units": ";".join(units), "n_units": 0 if s.id == PROVINCE_ID else len(units), **fig,
                   "ci_method": cfg.settings.ci_method, "previous_year": np.nan, "comparable": False,
                   "comparison_note": NOTE_FIRST, "break_before": False}
            lo, hi, _ = interval(fig["estimate"], fig["se"], fig["df"], max(fig["n"], 1), cfg.settings.ci_method,
                                 cfg.settings.confidence_level)
            row["ci_low"], row["ci_high"] = float(lo), float(hi)
            if prev is not None:
                row["previous_year"] = prev["year"]
                if prev["methodology"] != method.id:
                    segment += 1
                    row["break_before"] = True
                    row["comparison_note"] = NOTE_METHOD
                else:
                    row["comparable"], row["comparison_note"] = _comparable(s, prev, row, crosswalks, composition)
            row["segment"] = segment
            rows.append(row)
            prev = row
    out = pd.DataFrame(rows)
    return _tests(out, cfgs[years[-1]]) if len(out) else pd.DataFrame(columns=TREND_COLUMNS)


def _comparable(s: Series, prev: dict, row: dict, crosswalks: list[Crosswalk], composition) -> tuple[bool, str]:
    """Same methodology: may ``row`` be compared with ``prev`` of the same series?"""
    a, b = int(prev["year"]), int(row["year"])
    between = [cw for cw in crosswalks if a < cw.to_year <= b and a <= cw.from_year]
    if s.id == PROVINCE_ID:
        same = composition[a] == composition[b]
        return (True, NOTE_SAME) if same else (False, NOTE_UNITS)
    if between:
        ok = all(s.comparable_across.get((cw.from_year, cw.to_year), False) for cw in between)
        return (True, NOTE_AREA) if ok else (False, NOTE_UNITS)
    return (True, NOTE_SAME) if prev["units"] == row["units"] else (False, NOTE_UNITS)


def _tests(t: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Change tests of the comparable rows (one family, adjusted with the settings)."""
    t = t.reset_index(drop=True)
    for c in ("change", "change_se", "p_value", "p_adjusted"):
        t[c] = np.nan
    t["significant"] = pd.Series([None] * len(t), dtype=object)
    key = t.set_index(["series_id", "year"])
    ok = t.index[t.comparable & t.estimate.notna() & t.se.notna()]
    if len(ok):
        cur = t.loc[ok, ["estimate", "se", "df"]]
        prev = key.loc[list(zip(t.loc[ok, "series_id"], t.loc[ok, "previous_year"].astype(int))),
                       ["estimate", "se", "df"]]
        d = difference(cur.reset_index(drop=True), prev.reset_index(drop=True), cfg.settings.confidence_level)
        t.loc[ok, "change"] = d["estimate"].to_numpy()
        t.loc[ok, "change_se"] = d["se"].to_numpy()
        t.loc[ok, "p_value"] = d["p_value"].to_numpy()
        t.loc[ok, "p_adjusted"] = adjust_pvalues(t.loc[ok, "p_value"].to_numpy(), cfg.settings.multiple_testing)
        t.loc[ok, "significant"] = list(t.loc[ok, "p_adjusted"] < 1 - cfg.settings.confidence_level)
    not_tested = ~t.comparable & t.previous_year.notna()
    t.loc[not_tested, "change"] = np.nan   # shown side by side, never subtracted
    order = {"province": 0, "department": 1}
    t["_l"] = t.series_level.map(lambda v: order.get(v, 2))
    t = t.sort_values(["_l", "series_level", "series_id", "year"], kind="mergesort").drop(columns="_l")
    return t[TREND_COLUMNS].reset_index(drop=True)


def write_trends_table(years, root: str | Path | None = None, *, paths: Paths | None = None) -> list[Path]:
    """``outputs/tables/trends.csv`` and ``.parquet``."""
    p = paths or default_paths(root)
    return write_table(trends_table(years, paths=p), p.outputs() / "tables" / "trends")


__all__ = ["LEVEL_LABELS", "NOTE_UNITS", "TREND_COLUMNS", "available_years", "parse_years", "trends_table",
           "write_trends_table"]
