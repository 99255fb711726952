"""The sections of a unit's annex and of the province report, as HTML fragments.

The notebooks call one method per section and show what it returns, so that an analyst
can reorder, drop or add sections in JupyterLab while the logic stays here, tested.
Every number comes from :class:`sipas.publishing.report.Report`; every sentence from
:mod:`sipas.publishing.narrative`; free text is escaped (:func:`sipas.publishing.report.comments_html`).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing import charts, narrative
from sipas.publishing.report import Report, comments_html, figure_html, flag_note, heading, lc, paragraphs, table_html

TITLE = "Kết quả đo lường sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước"


def _tiles(items: list[tuple[str, str, str]]) -> str:
    cells = "".join(f'<div class="tile"><div class="tile-label">{html.escape(label)}</div>'
                    f'<div class="tile-value">{value}</div><div class="tile-note">{note}</div></div>'
                    for label, value, note in items)
    return f'<div class="tiles">{cells}</div>'


def _change_tile(c: dict | None) -> tuple[str, str, str]:
    if c is None:
        return ("So với năm trước", "–", "chưa có số liệu")
    note = f"điểm %; năm {c['previous_year']}: {fmt.pct(c['previous'])}"
    if c["significant"] is not None:
        note += "; " + (narrative.SIGNIFICANT if c["significant"] else "không có ý nghĩa thống kê")
    return (f"So với năm {c['previous_year']}", fmt.pp(c["diff"]).replace(" điểm %", ""), note)


def _list(items: list[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{x}</li>" for x in items) + f"</{tag}>"


def _ci_cols(rep: Report, col: str = "estimate") -> dict:
    return {col: ("ci_low", "ci_high")} if rep.has_intervals else {}


def _flag_cols(rep: Report, col: str = "estimate") -> dict:
    return {col: "flag"} if rep.has_flags else {}


def _note(rep: Report) -> str | None:
    return flag_note(rep) or None


def _by_aspect(rep: Report, frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Rows of element / aspect / index figures in bands by aspect (methodologies with
    aspects): each aspect's elements, then the aspect's own index; the index last.
    Returns the frame and the band column (None without aspects: unchanged)."""
    m = rep.method
    if not m.aspects:
        return frame, None
    aspect_of = {e.id: e.aspect for e in m.elements} | {a.id: a.id for a in m.aspects}
    label = {a.id: a.label for a in m.aspects}
    order = {a.id: k for k, a in enumerate(m.aspects)}
    f = frame.copy()
    f["band"] = [label.get(aspect_of.get(x), m.index_label) for x in f.item_id]
    f["_a"] = [order.get(aspect_of.get(x), len(order)) for x in f.item_id]
    f["_own"] = f.item_id.isin(list(label)).astype(int)        # the aspect's index after its elements
    f.loc[f.item_id.isin(list(label)), "item_label"] = "Chỉ số chung của khía cạnh"
    f = f.sort_values(["_a", "_own"], kind="mergesort").drop(columns=["_a", "_own"]).reset_index(drop=True)
    return f, "band"


def _expectation_heads(rep: Report) -> tuple[str, str]:
    """Headers of the count and share columns of the expectations tables."""
    if rep.expectation_top:
        return f"Số người đánh giá {rep.expectation_top}", f"Tỷ lệ đánh giá {rep.expectation_top}"
    return "Số người chọn", "Tỷ lệ"


def _perception_tables(rep: Report, scope: str, with_province: bool) -> str:
    """The "chỉ số đánh giá" of each topic and the answers by category."""
    pi = rep.perception_index(scope)
    out = ""
    if len(pi):
        cols = {"variable_label": "Chủ đề", "positive_labels": "Câu trả lời tích cực", "estimate": "Chỉ số đánh giá"}
        if with_province:
            cols["province"] = "Toàn tỉnh"
        cols["n"] = "Số câu trả lời"
        out += table_html(pi, cols, pct=("estimate", "province"), num=("n",), css="sipas-table perception-index")
    dist = rep.perceptions_of(scope, with_province=with_province)
    cols = {"category_label": "Câu trả lời", "n": "Số người", "share": "Tỷ lệ"}
    if with_province:
        cols["province_share"] = "Toàn tỉnh"
    out += table_html(dist, cols, pct=("share", "province_share"), num=("n",), group="variable_label",
                      css="sipas-table profile-table",
                      note="Tỷ lệ trên số người trả lời chủ đề (không trọng số).")
    return out


