"""The province report (Báo cáo kết quả toàn tỉnh) as HTML sections: :class:`ProvinceReport`.

``notebooks/province_report.ipynb`` calls one method per section (see
:mod:`sipas.publishing.annex` for how a notebook is the page's table of contents).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing import charts, narrative
from sipas.publishing.markup import (
    comments_html,
    figure_html,
    flag_note,
    heading,
    list_html,
    paragraphs,
    table_html,
    title_html,
)
from sipas.publishing.report import Report, lc
from sipas.publishing.sections import (
    TITLE,
    Sections,
    by_aspect,
    ci_cols,
    expectation_heads,
    flag_cols,
    headline_tiles,
    note,
    perception_tables,
    ranking_table,
)
from sipas.publishing.stat_sections import drivers_html, rank_certainty_html, reliability_html


class ProvinceReport(Sections):
    """The province report (Báo cáo): basis, sample, results, rankings, changes,
    respondent groups, expectations, comments, limitations, recommendations."""

    def __init__(self, year: int, root: str | Path | None = None, rep: Report | None = None):
        super().__init__()
        self.rep = rep or Report(year, root)

    def title(self) -> str:
        rep = self.rep
        return (title_html(f"Báo cáo kết quả đo lường sự hài lòng năm {rep.year}",
                           f"{TITLE} trên địa bàn tỉnh {rep.province}")
                + headline_tiles(rep, rep.change(PROVINCE_ID)) + paragraphs(narrative.province_summary(rep)))

    def basis(self) -> str:
        return self._h("Căn cứ và phương pháp") + paragraphs(narrative.basis(self.rep))

    def sample(self) -> str:
        rep = self.rep
        s = rep.sample.copy()
        s["type"] = s.unit_type.map(lambda t: rep.type_label(t, plural=True))
        s["rate"] = s.achieved / s.target
        tbl = table_html(s, {"unit_name": "Đơn vị", "served": "Số lượt phục vụ (N)", "target": "Cỡ mẫu dự kiến",
                             "achieved": "Số phiếu hợp lệ", "rate": "Tỷ lệ đạt"},
                         num=("served", "target", "achieved"), pct=("rate",), group="type", css="sipas-table sample")
        prof = rep.profile_of(PROVINCE_ID)
        ptbl = table_html(prof[prof.n > 0], {"category_label": "Nhóm", "n": "Số người", "share": "Tỷ lệ"},
                          pct=("share",), num=("n",), group="variable_label", css="sipas-table profile-table")
        return (self._h("Mẫu khảo sát") + paragraphs(narrative.sample_text(rep)) + tbl
                + heading(None, "Đặc điểm người trả lời (toàn tỉnh)", 3) + ptbl)

    def results(self) -> str:
        rep = self.rep
        scopes = [PROVINCE_ID] + [group_id(t) for t in rep.unit_types]
        levels = rep.scope_levels(scopes)
        if rep.has_intervals:
            ci = rep.indices[rep.indices.unit_id == PROVINCE_ID].set_index("item_id")
            levels["ci_low"] = levels.item_id.map(ci["ci_low"])
            levels["ci_high"] = levels.item_id.map(ci["ci_high"])
            if "flag" in ci:
                levels["flag"] = levels.item_id.map(ci["flag"])
        banded, band = by_aspect(rep, levels)   # by aspect, when the methodology has aspects
        tbl = table_html(banded, {"item_label": "Chỉ số", **{s: rep.scope_name(s) for s in scopes}},
                         pct=tuple(scopes), ci=ci_cols(rep, PROVINCE_ID), flags=flag_cols(rep, PROVINCE_ID),
                         note=note(rep), group=band)
        names = {s: rep.scope_name(s) for s in scopes}
        fig = charts.profile_chart(levels.rename(columns={}), names, f"Chỉ số theo yếu tố, năm {rep.year}")
        crit = rep.criteria(PROVINCE_ID)
        for t in rep.unit_types:
            crit[t] = [rep.value(group_id(t), c) for c in crit.item_id]
        ctbl = table_html(crit, {"item_label": "Tiêu chí", "estimate": "Toàn tỉnh",
                                 **{t: rep.type_label(t, plural=True) for t in rep.unit_types},
                                 "n": "Số câu trả lời hợp lệ"},
                          pct=("estimate", *rep.unit_types), num=("n",), group="element", ci=ci_cols(rep),
                          flags=flag_cols(rep), css="sipas-table criteria")
        return (self._h("Kết quả chung theo cấp") + paragraphs(narrative.results_text(rep)) + tbl
                + figure_html(fig, "Biểu đồ chỉ số theo yếu tố: toàn tỉnh và các nhóm đơn vị")
                + heading(None, "Chỉ số theo tiêu chí", 3) + ctbl)

    def ranking(self, unit_type: str) -> str:
        rep = self.rep
        label = rep.type_label(unit_type, plural=True)
        r = rep.ranking(unit_type)
        tbl = ranking_table(rep, r)
        fig = charts.ranking_chart(r, f"{rep.method.index_label.split(' (')[0]}: {lc(label)}, năm {rep.year}",
                                   reference=rep.value(group_id(unit_type)), reference_label="Bình quân")
        return (self._h(f"Xếp hạng {lc(label)}") + paragraphs(narrative.ranking_text(rep, unit_type)) + tbl
                + figure_html(fig, f"Biểu đồ xếp hạng {lc(label)}"))

    def rankings(self) -> str:
        return "\n".join(self.ranking(t) for t in self.rep.unit_types)

    def changes(self) -> str:
        rep = self.rep
        head = self._h("Thay đổi so với năm trước")
        if rep.previous is None:
            return head + paragraphs(["Chưa có số liệu năm trước để so sánh."])
        out = head + paragraphs(narrative.changes_text(rep))
        for t in rep.unit_types:
            ch = rep.changes(t)
            if not len(ch):
                continue
            ch["verdict"] = ch.significant.map(lambda v: "" if v is None or pd.isna(v) else
                                               ("Có ý nghĩa" if v else "Không có ý nghĩa"))
            prev = int(ch.previous_year.iloc[0])
            cols = {"unit_name": "Đơn vị", "previous": f"Năm {prev}", "current": f"Năm {rep.year}",
                    "diff": "Thay đổi (điểm %)"}
            if ch.verdict.astype(bool).any():
                cols["verdict"] = "Kiểm định"
            out += heading(None, rep.type_label(t, plural=True), 3)
            out += table_html(ch, cols, pct=("previous", "current"), pp=("diff",), css="sipas-table change")
        tr = pd.concat([rep.trend(PROVINCE_ID, ["sipas"]).assign(item_id="province")]
                       + [rep.trend(group_id(t), ["sipas"]).assign(item_id=t) for t in rep.unit_types],
                       ignore_index=True)
        if tr.year.nunique() >= 2:
            fig = charts.trend_chart(tr, "Chỉ số hài lòng qua các năm",
                                     {"province": "Toàn tỉnh", **{t: rep.type_label(t, plural=True)
                                                                  for t in rep.unit_types}})
            out += figure_html(fig, "Biểu đồ chỉ số hài lòng của tỉnh và các nhóm đơn vị qua các năm")
        return out

    def groups(self) -> str:
        rep = self.rep
        g = rep.group_differences(PROVINCE_ID)
        g = g[g.n > 0]
        if not len(g):
            return ""
        note = ("Tỷ lệ người hài lòng chung: người có chỉ số cá nhân (trung bình các yếu tố của tỷ lệ câu trả lời "
                "“Hài lòng”, “Rất hài lòng”) từ 50% trở lên, có trọng số thiết kế; nhóm dưới 30 người không được so "
                "sánh trong phần lời."
                + (" Kiểm định: Rao–Scott (F bậc hai), p đã hiệu chỉnh so sánh bội." if g.significant.notna().any()
                   else ""))
        g = g.copy()
        g["verdict"] = g.significant.map(lambda v: "" if v is None or pd.isna(v) else
                                         ("Có ý nghĩa" if v else "Không có ý nghĩa"))
        g["band"] = [f"{a} — khác biệt {'có' if v == 'Có ý nghĩa' else 'không có'} ý nghĩa thống kê" if v else a
                     for a, v in zip(g.variable_label, g.verdict)]
        cols = {"category_label": "Nhóm", "n": "Số người", "rate": "Tỷ lệ hài lòng chung"}
        tbl = table_html(g, cols, pct=("rate",), num=("n",), group="band",
                         css="sipas-table profile-table", note=html.escape(note))
        return (self._h("Khác biệt giữa các nhóm người trả lời") + paragraphs(narrative.groups_text(rep)) + tbl)

    def expectations(self) -> str:
        rep = self.rep
        ex = rep.expectations_of(PROVINCE_ID)
        if not len(ex):
            return ""
        fig = charts.bars_chart(list(ex.item_label), list(ex.share), "Nội dung người dân, tổ chức mong được cải thiện")
        n_head, share_head = expectation_heads(rep)
        tbl = table_html(ex, {"item_label": "Nội dung cần cải thiện", "n": n_head, "share": share_head},
                         pct=("share",), num=("n",))
        return (self._h("Mong đợi của người dân, tổ chức") + paragraphs(narrative.expectations_text(rep)) + tbl
                + figure_html(fig, "Biểu đồ tỷ lệ người trả lời theo từng nội dung cần cải thiện"))

    def perceptions(self) -> str:
        """Perception topics (methodologies that have them; otherwise nothing)."""
        rep = self.rep
        if not len(rep.perceptions_of(PROVINCE_ID)):
            return ""
        return (self._h("Nhận thức của người dân, tổ chức") + paragraphs(narrative.perceptions_text(rep))
                + perception_tables(rep, PROVINCE_ID, with_province=False))

    def comments(self, k: int = 6) -> str:
        rep = self.rep
        th = rep.comment_themes(PROVINCE_ID)
        out = self._h("Ý kiến khác của người dân, tổ chức") + paragraphs(narrative.themes_text(rep))
        if th.attrs.get("comments"):
            out += table_html(th, {"theme": "Chủ đề (theo từ khóa)", "n": "Số ý kiến", "share": "Tỷ lệ trong số ý kiến"},
                              pct=("share",), num=("n",), css="sipas-table themes")
            out += paragraphs(["Một số ý kiến tiêu biểu (trích nguyên văn; thông tin cá nhân, nếu có, đã được ẩn):"])
        return out + comments_html(rep.comments(PROVINCE_ID, k=k))

    def statistics(self) -> str:
        """Reliability of the scale, what goes with being satisfied, how sure the ranks
        are (tables ``reliability``, ``drivers``, ``ranks``); empty without them."""
        parts = [reliability_html(self.rep), drivers_html(self.rep), rank_certainty_html(self.rep)]
        if not any(parts):
            return ""
        return self._h("Độ tin cậy của thang đo, các yếu tố gắn với sự hài lòng và độ chắc chắn của thứ hạng") \
            + "".join(parts)

    def limitations(self) -> str:
        return self._h("Hạn chế") + list_html(narrative.limitations(self.rep))

    def recommendations(self) -> str:
        return self._h("Kiến nghị") + list_html(narrative.recommendations(self.rep), ordered=True)

    def notes(self) -> str:
        fn = flag_note(self.rep)
        return (heading(None, "Ghi chú") + paragraphs([fn] if fn else [])
                + paragraphs(["Số liệu đầy đủ: <code>tables/indices.csv</code> (chỉ số theo đơn vị, yếu tố, tiêu chí) "
                              "và Phụ lục Excel của năm."]))

    def sections(self) -> list[str]:
        return [self.title(), self.basis(), self.sample(), self.results(), self.rankings(), self.changes(),
                self.groups(), self.statistics(), self.perceptions(), self.expectations(), self.comments(), self.limitations(), self.recommendations(),
                self.notes()]

    def html(self) -> str:
        return "\n".join(s for s in self.sections() if s)
