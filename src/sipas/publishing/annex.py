"""The sections of a unit's annex (Phụ lục), as HTML fragments: :class:`UnitAnnex`.

``notebooks/unit_annex.ipynb`` calls one method per section and shows what it returns;
the notebook is the annex's table of contents: an analyst reorders, drops or adds
sections (markdown, tables, charts) by editing its cells, and the page shows them in
that place (:mod:`sipas.publishing.render`). Every number comes from
:class:`sipas.publishing.report.Report`; every sentence from
:mod:`sipas.publishing.narrative`; free text is escaped by the templates.

The province report is :mod:`sipas.publishing.province`, its statistics section
:mod:`sipas.publishing.stat_sections` (both re-exported here: older notebooks import
them from this module).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from sipas.base import formats as fmt
from sipas.base.designs import TARGET_RULES
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.estimation.ranks import BANDS
from sipas.publishing import charts, narrative
from sipas.publishing.markup import (
    comments_html,
    figure_html,
    flag_note,
    heading,
    paragraphs,
    table_html,
    tiles_html,
    title_html,
)
from sipas.publishing.model_based import model_table_args, policy_note, with_model
from sipas.publishing.province import ProvinceReport
from sipas.publishing.report import Report, lc
from sipas.publishing.sections import (
    TITLE,
    Sections,
    by_aspect,
    change_tile,
    ci_cols,
    expectation_heads,
    flag_cols,
    interval_note,
    note,
    perception_tables,
    ranking_table,
)
from sipas.publishing.stat_sections import drivers_html, rank_certainty_html, reliability_html


class UnitAnnex(Sections):
    """A unit's annex (Phụ lục): call the sections in order, or :meth:`html` for all."""

    def __init__(self, year: int, unit_id: str, root: str | Path | None = None, rep: Report | None = None):
        super().__init__()
        self.rep = rep or Report(year, root)
        self.unit_id = unit_id
        self.u = self.rep.unit(unit_id)
        self.peers = self.rep.type_label(self.u.type, plural=True)
        self.group = group_id(self.u.type)
        self.model = self.rep.shows_model(self.u.type)   # model-based columns (publication.sae.unit_types)

    def title(self) -> str:
        rep, u = self.rep, self.u
        pl = rep.place(self.unit_id)
        s = rep.sample_of(self.unit_id)
        tiles = [
            (rep.method.index_label.split(" (")[0], fmt.pct(rep.value(self.unit_id)),
             interval_note(rep, self.unit_id) or f"Bình quân nhóm: {fmt.pct(rep.value(self.group))}"),
            ("Xếp hạng trong nhóm", BANDS[pl["band"]], f"khoảng hạng {pl['rank_low']}–{pl['rank_high']}/{pl['total']}; "
             f"{self.peers}") if pl["banded"] else ("Xếp hạng trong nhóm", f"{pl['rank']}/{pl['total']}", self.peers),
            change_tile(rep.change(self.unit_id)),
            ("Phiếu hợp lệ", fmt.number(s.achieved), f"cỡ mẫu dự kiến {fmt.number(s.target)}"),
        ]
        return title_html(u.name, f"{TITLE}, tỉnh {rep.province}, năm {rep.year}") + tiles_html(tiles)

    def summary(self) -> str:
        return self._h("Tóm tắt") + paragraphs(narrative.unit_summary(self.rep, self.unit_id))

    def elements(self) -> str:
        rep = self.rep
        prof = rep.element_profile(self.unit_id)
        names = {"unit": self.u.name, "group": f"Bình quân {lc(self.peers)}", "province": "Toàn tỉnh"}
        banded, band = by_aspect(rep, prof)   # by aspect, when the methodology has aspects
        cols = {"item_label": "Yếu tố", "unit": self.u.name}
        ci, flags, foot, pct = ci_cols(rep, "unit"), flag_cols(rep, "unit"), note(rep), ("unit", "group", "province")
        if self.model:                     # model-based figures beside the direct ones (publication policy)
            banded = with_model(rep, banded, self.unit_id)
            m = model_table_args(cols)
            cols, ci, flags, pct = m["columns"], {**ci, **m["ci"]}, {**flags, **m["flags"]}, (*pct, "estimate_sae")
            foot = " ".join(x for x in (foot, policy_note(rep, self.u.type)) if x)
        cols.update({"group": names["group"], "province": names["province"],
                     "diff_group": "Chênh lệch với nhóm (điểm %)"})
        tbl = table_html(banded, cols, pct=pct, pp=("diff_group",), ci=ci, flags=flags, note=foot,
                         css="sipas-table profile", group=band)
        fig = charts.profile_chart(prof, names, f"Chỉ số theo yếu tố, năm {rep.year}")
        text = paragraphs(narrative.model_based_text(rep, self.unit_id)) if self.model else ""
        return (self._h("Chỉ số theo yếu tố") + text + tbl
                + figure_html(fig, f"Biểu đồ chỉ số theo yếu tố của {self.u.name}, bình quân nhóm và toàn tỉnh"))

    def criteria(self) -> str:
        rep = self.rep
        crit = rep.criteria(self.unit_id)
        crit["group"] = [rep.value(self.group, c) for c in crit.item_id]
        crit["province"] = [rep.value(PROVINCE_ID, c) for c in crit.item_id]
        cols = {"item_label": "Tiêu chí", "estimate": "Tỷ lệ hài lòng"}
        ci, flags, foot, pct = ci_cols(rep), flag_cols(rep), note(rep), ("estimate", "group", "province")
        if self.model:
            crit = with_model(rep, crit, self.unit_id)
            m = model_table_args(cols)
            cols, ci, flags, pct = m["columns"], {**ci, **m["ci"]}, {**flags, **m["flags"]}, (*pct, "estimate_sae")
            foot = " ".join(x for x in (foot, policy_note(rep, self.u.type)) if x)
        cols.update({"group": "Bình quân nhóm", "province": "Toàn tỉnh", "n": "Số câu trả lời hợp lệ"})
        tbl = table_html(crit, cols, pct=pct, num=("n",), group="element", ci=ci, flags=flags, note=foot,
                         css="sipas-table criteria")
        low = crit.dropna(subset=["estimate"])
        below = int((low.estimate < low.group - narrative.NEAR_ZERO).sum())
        text = paragraphs([f"{below}/{len(low)} tiêu chí có tỷ lệ hài lòng thấp hơn bình quân "
                           f"{html.escape(lc(self.peers))}."])
        return self._h("Chỉ số theo tiêu chí") + text + tbl

    def change(self) -> str:
        rep = self.rep
        head = self._h("Thay đổi so với năm trước")
        if rep.previous is None or rep.change(self.unit_id) is None:
            return head + paragraphs(["Chưa có số liệu năm trước của đơn vị để so sánh."])
        rows = narrative.unit_change_rows(rep, self.unit_id)
        prev = rep.previous.year
        cols = {"item_label": "Chỉ số", "previous": f"Năm {prev}", "current": f"Năm {rep.year}",
                "diff": "Thay đổi (điểm %)"}
        if rows.verdict.astype(bool).any():
            cols["verdict"] = "Kiểm định"
        out = head + paragraphs([narrative.change_sentence(rep, self.unit_id)])
        out += table_html(rows, cols, pct=("previous", "current"), pp=("diff",), css="sipas-table change")
        tr = rep.trend(self.unit_id, ["sipas"])
        if tr.year.nunique() >= 3:  # two years are the table above; a chart from three
            tp = rep.trend(PROVINCE_ID, ["sipas"]).assign(item_id="province")
            tg = rep.trend(self.group, ["sipas"]).assign(item_id="group")
            both = pd.concat([tr, tg, tp], ignore_index=True)
            fig = charts.trend_chart(both, f"{rep.method.index_label.split(' (')[0]} qua các năm",
                                     {"sipas": self.u.name, "group": f"Bình quân {lc(self.peers)}",
                                      "province": "Toàn tỉnh"})
            out += figure_html(fig, f"Biểu đồ chỉ số của {self.u.name} qua các năm")
        return out

    def standing(self) -> str:
        rep = self.rep
        ranking = rep.ranking(self.u.type)
        fig = charts.ranking_chart(ranking, f"{rep.method.index_label.split(' (')[0]}: {lc(self.peers)}, "
                                            f"năm {rep.year}", reference=rep.value(self.group),
                                   reference_label="Bình quân", highlight=self.unit_id)
        return (self._h(f"Vị trí trong {lc(self.peers)}") + paragraphs(narrative.standing(rep, self.unit_id))
                + figure_html(fig, f"Biểu đồ xếp hạng {lc(self.peers)}, {self.u.name} tô đậm"))

    def respondents(self) -> str:
        rep = self.rep
        s = rep.sample_of(self.unit_id)
        rule = TARGET_RULES[rep.cfg.target_rule(self.u.type)]
        txt = [f"Số lượt phục vụ trong kỳ (N): {fmt.number(s.served)}; cỡ mẫu {rule}: "
               f"{fmt.number(s.target)}; số phiếu hợp lệ: <strong>{fmt.number(s.achieved)}</strong>"
               + (f", khảo sát tại {fmt.number(s.communes_sampled)}/{fmt.number(s.communes_listed)} xã, phường, thị trấn"
                  if s.communes_listed else "") + "."]
        prof = rep.profile_of(self.unit_id, with_province=True)
        prof = prof[prof.n > 0]
        tbl = table_html(prof, {"category_label": "Nhóm", "n": "Số người", "share": "Tỷ lệ",
                                "province_share": "Toàn tỉnh"}, pct=("share", "province_share"), num=("n",),
                         group="variable_label", css="sipas-table profile-table",
                         note="Không liệt kê các nhóm không có người trả lời của đơn vị.")
        return self._h("Mẫu khảo sát và người trả lời") + paragraphs(txt) + tbl

    def expectations(self) -> str:
        rep = self.rep
        ex = rep.expectations_of(self.unit_id, with_province=True)
        if not len(ex):
            return ""
        n_head, share_head = expectation_heads(rep)
        tbl = table_html(ex, {"item_label": "Nội dung cần cải thiện", "n": n_head, "share": share_head,
                              "province_share": "Toàn tỉnh"}, pct=("share", "province_share"), num=("n",))
        return (self._h("Mong đợi của người dân, tổ chức")
                + paragraphs(narrative.expectations_text(rep, self.unit_id)) + tbl)

    def perceptions(self) -> str:
        """Perception topics (methodologies that have them; otherwise nothing)."""
        rep = self.rep
        if not len(rep.perceptions_of(self.unit_id)):
            return ""
        return (self._h("Nhận thức của người dân, tổ chức")
                + paragraphs(narrative.perceptions_text(rep, self.unit_id))
                + perception_tables(rep, self.unit_id, with_province=True))

    def comments(self, k: int = 5) -> str:
        rep = self.rep
        th = rep.comment_themes(self.unit_id)
        out = self._h("Ý kiến khác của người dân, tổ chức") + paragraphs(narrative.themes_text(rep, self.unit_id))
        if th.attrs.get("comments"):
            out += table_html(th[th.n > 0], {"theme": "Chủ đề", "n": "Số ý kiến", "share": "Tỷ lệ trong số ý kiến"},
                              pct=("share",), num=("n",), css="sipas-table themes")
            out += paragraphs(["Một số ý kiến tiêu biểu (trích nguyên văn; thông tin cá nhân, nếu có, đã được ẩn):"])
        return out + comments_html(rep.comments(self.unit_id, k=k))

    def notes(self) -> str:
        rep = self.rep
        items = [narrative.method_note(rep)]
        fn = flag_note(rep)
        if fn:
            items.append(fn)
        if self.model or rep.uses_bands(self.u.type):
            items.append(policy_note(rep, self.u.type, bands=True))
        items.append("Số liệu đầy đủ: bảng <code>tables/indices.csv</code> và Phụ lục Excel của năm.")
        return heading(None, "Ghi chú phương pháp") + paragraphs(items)

    def sections(self) -> list[str]:
        return [self.title(), self.summary(), self.elements(), self.criteria(), self.change(), self.standing(),
                self.respondents(), self.perceptions(), self.expectations(), self.comments(), self.notes()]

    def html(self) -> str:
        return "\n".join(s for s in self.sections() if s)


__all__ = ["TITLE", "ProvinceReport", "UnitAnnex", "drivers_html", "rank_certainty_html", "ranking_table",
           "reliability_html"]