class _Sections:
    """Numbered sections: each call to :meth:`_h` takes the next number."""

    def __init__(self) -> None:
        self._n = 0

    def _h(self, text: str) -> str:
        self._n += 1
        return heading(self._n, text)


# ====================================================================== unit annex


class UnitAnnex(_Sections):
    """A unit's annex (Phụ lục): call the sections in order, or :meth:`html` for all."""

    def __init__(self, year: int, unit_id: str, root: str | Path | None = None, rep: Report | None = None):
        super().__init__()
        self.rep = rep or Report(year, root)
        self.unit_id = unit_id
        self.u = self.rep.unit(unit_id)
        self.peers = self.rep.type_label(self.u.type, plural=True)
        self.group = group_id(self.u.type)

    def title(self) -> str:
        rep, u = self.rep, self.u
        rank, total = rep.rank_of(self.unit_id)
        s = rep.sample_of(self.unit_id)
        ci = rep.interval(self.unit_id)
        c = rep.change(self.unit_id)
        tiles = [
            (rep.method.index_label.split(" (")[0], f"{fmt.pct(rep.value(self.unit_id))}",
             f"KTC {rep.level_text}: {fmt.number(100 * ci[0], 1)}–{fmt.number(100 * ci[1], 1)}%" if ci else
             f"Bình quân nhóm: {fmt.pct(rep.value(self.group))}"),
            ("Xếp hạng trong nhóm", f"{rank}/{total}", html.escape(self.peers)),
            _change_tile(c),
            ("Phiếu hợp lệ", fmt.number(s.achieved), f"cỡ mẫu dự kiến {fmt.number(s.target)}"),
        ]
        return (f'<h1>{html.escape(u.name)}</h1><p class="subtitle">{html.escape(TITLE)}, tỉnh '
                f'{html.escape(rep.province)}, năm {rep.year}</p>' + _tiles(tiles))

    def summary(self) -> str:
        return self._h("Tóm tắt") + paragraphs(narrative.unit_summary(self.rep, self.unit_id))

    def elements(self) -> str:
        rep = self.rep
        prof = rep.element_profile(self.unit_id)
        names = {"unit": self.u.name, "group": f"Bình quân {lc(self.peers)}", "province": "Toàn tỉnh"}
        banded, band = _by_aspect(rep, prof)   # by aspect, when the methodology has aspects
        tbl = table_html(banded, {"item_label": "Yếu tố", **names, "diff_group": "Chênh lệch với nhóm (điểm %)"},
                         pct=("unit", "group", "province"), pp=("diff_group",), ci=_ci_cols(rep, "unit"),
                         flags=_flag_cols(rep, "unit"), note=_note(rep), css="sipas-table profile", group=band)
        fig = charts.profile_chart(prof, names, f"Chỉ số theo yếu tố, năm {rep.year}")
        return (self._h("Chỉ số theo yếu tố") + tbl
                + figure_html(fig, f"Biểu đồ chỉ số theo yếu tố của {self.u.name}, bình quân nhóm và toàn tỉnh"))

    def criteria(self) -> str:
        rep = self.rep
        crit = rep.criteria(self.unit_id)
        crit["group"] = [rep.value(self.group, c) for c in crit.item_id]
        crit["province"] = [rep.value(PROVINCE_ID, c) for c in crit.item_id]
        tbl = table_html(crit, {"item_label": "Tiêu chí", "estimate": "Tỷ lệ hài lòng", "group": "Bình quân nhóm",
                                "province": "Toàn tỉnh", "n": "Số câu trả lời hợp lệ"},
                         pct=("estimate", "group", "province"), num=("n",), group="element",
                         ci=_ci_cols(rep), flags=_flag_cols(rep), note=_note(rep), css="sipas-table criteria")
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
        out = head + paragraphs([narrative.unit_summary(rep, self.unit_id)[-1]])
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
        txt = [f"Số lượt phục vụ trong kỳ (N): {fmt.number(s.served)}; cỡ mẫu theo công thức n = N/(1 + N·e²): "
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
        n_head, share_head = _expectation_heads(rep)
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
                + _perception_tables(rep, self.unit_id, with_province=True))

    def comments(self, k: int = 5) -> str:
        rep = self.rep
        th = rep.comment_themes(self.unit_id)
        out = self._h("Ý kiến khác của người dân, tổ chức") + paragraphs(narrative.themes_text(rep, self.unit_id))
        if th.attrs.get("comments"):
            out += table_html(th[th.n > 0], {"theme": "Chủ đề", "n": "Số ý kiến", "share": "Tỷ lệ trong số ý kiến"},
                              pct=("share",), num=("n",), css="sipas-table themes")
            out += "<p>Một số ý kiến tiêu biểu (trích nguyên văn; thông tin cá nhân, nếu có, đã được ẩn):</p>"
        return out + comments_html(rep.comments(self.unit_id, k=k))

    def notes(self) -> str:
        rep = self.rep
        items = [narrative.method_note(rep)]
        fn = flag_note(rep)
        if fn:
            items.append(fn)
        items.append("Số liệu đầy đủ: bảng <code>tables/indices.csv</code> và Phụ lục Excel của năm.")
        return heading(None, "Ghi chú phương pháp") + paragraphs(items)

    def sections(self) -> list[str]:
        return [self.title(), self.summary(), self.elements(), self.criteria(), self.change(), self.standing(),
                self.respondents(), self.perceptions(), self.expectations(), self.comments(), self.notes()]

    def html(self) -> str:
        return "\n".join(s for s in self.sections() if s)


