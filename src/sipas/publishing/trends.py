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
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base import formats as fmt
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


# ====================================================================== the annex


def trend_break_chart(t: pd.DataFrame, title: str, ncols: int = 4):
    """Small multiples, one panel per series: the SIPAS per year with its interval; the
    points of one methodology joined, a change of methodology left as a gap with a
    dashed vertical rule (never a line across it)."""
    import matplotlib.pyplot as plt

    from sipas.publishing.charts import _PCT, PALETTE, WIDTH

    ids = list(dict.fromkeys(t.series_id))
    ncols = max(1, min(ncols, len(ids)))
    nrows = int(np.ceil(len(ids) / ncols))
    years = sorted(t.year.unique())
    method = t.drop_duplicates("year").set_index("year")["methodology"]
    breaks = [(a, b) for a, b in zip(years, years[1:]) if method[a] != method[b]]
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 1.0 + 1.75 * nrows), sharey=True, squeeze=False)
    lo = np.nanmin(t.ci_low.to_numpy(dtype=float)) if t.ci_low.notna().any() else 0.6
    hi = np.nanmax(t.ci_high.to_numpy(dtype=float)) if t.ci_high.notna().any() else 1.0
    for ax, sid in zip(axes.flat, ids):
        s = t[t.series_id == sid].sort_values("year")
        for seg, g in s.groupby("segment"):
            color = PALETTE[int(seg) % 2 * 2]
            ax.errorbar(g.year, g.estimate, yerr=[g.estimate - g.ci_low, g.ci_high - g.estimate], color=color,
                        marker="os"[int(seg) % 2], ms=4, lw=1.4, capsize=2, ls="-" if seg % 2 == 0 else "--")
        for a, b in breaks:               # in every panel, whether or not the series has both sides
            ax.axvline((a + b) / 2, color="#566573", ls=":", lw=1)
        ax.set_title(_wrap(s.series_name.iloc[0], 64 // ncols), fontsize=7.5, loc="left")
        ax.set_xticks(years, [str(y) for y in years], fontsize=7)
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
        ax.yaxis.set_major_formatter(_PCT)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(ids):]:
        ax.set_visible(False)
    axes[0, 0].set_ylim(max(0.0, lo - 0.03), min(1.0, hi + 0.03))
    fig.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
    fig.text(0.01, 0.005, "Đường chấm đứng: đổi phương pháp đo lường (chuỗi số liệu bị ngắt, không nối, không so "
             "sánh). Vạch dọc: khoảng tin cậy.", fontsize=7, color="#566573")
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.85 / fig.get_size_inches()[1],
                        bottom=0.55 / fig.get_size_inches()[1], hspace=0.75, wspace=0.12)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


