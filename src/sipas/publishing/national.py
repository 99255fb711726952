"""The national front door: ``DIR/index.html`` of a folder of province projects (issue 16).

``sipas run --provinces DIR --year Y`` (:mod:`sipas.running.national`) builds each
province's own report, then this page from the provinces' published tables:

* the provinces ranked by their SIPAS (the published province figure and its interval),
  with a rank interval and a band (:func:`sipas.estimation.ranks.bands`): the rank
  intervals come from a seeded simulation that draws each province's SIPAS from its
  estimate and standard error (normal on the logit scale, as the published intervals),
  the provinces' surveys taken as independent; the quantiles and the widening to contain
  the rank are those of :func:`sipas.estimation.ranks.ranks_table`;
* per province and unit type (departments, communes): the units' SIPAS lowest / median /
  highest (a small inline SVG strip on a common scale) and how many are at or above the
  threshold of ``params/official.yaml`` (90 %);
* links to each province's front door.

Written beside it: ``tong-hop-<year>.xlsx`` and the tidy tables ``tables/provinces``,
``tables/distributions`` and ``tables/units`` (CSV and Parquet). The settings (seed,
replicates, confidence level, bands, threshold) are the running project's. No national
index is computed: the provincial surveys are not one national sample.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from sipas.base import formats as fmt
from sipas.base.codebook import Settings, YearConfig
from sipas.base.config import paths as default_paths
from sipas.base.io import fixed_core_dates, write_office, write_table, write_text
from sipas.estimation.indices import PROVINCE_ID
from sipas.estimation.ranks import BANDS, _quantile_rank, _ranks, bands
from sipas.publishing.data import read_published, require
from sipas.publishing.render import FOOTER, page
from sipas.publishing.templating import env
from sipas.publishing.text import ci_text

METHOD = "independent-logit-normal-simulation"
HONEST = (
    "Mỗi tỉnh, thành phố tự tổ chức khảo sát với mẫu, thời gian và cách phỏng vấn riêng; các cuộc "
    "khảo sát cấp tỉnh không phải là một mẫu chung của cả nước. Vì vậy thứ hạng giữa các tỉnh dưới "
    "đây chỉ mang tính tham khảo, và không có chỉ số chung toàn quốc (không lấy trung bình các tỉnh).",
    "Khoảng hạng được tính bằng mô phỏng từ ước lượng và sai số chuẩn của từng tỉnh, coi các cuộc "
    "khảo sát là độc lập với nhau; một tỉnh chỉ được xếp vào nhóm cao hoặc nhóm thấp khi cả khoảng hạng "
    "nằm trong nhóm đó. Hai tỉnh có khoảng hạng chồng nhau không khác nhau rõ ràng.",
)
UNIT_COLUMNS = ["year", "province_id", "province_name", "unit_id", "unit_name", "unit_type", "estimate",
                "ci_low", "ci_high", "publication", "at_or_above"]


@dataclass(frozen=True)
class Province:
    """One province project with its year's tables."""

    id: str
    root: Path
    cfg: YearConfig
    indices: pd.DataFrame

    @property
    def name(self) -> str:
        return self.cfg.settings.province


def load_province(pid: str, root: Path, year: int) -> Province:
    cfg = YearConfig(year, default_paths(root))
    idx = read_published(cfg.paths, year, "indices")
    require(idx, "indices", ("published", "published_low", "published_high", "publication"),
            file=cfg.paths.tables(year) / "indices.parquet")
    return Province(pid, Path(root), cfg, idx[idx.item_id == "sipas"].reset_index(drop=True))


def rank_intervals(est, se, replicates: int, seed: int, level: float = 0.95, contains_rank: bool = True):
    """(rank, low, high) of independent estimates: rank highest first (ties share the
    better rank), interval from ``replicates`` draws of logit(p) ~ N(logit(est), se / (p(1-p)))."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    p = np.clip(est, 1e-6, 1 - 1e-6)
    rng = np.random.default_rng(seed)
    z = np.log(p / (1 - p)) + rng.standard_normal((replicates, len(p))) * (se / (p * (1 - p)))
    rank = _ranks(est)
    boot = _ranks(z)
    alpha = 1 - level
    low, high = _quantile_rank(boot, alpha / 2), _quantile_rank(boot, 1 - alpha / 2)
    if contains_rank:
        low, high = np.minimum(low, rank), np.maximum(high, rank)
    return rank.astype(int), low.astype(int), high.astype(int)


def units_table(provinces: list[Province], year: int, threshold: float) -> pd.DataFrame:
    """Every unit's published SIPAS (departments, communes, ...), one row each."""
    rows = []
    for q in provinces:
        types = {u.id: u.type for u in q.cfg.units}
        u = q.indices[q.indices.unit_id.isin(types)]
        for r in u.itertuples():
            v = r.published
            rows.append((year, q.id, q.name, r.unit_id, r.unit_name, r.unit_type, v, r.published_low,
                         r.published_high, r.publication, bool(pd.notna(v) and v >= threshold)))
    return pd.DataFrame(rows, columns=UNIT_COLUMNS)