# ================================================================= province report


class ProvinceReport(_Sections):
    """The province report (Báo cáo): basis, sample, results, rankings, changes,
    respondent groups, expectations, comments, limitations, recommendations."""

    def __init__(self, year: int, root: str | Path | None = None, rep: Report | None = None):
        super().__init__()
        self.rep = rep or Report(year, root)

    def title(self) -> str:
        rep = self.rep
        ci = rep.interval(PROVINCE_ID)
        c = rep.change(PROVINCE_ID)
        tiles = [("Chỉ số chung của tỉnh", fmt.pct(rep.value(PROVINCE_ID)),
                  f"KTC {rep.level_text}: {fmt.number(100 * ci[0], 1)}–{fmt.number(100 * ci[1], 1)}%" if ci
                  else "bình quân các đơn vị" if rep.aggregation == "unit_mean" else "theo người trả lời")]
        for t in rep.unit_types:
            tiles.append((rep.type_label(t, plural=True), fmt.pct(rep.value(group_id(t))),
                          f"{len(rep.unit_ids(t))} đơn vị"))
        if c:
            tiles.append(_change_tile(c))
        tiles.append(("Phiếu hợp lệ", fmt.number(rep.sample.achieved.sum()), f"{len(rep.cfg.units)} đơn vị"))
        return (f"<h1>Báo cáo kết quả đo lường sự hài lòng năm {rep.year}</h1>"
                f'<p class="subtitle">{html.escape(TITLE)} trên địa bàn tỉnh {html.escape(rep.province)}</p>'
                + _tiles(tiles) + paragraphs(narrative.province_summary(rep)))

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
                + "<h3>Đặc điểm người trả lời (toàn tỉnh)</h3>" + ptbl)

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
        banded, band = _by_aspect(rep, levels)   # by aspect, when the methodology has aspects
        tbl = table_html(banded, {"item_label": "Chỉ số", **{s: rep.scope_name(s) for s in scopes}},
                         pct=tuple(scopes), ci=_ci_cols(rep, PROVINCE_ID), flags=_flag_cols(rep, PROVINCE_ID),
                         note=_note(rep), group=band)
        names = {s: rep.scope_name(s) for s in scopes}
        fig = charts.profile_chart(levels.rename(columns={}), names, f"Chỉ số theo yếu tố, năm {rep.year}")
        crit = rep.criteria(PROVINCE_ID)
        for t in rep.unit_types:
            crit[t] = [rep.value(group_id(t), c) for c in crit.item_id]
        ctbl = table_html(crit, {"item_label": "Tiêu chí", "estimate": "Toàn tỉnh",
                                 **{t: rep.type_label(t, plural=True) for t in rep.unit_types},
                                 "n": "Số câu trả lời hợp lệ"},
                          pct=("estimate", *rep.unit_types), num=("n",), group="element", ci=_ci_cols(rep),
                          flags=_flag_cols(rep), css="sipas-table criteria")
        return (self._h("Kết quả chung theo cấp") + paragraphs(narrative.results_text(rep)) + tbl
                + figure_html(fig, "Biểu đồ chỉ số theo yếu tố: toàn tỉnh và các nhóm đơn vị")
                + "<h3>Chỉ số theo tiêu chí</h3>" + ctbl)

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
            out += f"<h3>{html.escape(rep.type_label(t, plural=True))}</h3>"
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
        n_head, share_head = _expectation_heads(rep)
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
                + _perception_tables(rep, PROVINCE_ID, with_province=False))

    def comments(self, k: int = 6) -> str:
        rep = self.rep
        th = rep.comment_themes(PROVINCE_ID)
        out = self._h("Ý kiến khác của người dân, tổ chức") + paragraphs(narrative.themes_text(rep))
        if th.attrs.get("comments"):
            out += table_html(th, {"theme": "Chủ đề (theo từ khóa)", "n": "Số ý kiến", "share": "Tỷ lệ trong số ý kiến"},
                              pct=("share",), num=("n",), css="sipas-table themes")
            out += "<p>Một số ý kiến tiêu biểu (trích nguyên văn; thông tin cá nhân, nếu có, đã được ẩn):</p>"
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
        return self._h("Hạn chế") + _list(narrative.limitations(self.rep))

    def recommendations(self) -> str:
        return self._h("Kiến nghị") + _list(narrative.recommendations(self.rep), ordered=True)

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