class TrendsAnnex:
    """The trends annex (Phụ lục xu hướng): call the sections in order, or :meth:`html`."""

    def __init__(self, years, root: str | Path | None = None, table: pd.DataFrame | None = None):
        self.paths = default_paths(root or None)
        # years without a result table are left out, and said so (method section)
        self.years, self.missing = available_years(years, self.paths)
        if not self.years:
            self.years = parse_years(years)   # trends_table names the missing table
        self.t = table if table is not None else trends_table(self.years, paths=self.paths)
        self.cfgs = {y: YearConfig(y, self.paths) for y in self.years}
        self._n = 0

    def _h(self, text: str) -> str:
        from sipas.publishing.report import heading

        self._n += 1
        return heading(self._n, text)

    @property
    def province(self) -> str:
        return self.cfgs[self.years[-1]].settings.province

    def methods(self) -> list[tuple[str, list[int]]]:
        """(method title, its years) in the order of the years."""
        out: dict[str, list[int]] = {}
        for y in self.years:
            out.setdefault(self.cfgs[y].methodology.title, []).append(y)
        return list(out.items())

    def breaks(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b in zip(self.years, self.years[1:])
                if self.cfgs[a].methodology.id != self.cfgs[b].methodology.id]

    def title(self) -> str:
        years = ", ".join(str(y) for y in self.years)
        return (f"<h1>Xu hướng chỉ số hài lòng qua các năm {html.escape(years)}</h1>"
                f'<p class="subtitle">Tỉnh {html.escape(self.province)}: toàn tỉnh, các sở, ban, ngành và các địa bàn '
                f"qua các lần sắp xếp đơn vị hành chính</p>")

    def method(self) -> str:
        from sipas.publishing.report import paragraphs

        items = [f"Năm {', '.join(str(y) for y in ys)}: {html.escape(title)}." for title, ys in self.methods()]
        text = ["Chỉ số mỗi năm là chỉ số hài lòng chung (SIPAS) của đơn vị theo phương pháp đo lường của năm đó, "
                "kèm khoảng tin cậy. " + " ".join(items)]
        for a, b in self.breaks():
            text.append(f"Giữa năm {a} và năm {b}, phương pháp đo lường thay đổi (bộ câu hỏi, thang đo và cách tổng "
                        f"hợp khác nhau): chuỗi số liệu được ngắt tại đây, hai đoạn không được nối và không được so "
                        f"sánh với nhau.")
        text.append("<strong>Các so sánh và kiểm định chỉ được thực hiện giữa hai năm cùng phương pháp đo lường và "
                    "cùng đơn vị</strong> (hoặc đơn vị được bảng chuyển đổi xác định là tương đương: cùng cơ quan, "
                    "cùng chức năng, nhiệm vụ). Đơn vị đã sáp nhập, chia tách hoặc đổi nhiệm vụ, và địa bàn huyện cũ "
                    "(nay là nhiều xã, phường), chỉ được trình bày cạnh nhau để tham khảo.")
        if self.missing:
            text.append(f"Chưa có bảng kết quả của năm {', '.join(map(str, self.missing))}: năm này chưa được đưa "
                        "vào (chạy <code>sipas estimate</code> cho năm đó rồi chạy lại).")
        text.append("Địa bàn gồm nhiều đơn vị: chỉ số là trung bình cộng chỉ số của các đơn vị. Kiểm định thay đổi: "
                    "hai mẫu độc lập của hai năm, sai số chuẩn theo thiết kế mẫu, p đã hiệu chỉnh so sánh bội.")
        return self._h("Phương pháp so sánh") + paragraphs(text)

    def _level(self, level: str) -> pd.DataFrame:
        return self.t[self.t.series_level == level]

    def levels(self) -> list[str]:
        return list(dict.fromkeys(self.t.series_level))

    def section(self, level: str) -> str:
        from sipas.publishing.report import figure_html, paragraphs

        t = self._level(level)
        if not len(t):
            return ""
        label = LEVEL_LABELS.get(level) or self._type_label(level)
        fig = trend_break_chart(t, f"{label}: chỉ số hài lòng qua các năm", ncols=1 if level == "province" else 4)
        return (self._h(label) + paragraphs(self.sentences(level)) + self.table(level)
                + figure_html(fig, f"Biểu đồ chỉ số hài lòng qua các năm: {label.lower()}; đổi phương pháp là "
                                   "chỗ ngắt của mỗi chuỗi"))

    def sections(self) -> list[str]:
        return [self.title(), self.method()] + [self.section(lv) for lv in self.levels()] + [self.notes()]

    def _type_label(self, level: str) -> str:
        for cfg in self.cfgs.values():
            for ut in cfg.registry.unit_types:
                if ut.id == level:
                    return ut.label_plural
        return level

    def sentences(self, level: str) -> list[str]:
        t = self._level(level)
        tested = t[t.significant.notna()]
        out = []
        if len(tested):
            sig = tested[tested.significant.astype(bool)]
            pairs = sorted({(int(r.previous_year), int(r.year)) for r in tested.itertuples()})
            span = ", ".join(f"{a}–{b}" for a, b in pairs)
            out.append(f"So sánh được kiểm định ({span}): {len(tested)} chuỗi; {len(sig)} thay đổi có ý nghĩa "
                       f"thống kê" + (": " + "; ".join(
                           f"{html.escape(r.series_name)} {fmt.pp(r.change)} ({int(r.previous_year)}–{r.year})"
                           for r in sig.itertuples()) if len(sig) else "") + ".")
        else:
            out.append("Không có cặp năm nào cùng phương pháp và cùng đơn vị để kiểm định.")
        units = t[(~t.comparable) & t.previous_year.notna() & (t.comparison_note == NOTE_UNITS)]
        if len(units):
            out.append(f"{len(set(units.series_id))} chuỗi có đơn vị thay đổi giữa hai năm: chỉ trình bày, không so sánh.")
        return out

    def table(self, level: str) -> str:
        from sipas.publishing.report import table_html

        t = self._level(level).copy()
        t["cell"] = [_cell(r) for r in t.itertuples()]
        wide = t.pivot(index="series_id", columns="year", values="cell")
        names = t.drop_duplicates("series_id").set_index("series_id")["series_name"]
        wide.insert(0, "name", names.reindex(wide.index).map(html.escape))
        wide = wide.reindex(list(dict.fromkeys(t.series_id))).fillna("–").reset_index(drop=True)
        cols = {"name": "Đơn vị / địa bàn"}
        for y in self.years:
            if y in wide.columns:
                meth = self.cfgs[y].methodology.short_title
                cols[y] = f"Năm {y} ({meth})"
        return table_html(wide, cols, html_cols=tuple(cols), css="sipas-table trends",
                          note="Số nhỏ: khoảng tin cậy; dòng dưới: thay đổi so với năm trước của chuỗi "
                               "(chỉ khi cùng phương pháp và cùng đơn vị), hoặc lý do không so sánh.")

    def notes(self) -> str:
        from sipas.publishing.report import heading, paragraphs

        return heading(None, "Ghi chú") + paragraphs([
            "Số liệu: bảng <code>outputs/tables/trends.csv</code> (mỗi dòng một chuỗi, một năm: chỉ số, khoảng tin "
            "cậy, phương pháp, có so sánh được không và kết quả kiểm định).",
            "Bảng chuyển đổi đơn vị: <code>params/crosswalk/</code>; danh mục đơn vị từng năm: "
            "<code>params/units/</code>."])

    def html(self) -> str:
        return "\n".join(s for s in self.sections() if s)