def distributions_table(provinces: list[Province], units: pd.DataFrame, year: int) -> pd.DataFrame:
    rows = []
    for q in provinces:
        for t in q.cfg.registry.unit_types:
            registered = sum(u.type == t.id for u in q.cfg.units)
            if not registered:
                continue
            g = units[(units.province_id == q.id) & (units.unit_type == t.id)]
            v = g.estimate.dropna()
            rows.append({"year": year, "province_id": q.id, "province_name": q.name, "unit_type": t.id,
                         "unit_type_label": t.label_plural, "n_units": registered, "n_published": len(v),
                         "min": v.min() if len(v) else np.nan, "median": v.median() if len(v) else np.nan,
                         "max": v.max() if len(v) else np.nan, "n_at_or_above": int(g.at_or_above.sum())})
    return pd.DataFrame(rows)


def provinces_table(provinces: list[Province], units: pd.DataFrame, year: int, settings: Settings) -> pd.DataFrame:
    """The provinces ranked by their SIPAS, with rank intervals and bands (module doc)."""
    rows = []
    for q in provinces:
        r = q.indices[q.indices.unit_id == PROVINCE_ID].iloc[0]
        rows.append({"year": year, "province_id": q.id, "province_name": q.name,
                     "methodology": q.cfg.registry.methodology, "estimate": r.published, "se": r.se,
                     "ci_low": r.published_low, "ci_high": r.published_high, "n": int(r.n),
                     "n_units": len(q.cfg.units), "n_at_or_above": int(units.at_or_above[units.province_id == q.id].sum()),
                     "front_door": f"{q.id}/outputs/{year}/index.html"})
    out = pd.DataFrame(rows)
    B, seed = settings.bootstrap_replicates, settings.bootstrap_seed
    out["rank"], out["rank_low"], out["rank_high"] = rank_intervals(out.estimate, out.se, B, seed,
                                                                    settings.confidence_level)
    out["n_provinces"] = len(out)
    bs = settings.publication.bands
    out["band"], out["strict_rank"] = bands(out.rank_low, out.rank_high, out.n_provinces, bs.groups, bs.wide_share)
    out["n_boot"], out["seed"], out["method"] = B, seed, METHOD
    return out.sort_values(["rank", "province_id"], kind="stable").reset_index(drop=True)


def national_tables(provinces: list[Province], year: int, settings: Settings, threshold: float) -> dict:
    units = units_table(provinces, year, threshold)
    return {"provinces": provinces_table(provinces, units, year, settings),
            "distributions": distributions_table(provinces, units, year), "units": units}


# --------------------------------------------------------------------------- files


def workbook_name(year: int) -> str:
    return f"tong-hop-{year}.xlsx"


def write_workbook(folder: Path, year: int, tables: dict, threshold: float) -> Path:
    from openpyxl import Workbook

    from sipas.publishing.excel import _write_sheet

    at = f"Số đơn vị đạt từ {fmt.pct(threshold, 0)}"
    wb = Workbook()
    wb.remove(wb.active)
    _write_sheet(wb.create_sheet("Xếp hạng tỉnh"), f"Xếp hạng các tỉnh, thành phố theo SIPAS năm {year} "
                 "(tham khảo)", tables["provinces"],
                 {"rank": ("Hạng", "int"), "rank_low": ("Hạng cao nhất", "int"), "rank_high": ("Hạng thấp nhất", "int"),
                  "band": ("Nhóm", "text"), "province_name": ("Tỉnh, thành phố", "text"),
                  "province_id": ("Mã", "text"), "estimate": ("SIPAS", "pct"), "ci_low": ("Cận dưới KTC", "pct"),
                  "ci_high": ("Cận trên KTC", "pct"), "n": ("Số phiếu", "int"), "n_units": ("Số đơn vị", "int"),
                  "n_at_or_above": (at, "int"), "methodology": ("Bộ câu hỏi", "text")},
                 note=HONEST[0], widths={"province_name": 24, "band": 12})
    _write_sheet(wb.create_sheet("Phân bố đơn vị"), f"Chỉ số của các đơn vị trong từng tỉnh, năm {year}",
                 tables["distributions"],
                 {"province_name": ("Tỉnh, thành phố", "text"), "unit_type_label": ("Nhóm đơn vị", "text"),
                  "n_units": ("Số đơn vị", "int"), "n_published": ("Số đơn vị có chỉ số công bố", "int"),
                  "min": ("Thấp nhất", "pct"), "median": ("Trung vị", "pct"), "max": ("Cao nhất", "pct"),
                  "n_at_or_above": (at, "int")}, widths={"province_name": 24, "unit_type_label": 28})
    _write_sheet(wb.create_sheet("Đơn vị"), f"SIPAS của từng đơn vị, năm {year}", tables["units"],
                 {"province_name": ("Tỉnh, thành phố", "text"), "unit_id": ("Mã đơn vị", "text"),
                  "unit_name": ("Đơn vị", "text"), "unit_type": ("Loại", "text"), "estimate": ("SIPAS", "pct"),
                  "ci_low": ("Cận dưới KTC", "pct"), "ci_high": ("Cận trên KTC", "pct"),
                  "publication": ("Cách công bố", "text")}, widths={"province_name": 24, "unit_name": 36})
    notes = wb.create_sheet("Ghi chú")
    notes.column_dimensions["A"].width = 120
    for i, line in enumerate(HONEST, start=1):
        notes.cell(row=i, column=1, value=line)
    fixed = dt.datetime(year, 12, 31)
    wb.properties.creator = wb.properties.lastModifiedBy = "sipas"
    wb.properties.created = wb.properties.modified = fixed
    return write_office(folder / workbook_name(year), wb, fixed_core_dates(f"{year}-12-31T00:00:00Z"))