def ranking_table(rep: Report, r: pd.DataFrame, links: dict[str, str] | None = None) -> str:
    """The compact ranking table: rank, unit (a link when given), SIPAS with its interval
    and flag under it, then the element indices under short headers."""
    r = r.copy()
    if links:
        r["unit_cell"] = [links.get(u, html.escape(n)) for u, n in zip(r.unit_id, r.unit_name)]
    else:
        r["unit_cell"] = [html.escape(n) for n in r.unit_name]
    if "rank_low" in r:
        r["rank_cell"] = [f'{k}<span class="ci">{int(a)}–{int(b)}</span>' if not pd.isna(a) else str(k)
                          for k, a, b in zip(r["rank"], r.rank_low, r.rank_high)]
    else:
        r["rank_cell"] = r["rank"].astype(str)
    tops = [k for k, _ in rep.top_items]
    # the official columns (issue 14): STT and the change of rank, from the official table model
    from sipas.publishing.official.tables import official_columns

    r, extra = official_columns(rep, r)
    cols = {"stt": "STT", "rank_cell": "Hạng", "unit_cell": "Đơn vị", "sipas": "Chỉ số chung", **extra,
            **dict(rep.top_items)}
    return table_html(r, cols, pct=("sipas", *tops), html_cols=("rank_cell", "unit_cell"),
                      ci={"sipas": ("ci_low", "ci_high")} if "ci_low" in r and r.ci_low.notna().any() else None,
                      flags={"sipas": "flag"} if "flag" in r and rep.has_flags else None,
                      css="sipas-table ranking", note=_note(rep))


# ============================================================ statistics section


def _stat_table(rep: Report, name: str) -> pd.DataFrame | None:
    """An optional table of the year (``outputs/<year>/tables/<name>``), None if absent."""
    from sipas.publishing.report import _read

    t = _read(rep.paths.tables(rep.year) / name)
    return t if t is not None and len(t) else None


