"""The province report's statistics section: reliability of the scale (Cronbach's
alpha), what goes with being satisfied (odds ratios), how sure the ranks are; from the
tables ``reliability``, ``drivers`` and ``ranks`` (:mod:`sipas.publishing.data`).
"""

from __future__ import annotations

import html

import pandas as pd
from markupsafe import Markup

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID
from sipas.publishing.markup import heading, paragraphs, table_html, with_ci
from sipas.publishing.report import Report, lc


def _stat_table(rep: Report, name: str) -> pd.DataFrame | None:
    """A table of the year (``outputs/<year>/tables/<name>``), None when it has no rows."""
    t = rep.tables[name]
    return t if len(t) else None


def _with_interval(v: float, lo: float, hi: float, digits: int = 2) -> str:
    if pd.isna(v):
        return "–"
    return (with_ci(fmt.number(v, digits), f"{fmt.number(lo, digits)}–{fmt.number(hi, digits)}")
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
    return (heading(None, Markup("Độ tin cậy của thang đo (Cronbach's alpha)"), 3) + paragraphs(text)
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
    out = heading(None, "Các yếu tố gắn với sự hài lòng chung", 3)
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
    out = heading(None, "Độ chắc chắn của thứ hạng", 3)
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