def _cell(r) -> str:
    if pd.isna(r.estimate):
        return "–"
    out = fmt.pct(r.estimate)
    if not pd.isna(r.ci_low):
        out += f'<span class="ci">{fmt.number(100 * r.ci_low, 1)}–{fmt.number(100 * r.ci_high, 1)}</span>'
    if not pd.isna(r.previous_year):
        if r.comparable and not pd.isna(r.change):
            verdict = ("có ý nghĩa thống kê" if r.significant else "khác biệt không có ý nghĩa thống kê") \
                if r.significant is not None else ""
            out += f'<span class="ci">{fmt.pp(r.change)}' + (f"; {verdict}" if verdict else "") + "</span>"
        elif r.comparison_note:
            out += f'<span class="ci">{html.escape(r.comparison_note)}</span>'
    return out


KICKER = "Tỉnh {province} · Khảo sát sự hài lòng · Xu hướng"


def trends_html_path(p: Paths) -> Path:
    return p.outputs() / "trends.html"


def trends_spec(years, p: Paths) -> dict:
    """How ``notebooks/trends.ipynb`` becomes ``outputs/trends.html``: its parameters, the
    files, and the page's title, kicker, footer and nav. The batch executes it in a warm
    kernel and renders it with :func:`sipas.publishing.render.notebook_html`, like every
    annex; the trends table (:func:`write_trends_table`) is written first."""
    from sipas.publishing.render import FOOTER

    ys = parse_years(years)
    province = YearConfig(ys[-1], p).settings.province
    return {"notebook": p.notebooks / "trends.ipynb", "parameters": {"years": ",".join(map(str, ys)), "root": str(p.root)},
            "html": trends_html_path(p), "executed": p.outputs() / "notebooks" / "trends.ipynb",
            "title": f"Xu hướng chỉ số hài lòng — tỉnh {province}", "kicker": KICKER.format(province=province),
            "footer": FOOTER, "nav": (("Trang chủ", "index.html"),)}


__all__ = ["TREND_COLUMNS", "TrendsAnnex", "parse_years", "trend_break_chart", "trends_spec",
           "trends_table", "write_trends_table"]