def _with_interval(v: float, lo: float, hi: float, digits: int = 2) -> str:
    if pd.isna(v):
        return "–"
    return (f"{fmt.number(v, digits)}<span class=\"ci\">{fmt.number(lo, digits)}–{fmt.number(hi, digits)}</span>"
            if not (pd.isna(lo) or pd.isna(hi)) else fmt.number(v, digits))


def _p_text(p: float) -> str:
    return "–" if pd.isna(p) else ("< 0,001" if p < 0.001 else fmt.number(p, 3))


def reliability_html(rep: Report) -> str:
    """Cronbach's alpha of every element (province, and each peer group) with Feldt's
    interval, and the criterion least tied to its element."""
    t = _stat_table(rep, "reliability")
    if t is None:
        return ""
    el = t[t.level == "element"]
    crit = t[(t.level == "criterion") & (t.unit_id == PROVINCE_ID)]
    prov = el[el.unit_id == PROVINCE_ID].reset_index(drop=True)
    if not len(prov):
        return ""
    scopes = [s for s in el.unit_id.unique() if s != PROVINCE_ID]
    prov["alpha_cell"] = [_with_interval(a, lo, hi) for a, lo, hi in zip(prov.alpha, prov.ci_low, prov.ci_high)]
    cols = {"item_label": "Yếu tố", "n_items": "Số tiêu chí", "n": "Số người trả lời đủ", "alpha_cell": "Alpha toàn tỉnh"}
    for sc in scopes:
        a = el[el.unit_id == sc].set_index("element_id")
        prov[sc] = [_with_interval(a.alpha.get(e), a.ci_low.get(e), a.ci_high.get(e)) for e in prov.element_id]
        cols[sc] = rep.scope_name(sc)
    weakest = []
    for e in prov.element_id:
        c = crit[crit.element_id == e].dropna(subset=["item_rest"])
        r = c.loc[c.item_rest.idxmin()] if len(c) else None
        weakest.append("–" if r is None else f"{html.escape(r.item_label)} ({fmt.number(r.item_rest, 2)})")
    prov["weakest"] = weakest
    cols["weakest"] = "Tiêu chí gắn yếu nhất với yếu tố (tương quan)"
    ok = int((prov.alpha >= 0.7).sum())
    low = [html.escape(x) for x in prov.loc[prov.alpha < 0.7, "item_label"]]
    weak = crit[crit.flag == "weak_item"]
    text = [f"Hệ số Cronbach's alpha cho biết các tiêu chí của cùng một yếu tố có đo nhất quán một nội dung hay không "
            f"(từ 0,70 trở lên: chấp nhận được; từ 0,80: tốt). {ok}/{len(prov)} yếu tố đạt từ 0,70 trở lên"
            + (f"; chưa đạt: {', '.join(low)}." if low else ".")
            + (f" {len(weak)} tiêu chí có tương quan với phần còn lại của yếu tố dưới 0,30." if len(weak) else
               " Mọi tiêu chí đều có tương quan với phần còn lại của yếu tố từ 0,30 trở lên.")]
    note = ("Alpha tính trên những người trả lời hợp lệ (1–5) mọi tiêu chí của yếu tố, không dùng trọng số; dòng nhỏ "
            "dưới mỗi hệ số là khoảng tin cậy 95% theo Feldt (giả định người trả lời độc lập). Tương quan: giữa tiêu chí "
            "và tổng các tiêu chí còn lại của yếu tố.")
    return ("<h3>Độ tin cậy của thang đo (Cronbach's alpha)</h3>" + paragraphs(text)
            + table_html(prov, cols, num=("n_items", "n"), html_cols=("alpha_cell", "weakest", *scopes),
                         css="sipas-table reliability", note=html.escape(note)))