def _strip(d: pd.Series, threshold: float) -> dict | None:
    """Coordinates (0-100, on 50-100 %) of a min-median-max strip."""
    if pd.isna(d["median"]):
        return None

    def x(v):
        return round(min(max((float(v) - 0.5) / 0.5, 0.0), 1.0) * 100, 1)

    return {"lo": x(d["min"]), "mid": x(d["median"]), "hi": x(d["max"]), "thr": x(threshold),
            "text": f"{fmt.pct(d['min'], 1)} · {fmt.pct(d['median'], 1)} · {fmt.pct(d['max'], 1)}"}


def write_page(folder: Path, year: int, tables: dict, threshold: float) -> Path:
    prov, dist = tables["provinces"], tables["distributions"]
    types = list(dict.fromkeys(dist.unit_type))
    labels = dict(zip(dist.unit_type, dist.unit_type_label))
    rows = []
    for r in prov.itertuples():
        d = dist[dist.province_id == r.province_id].set_index("unit_type")
        cells = [(_strip(d.loc[t], threshold), f"{int(d.loc[t].n_at_or_above)}/{int(d.loc[t].n_units)}")
                 if t in d.index else (None, "–") for t in types]
        link = r.front_door if (folder / r.front_door).is_file() else None
        rows.append({"rank": r.rank, "interval": f"{r.rank_low}–{r.rank_high}", "band": BANDS[r.band],
                     "band_id": r.band, "name": r.province_name, "href": link, "sipas": fmt.pct(r.estimate),
                     "ci": ci_text(r.ci_low, r.ci_high), "at": f"{r.n_at_or_above}/{r.n_units}",
                     "cells": cells, "n": fmt.number(r.n)})
    n_units = int(prov.n_units.sum())
    n_at = int(prov.n_at_or_above.sum())
    files = [(workbook_name(year), "Excel")] + [(f"tables/{n}.csv", f"{n}.csv") for n in tables]
    body = env().get_template("national_index.html.j2").render(
        year=year, provinces=rows, types=[labels[t] for t in types], honest=HONEST,
        n_provinces=len(prov), n_units=fmt.number(n_units), n_at=fmt.number(n_at), threshold=fmt.pct(threshold, 0),
        methods=sorted(set(prov.methodology)), files=[(h, lab) for h, lab in files if (folder / h).is_file()],
        n_boot=fmt.number(int(prov.n_boot.iloc[0])) if len(prov) else "–")
    text = page(f"SIPAS {year} — các tỉnh, thành phố", Markup(body), kicker=f"Toàn quốc · năm {year}",
                footer=FOOTER)
    return write_text(folder / "index.html", text)


def write_national(folder: str | os.PathLike, year: int, provinces: list[tuple[str, Path]], settings: Settings,
                   threshold: float) -> list[Path]:
    """The national tables, workbook and front door of ``provinces`` ((id, project root),
    each with its year's tables) under ``folder``; returns the files written."""
    folder = Path(folder)
    loaded = [load_province(pid, root, year) for pid, root in sorted(provinces)]
    tables = national_tables(loaded, year, settings, threshold)
    written = [f for name, t in tables.items() for f in write_table(t, folder / "tables" / name)]
    written.append(write_workbook(folder, year, tables, threshold))
    written.append(write_page(folder, year, tables, threshold))
    return written


__all__ = ["HONEST", "METHOD", "Province", "load_province", "national_tables", "rank_intervals", "write_national",
           "workbook_name"]
