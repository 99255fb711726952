"""The trends annex (Phụ lục xu hướng) built from the trends table
(:mod:`sipas.publishing.trends.table`): the method of comparison, one section per level
(sentences, a table of the years side by side, small multiples with the breaks), notes.

Its wording and markup are in ``templates/trends.html.j2`` (autoescape on), which
uses the house macros (headings, figures with intervals); :func:`trends_spec` tells the
batch how ``notebooks/trends.ipynb`` becomes ``outputs/trends.html``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.publishing.charts import _wrap
from sipas.publishing.markup import figure_html, heading, table_html, title_html
from sipas.publishing.templating import env
from sipas.publishing.text import ci_text
from sipas.publishing.trends.table import LEVEL_LABELS, NOTE_UNITS, available_years, parse_years, trends_table

KICKER = "Tỉnh {province} · Khảo sát sự hài lòng · Xu hướng"


@lru_cache(maxsize=1)
def _macros():
    return env().get_template("trends.html.j2").module


def trend_break_chart(t: pd.DataFrame, title: str, ncols: int = 4):
    """Small multiples, one panel per series: the SIPAS per year with its interval; the
    points of one methodology joined, a change of methodology left as a gap with a
    dashed vertical rule (never a line across it)."""
    import matplotlib.pyplot as plt

    from sipas.publishing.charts import PALETTE, WIDTH, _pct_formatter

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
        ax.yaxis.set_major_formatter(_pct_formatter())
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
        return title_html(f"Xu hướng chỉ số hài lòng qua các năm {years}",
                          f"Tỉnh {self.province}: toàn tỉnh, các sở, ban, ngành và các địa bàn qua các lần sắp xếp "
                          "đơn vị hành chính")

    def method(self) -> str:
        return self._h("Phương pháp so sánh") + str(_macros().method(self.methods(), self.breaks(), self.missing))

    def _level(self, level: str) -> pd.DataFrame:
        return self.t[self.t.series_level == level]

    def levels(self) -> list[str]:
        return list(dict.fromkeys(self.t.series_level))

    def section(self, level: str) -> str:
        t = self._level(level)
        if not len(t):
            return ""
        label = LEVEL_LABELS.get(level) or self._type_label(level)
        fig = trend_break_chart(t, f"{label}: chỉ số hài lòng qua các năm", ncols=1 if level == "province" else 4)
        return (self._h(label) + self.summary(level) + self.table(level)
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

    def summary(self, level: str) -> str:
        """The tested changes of a level (and how many series changed their units), as paragraphs."""
        t = self._level(level)
        tested = t[t.significant.notna()]
        sig = tested[tested.significant.astype(bool)]
        pairs = sorted({(int(r.previous_year), int(r.year)) for r in tested.itertuples()})
        significant = [(r.series_name, fmt.pp(r.change), int(r.previous_year), r.year) for r in sig.itertuples()]
        units = t[(~t.comparable) & t.previous_year.notna() & (t.comparison_note == NOTE_UNITS)]
        return str(_macros().summary(pairs, len(tested), significant, len(set(units.series_id))))

    def table(self, level: str) -> str:
        t = self._level(level).copy()
        t["cell"] = [_cell(r) for r in t.itertuples()]
        wide = t.pivot(index="series_id", columns="year", values="cell")
        names = t.drop_duplicates("series_id").set_index("series_id")["series_name"]
        wide.insert(0, "name", names.reindex(wide.index))
        wide = wide.reindex(list(dict.fromkeys(t.series_id))).fillna("–").reset_index(drop=True)
        cols = {"name": "Đơn vị / địa bàn"}
        for y in self.years:
            if y in wide.columns:
                meth = self.cfgs[y].methodology.short_title
                cols[y] = f"Năm {y} ({meth})"
        return table_html(wide, cols, html_cols=tuple(c for c in cols if c != "name"), css="sipas-table trends",
                          note="Số nhỏ: khoảng tin cậy; dòng dưới: thay đổi so với năm trước của chuỗi "
                               "(chỉ khi cùng phương pháp và cùng đơn vị), hoặc lý do không so sánh.")

    def notes(self) -> str:
        return str(_macros().notes())

    def html(self) -> str:
        return "\n".join(s for s in self.sections() if s)


def _cell(r) -> Markup:
    """A year's figure of a series: the SIPAS, its interval, and under it the change from
    the previous year (only when comparable) or why it is not compared."""
    if pd.isna(r.estimate):
        return Markup("–")
    below = ""
    if not pd.isna(r.previous_year):
        if r.comparable and not pd.isna(r.change):
            verdict = ("có ý nghĩa thống kê" if r.significant else "khác biệt không có ý nghĩa thống kê") \
                if r.significant is not None else ""
            below = fmt.pp(r.change) + (f"; {verdict}" if verdict else "")
        elif r.comparison_note:
            below = r.comparison_note
    ci = ci_text(r.ci_low, r.ci_high) if not pd.isna(r.ci_low) else ""
    return _macros().cell(fmt.pct(r.estimate), ci, below)


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


__all__ = ["KICKER", "TrendsAnnex", "trend_break_chart", "trends_html_path", "trends_spec"]