def drivers_html(rep: Report) -> str:
    """Odds ratios of the element models and of the respondent profile."""
    t = _stat_table(rep, "drivers")
    if t is None:
        return ""
    t = t.copy()
    t["or_cell"] = [_with_interval(o, lo, hi) for o, lo, hi in zip(t.odds_ratio, t.ci_low, t.ci_high)]
    t["p_cell"] = t.p_value.map(_p_text)
    el = t[t.model.str.startswith("element:") & (t.variable == t.model.str.removeprefix("element:"))]
    out = "<h3>Các yếu tố gắn với sự hài lòng chung</h3>"
    failed = el[~el.converged.astype(bool)]
    el = el[el.converged.astype(bool)]
    if len(failed):  # separation: the fit ran off and its odds ratio means nothing
        names = ", ".join(html.escape(x.split(" (")[0]) for x in failed.label)
        out += paragraphs([f"Không trình bày mô hình của: {names} — mô hình không hội tụ (có nhóm người trả lời "
                           "hài lòng hoặc không hài lòng hoàn toàn), nên tỷ số chênh không xác định."])
    if len(el):
        el = el.sort_values("odds_ratio", ascending=False)
        top = el.iloc[0]
        out += paragraphs([
            "Bộ câu hỏi không có câu hỏi về mức hài lòng chung; “hài lòng chung” được tính từ chính các yếu tố "
            "(chỉ số cá nhân từ 50% trở lên). Vì vậy, mỗi yếu tố được đặt cạnh sự hài lòng với <em>các yếu tố còn "
            "lại</em>: tỷ số chênh (OR) cho biết khả năng hài lòng với các yếu tố còn lại gấp bao nhiêu lần khi tỷ lệ "
            "câu trả lời hài lòng của người dân về yếu tố đó cao hơn 10 điểm phần trăm, cùng đặc điểm người trả lời "
            "và loại đơn vị. Đây là mức độ gắn kết trong cùng một lần trả lời, không phải quan hệ nhân quả.",
            f"Gắn chặt nhất: {html.escape(top.label.split(' (')[0])} (OR {fmt.number(top.odds_ratio, 2)}, "
            f"khoảng tin cậy 95% {fmt.number(top.ci_low, 2)}–{fmt.number(top.ci_high, 2)})."])
        out += table_html(el.assign(label=el.label.str.replace(" (mỗi 10 điểm %)", "", regex=False)),
                          {"label": "Yếu tố", "or_cell": "OR (mỗi 10 điểm %)", "p_cell": "p"},
                          html_cols=("or_cell",), css="sipas-table drivers")
    prof = t[(t.model == "profile") & (t.term != "(Intercept)")].copy()
    if len(prof) and not prof.converged.astype(bool).all():
        out += paragraphs(["Mô hình theo đặc điểm người trả lời không hội tụ nên không trình bày."])
        prof = prof.iloc[0:0]
    if len(prof):
        var_labels = {v.id: v.label for v in rep.method.profile}
        var_labels["unit_type"] = "Loại đơn vị"
        cat_labels = {(v.id, c.code): c.label for v in rep.method.profile if v.type == "category" for c in v.categories}
        cat_labels.update({("unit_type", ut.id): ut.label_plural for ut in rep.cfg.registry.unit_types})
        prof["band"] = [f"{var_labels.get(v, v)} (so với: {cat_labels.get((v, r), r)})"
                        for v, r in zip(prof.variable, prof.reference)]
        out += paragraphs(["Hài lòng chung theo đặc điểm người trả lời, các đặc điểm được xét đồng thời (OR trên 1: "
                           "khả năng hài lòng cao hơn nhóm so sánh; khoảng tin cậy chứa 1: chưa thấy khác biệt):"])
        out += table_html(prof, {"label": "Nhóm", "or_cell": "OR", "p_cell": "p"}, html_cols=("or_cell",),
                          group="band", css="sipas-table drivers",
                          note=html.escape("Hồi quy logistic có trọng số thiết kế; sai số chuẩn theo thiết kế mẫu "
                                           "(tuyến tính hóa Taylor, như svyglm của R); dòng nhỏ dưới mỗi OR là "
                                           "khoảng tin cậy 95%; p chưa hiệu chỉnh so sánh bội. Nhóm dưới 50 người "
                                           "được gộp thành “Nhóm nhỏ (gộp)”."))
    return out


def rank_certainty_html(rep: Report) -> str:
    """Per peer group: which places are distinguishable (rank intervals that do not overlap)."""
    r = rep._ranks
    if r is None or "rank_low" not in r or not len(r):
        return ""
    r = r[r.item_id == "sipas"] if "item_id" in r else r
    names = {u.id: u.name for u in rep.cfg.units}
    out = "<h3>Độ chắc chắn của thứ hạng</h3>"
    n_boot = int(r.n_boot.iloc[0]) if "n_boot" in r else None
    for t in rep.unit_types:
        g = r[r.unit_type == t].sort_values(["rank", "unit_id"]).reset_index(drop=True)
        if not len(g):
            continue
        above = [int((g.rank_low > h).sum()) for h in g.rank_high]   # units surely ranked below
        below = [int((g.rank_high < lo).sum()) for lo in g.rank_low]  # units surely ranked above
        g["unit_name"] = g.unit_id.map(names)
        g["interval"] = [f"{int(a)}–{int(b)}" if a != b else str(int(a)) for a, b in zip(g.rank_low, g.rank_high)]
        g["surely_above"], g["surely_below"] = above, below
        pairs = len(g) * (len(g) - 1) // 2
        fixed = [html.escape(n) for n, a, b in zip(g.unit_name, g.rank_low, g.rank_high) if a == b]
        label = lc(rep.type_label(t, plural=True))
        out += paragraphs([f"{html.escape(rep.type_label(t, plural=True))}: {sum(above)}/{pairs} cặp đơn vị có khoảng "
                           f"hạng {rep.level_text} không giao nhau, tức là phân biệt được thứ tự; các cặp còn lại chưa "
                           f"đủ bằng chứng để khẳng định đơn vị nào xếp trên."
                           + (f" Vị trí xác định rõ: {', '.join(fixed)}." if fixed else
                              f" Không đơn vị nào trong {html.escape(label)} có vị trí xác định tuyệt đối.")])
        out += table_html(g, {"rank": "Hạng", "unit_name": "Đơn vị", "interval": f"Khoảng hạng {rep.level_text}",
                              "surely_above": "Chắc chắn xếp trên (số đơn vị)",
                              "surely_below": "Chắc chắn xếp dưới (số đơn vị)"},
                          num=("rank", "surely_above", "surely_below"), css="sipas-table rank-certainty")
    note = ("Khoảng hạng: bootstrap Rao–Wu chọn lại có hoàn lại các đơn vị mẫu cấp một (xã, phường, thị trấn đối với "
            "huyện; người trả lời đối với sở, ngành) trong từng đơn vị"
            + (f", {fmt.number(n_boot)} lần lặp" if n_boot else "") + ", tính lại chỉ số và thứ hạng mỗi lần; "
            "khoảng gồm 95% số lần lặp ở giữa. Hai đơn vị phân biệt được khi khoảng hạng của chúng không giao nhau.")
    return out + paragraphs([html.escape(note)])


# ====================================================================== pages

KICKER = "Tỉnh {province} · Khảo sát sự hài lòng năm {year}"
FOOTER = "Tạo tự động bởi sipas từ dữ liệu khảo sát; số liệu tái lập được."


def unit_page(rep: Report, unit_id: str) -> str:
    """A unit's annex as a finished page without going through a notebook (the same
    sections, the same house page): for previews, tests and fast re-rendering."""
    from sipas.publishing.render import page

    a = UnitAnnex(rep.year, unit_id, rep=rep)
    return page(f"{a.u.name} — năm {rep.year}", a.html(), kicker=KICKER.format(province=rep.province, year=rep.year),
                footer=FOOTER, nav=[(f"Trang chủ năm {rep.year}", "../index.html")], toc=True)


def province_page(rep: Report) -> str:
    from sipas.publishing.render import page

    r = ProvinceReport(rep.year, rep=rep)
    return page(f"Báo cáo toàn tỉnh {rep.province} năm {rep.year}", r.html(),
                kicker=KICKER.format(province=rep.province, year=rep.year), footer=FOOTER,
                nav=[(f"Trang chủ năm {rep.year}", "index.html")], toc=True)
