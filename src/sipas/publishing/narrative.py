"""Vietnamese sentences generated from the numbers, so the text stays true when the
data changes.

Each function returns a list of sentences (or paragraphs) as trusted HTML: names and
labels come from the registry and the codebook and are escaped here; respondents' free
text never enters a sentence. The word "có ý nghĩa thống kê" is written only where the
statistics' test table says so (:meth:`sipas.publishing.report.Report.test`); without a test
table a change is reported as a plain difference.
"""

from __future__ import annotations

import math
from html import escape as e

import numpy as np

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing.design_note import household_note
from sipas.publishing.report import Report, ci_text, flag_mark, is_flagged, is_suppressed, lc

SIGNIFICANT = "có ý nghĩa thống kê"
NOT_SIGNIFICANT = "khác biệt không có ý nghĩa thống kê"
NEAR_ZERO = 0.00005


def b(text: str) -> str:
    return f"<strong>{e(text)}</strong>"


def i(text: str) -> str:
    return f"<em>{e(text)}</em>"


def _compare(a: float, ref: float, what: str) -> str:
    d = a - ref
    if abs(d) < NEAR_ZERO:
        return f"bằng {what} ({fmt.pct(ref)})"
    word = "cao hơn" if d > 0 else "thấp hơn"
    return f"{word} {what} ({fmt.pct(ref)}) {fmt.pp(abs(d), sign=False)}"


def change_phrase(diff: float, significant: bool | None) -> str:
    """``tăng 1,23 điểm %`` plus the test's verdict when there is one."""
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return "không so sánh được"
    if abs(diff) < NEAR_ZERO:
        return "không đổi" + (f" ({NOT_SIGNIFICANT})" if significant is False else "")
    word = "tăng" if diff > 0 else "giảm"
    size = fmt.pp(abs(diff), sign=False)
    if significant is True:
        return f"{word} {size}, mức {word} {SIGNIFICANT}"
    if significant is False:
        return f"{word} {size}, nhưng {NOT_SIGNIFICANT}"
    return f"{word} {size}"


def _with_ci(rep: Report, scope: str, item: str = "sipas") -> str:
    ci = rep.interval(scope, item)
    return f" (khoảng tin cậy {rep.level_text}: {ci_text(*ci)}%)" if ci else ""


# ------------------------------------------------------------------ unit annex


def unit_summary(rep: Report, unit_id: str) -> list[str]:
    u = rep.unit(unit_id)
    value = rep.value(unit_id)
    rank, total = rep.rank_of(unit_id)
    group = rep.value(group_id(u.type))
    prov = rep.value(PROVINCE_ID)
    peers = lc(rep.type_label(u.type, plural=True))
    out = [
        f"Năm {rep.year}, {e(rep.method.index_label)} của {b(u.name)} đạt {b(fmt.pct(value))}"
        f"{_with_ci(rep, unit_id)}, xếp thứ {b(f'{rank}/{total}')} trong {e(peers)}; "
        f"{_compare(value, group, 'mức bình quân của ' + e(peers))} và "
        f"{_compare(value, prov, 'mức chung của tỉnh')}."
    ]
    peer = rep.test("peer", unit_id)
    if peer is not None:
        out.append("So với các đơn vị còn lại trong nhóm, " + (
            f"chênh lệch {SIGNIFICANT}." if peer["significant"] else f"{NOT_SIGNIFICANT}."))
    if rep.flagged(unit_id):
        out.append("Lưu ý: chỉ số chung của đơn vị được đánh dấu về độ tin cậy (xem chú thích "
                   f"{flag_mark(rep.flag(unit_id))} ở cuối bảng).")
    prof = rep.element_profile(unit_id)
    elems = prof[prof.item_id.isin([x.id for x in rep.method.elements])].dropna(subset=["unit"])
    if len(elems) >= 2:
        best = elems.loc[elems["unit"].idxmax()]
        worst = elems.loc[elems["unit"].idxmin()]
        out.append(f"Yếu tố được đánh giá cao nhất là {i(best.item_label)} ({fmt.pct(best['unit'])}); "
                   f"thấp nhất là {i(worst.item_label)} ({fmt.pct(worst['unit'])}).")
        below = elems[elems["unit"] < elems["group"] - NEAR_ZERO]
        if len(below) == 0:
            out.append(f"Tất cả các yếu tố đều bằng hoặc cao hơn mức bình quân của {e(peers)}.")
        else:
            out.append(f"Có {len(below)}/{len(elems)} yếu tố thấp hơn mức bình quân của {e(peers)}: "
                       + ", ".join(i(x) for x in below.item_label) + ".")
    crit = rep.criteria(unit_id).dropna(subset=["estimate"])
    if len(crit):
        low = crit.sort_values(["estimate", "item_id"], kind="mergesort").iloc[0]
        out.append(f"Tiêu chí có tỷ lệ hài lòng thấp nhất: {i(low.item_label)} ({fmt.pct(low.estimate)}).")
    c = rep.change(unit_id)
    if c is not None:
        out.append(f"So với năm {c['previous_year']} ({fmt.pct(c['previous'])}), chỉ số "
                   f"{change_phrase(c['diff'], c['significant'])}.")
    return out


def unit_change_rows(rep: Report, unit_id: str):
    """Rows for the change table of a unit: every element and the index."""
    import pandas as pd

    rows = []
    for item_id, label in rep.items():
        c = rep.change(unit_id, item_id)
        if c is None:
            continue
        verdict = "" if c["significant"] is None else ("Có ý nghĩa" if c["significant"] else "Không có ý nghĩa")
        rows.append({"item_label": label, "previous": c["previous"], "current": c["current"], "diff": c["diff"],
                     "verdict": verdict})
    return pd.DataFrame(rows, columns=["item_label", "previous", "current", "diff", "verdict"])


def standing(rep: Report, unit_id: str) -> list[str]:
    u = rep.unit(unit_id)
    r = rep.ranking(u.type)
    me = r[r.unit_id == unit_id].iloc[0]
    peers = lc(rep.type_label(u.type, plural=True))
    above = int((r.sipas > me.sipas + NEAR_ZERO).sum())
    below = int((r.sipas < me.sipas - NEAR_ZERO).sum())
    out = [f"{b(u.name)} xếp thứ {me['rank']}/{len(r)} trong {e(peers)}: {above} đơn vị có chỉ số cao hơn, "
           f"{below} đơn vị có chỉ số thấp hơn."]
    if "rank_low" in r and not np.isnan(me.get("rank_low", np.nan)):
        out.append(f"Tính đến sai số chọn mẫu, vị trí của đơn vị nằm trong khoảng hạng "
                   f"{int(me.rank_low)}–{int(me.rank_high)} (khoảng {rep.level_text}).")
    elif rep.has_intervals:
        out.append("Các khoảng tin cậy trên biểu đồ cho thấy mức độ chắc chắn của từng chỉ số; chênh lệch nhỏ "
                   "giữa các đơn vị liền kề chưa đủ để khẳng định thứ hạng khác nhau.")
    return out


# --------------------------------------------------------------- province report


def province_summary(rep: Report) -> list[str]:
    prov = rep.value(PROVINCE_ID)
    parts = [f"Năm {rep.year}, {e(rep.method.index_label)} chung của tỉnh {e(rep.province)} đạt "
             f"{b(fmt.pct(prov))}{_with_ci(rep, PROVINCE_ID)} ({e(rep.aggregation_text)})."]
    for t in rep.unit_types:
        r = rep.ranking(t)
        label = rep.type_label(t, plural=True)
        top, bottom = r.iloc[0], r.iloc[-1]
        parts.append(
            f"{e(label)}: bình quân {b(fmt.pct(rep.value(group_id(t))))}; cao nhất là {e(top.unit_name)} "
            f"({fmt.pct(top.sipas)}), thấp nhất là {e(bottom.unit_name)} ({fmt.pct(bottom.sipas)}), "
            f"chênh lệch {fmt.pp(top.sipas - bottom.sipas, sign=False)}.")
    c = rep.change(PROVINCE_ID)
    if c is not None:
        parts.append(f"So với năm {c['previous_year']} ({fmt.pct(c['previous'])}), chỉ số chung của tỉnh "
                     f"{change_phrase(c['diff'], c['significant'])}.")
    return parts


def basis(rep: Report) -> list[str]:
    m = rep.method
    reg = rep.cfg.registry
    n_units = len(rep.cfg.units)
    by_type = "; ".join(f"{len(rep.unit_ids(t))} {e(lc(rep.type_label(t, plural=True)))}" for t in rep.unit_types)
    out = [
        f"Căn cứ phương pháp đo lường: {e(m.title)}. Đối tượng khảo sát là người dân, tổ chức đã trực tiếp "
        f"giao dịch, giải quyết thủ tục hành chính tại {n_units} cơ quan, đơn vị của tỉnh {e(rep.province)} "
        f"({by_type}).",
        f"Thời gian khảo sát: từ {fmt.date(reg.survey_period.start)} đến {fmt.date(reg.survey_period.end)}.",
    ]
    out.append(method_note(rep))
    if rep.has_intervals:
        out.append(f"Mỗi chỉ số được công bố cùng {e(rep.ci_method_text)} {rep.level_text}, tính theo thiết kế "
                   "mẫu (phân tầng theo đơn vị, trọng số thiết kế) bằng phương pháp tuyến tính hóa Taylor.")
    return out


def sample_text(rep: Report) -> list[str]:
    s = rep.sample
    out = [f"Tổng số phiếu hợp lệ: {b(fmt.number(s.achieved.sum()))} trên cỡ mẫu dự kiến "
           f"{fmt.number(s.target.sum())} ({fmt.pct(s.achieved.sum() / s.target.sum(), 1)}), tại "
           f"{fmt.number(len(s))} đơn vị. Cỡ mẫu của mỗi đơn vị theo công thức n = N/(1 + N·e²) với "
           f"e = {fmt.pct(rep.cfg.settings.margin_of_error, 0)}, N là số lượt phục vụ trong kỳ."]
    for t in rep.unit_types:
        st = s[s.unit_type == t]
        out.append(f"{e(rep.type_label(t, plural=True))}: {fmt.number(st.achieved.sum())} phiếu "
                   f"(ít nhất {fmt.number(st.achieved.min())}, nhiều nhất {fmt.number(st.achieved.max())} mỗi đơn vị).")
    short = s[s.achieved < s.target]
    if len(short):
        out.append(f"{len(short)} đơn vị chưa đạt cỡ mẫu dự kiến: "
                   + ", ".join(f"{e(r.unit_name)} ({fmt.number(r.achieved)}/{fmt.number(r.target)})"
                               for r in short.itertuples()) + ".")
    else:
        out.append("Tất cả các đơn vị đều đạt cỡ mẫu dự kiến.")
    return out


def results_text(rep: Report) -> list[str]:
    prof = rep.scope_levels([PROVINCE_ID])
    elems = prof[prof.item_id.isin([x.id for x in rep.method.elements])].dropna(subset=[PROVINCE_ID])
    out = []
    if len(elems) >= 2:
        best = elems.loc[elems[PROVINCE_ID].idxmax()]
        worst = elems.loc[elems[PROVINCE_ID].idxmin()]
        out.append(f"Trong {len(elems)} yếu tố, {i(best.item_label)} được đánh giá cao nhất "
                   f"({fmt.pct(best[PROVINCE_ID])}); {i(worst.item_label)} thấp nhất ({fmt.pct(worst[PROVINCE_ID])}).")
    if len(rep.unit_types) == 2:
        a, c = rep.unit_types
        va, vc = rep.value(group_id(a)), rep.value(group_id(c))
        out.append(f"Chỉ số bình quân của {e(lc(rep.type_label(a, plural=True)))} "
                   f"{_compare(va, vc, 'của ' + e(lc(rep.type_label(c, plural=True))))}.")
    crit = rep.criteria(PROVINCE_ID).dropna(subset=["estimate"]).sort_values(["estimate", "item_id"], kind="mergesort")
    if len(crit) >= 6:
        out.append("Ba tiêu chí có tỷ lệ hài lòng thấp nhất: " + "; ".join(
            f"{i(r.item_label)} ({fmt.pct(r.estimate)})" for r in crit.head(3).itertuples()) + ".")
        out.append("Ba tiêu chí cao nhất: " + "; ".join(
            f"{i(r.item_label)} ({fmt.pct(r.estimate)})" for r in crit.tail(3).iloc[::-1].itertuples()) + ".")
    return out


def ranking_text(rep: Report, unit_type: str) -> list[str]:
    r = rep.ranking(unit_type)
    avg = rep.value(group_id(unit_type))
    above = int((r.sipas >= avg).sum())
    label = lc(rep.type_label(unit_type, plural=True))
    out = [f"{above}/{len(r)} {e(label)} có chỉ số bằng hoặc cao hơn mức bình quân ({fmt.pct(avg)}). "
           f"Đứng đầu: {e(r.iloc[0].unit_name)} ({fmt.pct(r.iloc[0].sipas)}); cuối bảng: "
           f"{e(r.iloc[-1].unit_name)} ({fmt.pct(r.iloc[-1].sipas)})."]
    t = rep.tests
    if t is not None:
        peer = t[(t.kind == "peer") & (t.item_id == "sipas") & t.unit_id.isin(r.unit_id)]
        if len(peer):
            hi = [rep.unit(u).name for u in peer[peer.significant].unit_id if rep.value(u) > avg]
            lo = [rep.unit(u).name for u in peer[peer.significant].unit_id if rep.value(u) < avg]
            out.append(f"Kiểm định so với các đơn vị còn lại trong nhóm (đã hiệu chỉnh so sánh bội): "
                       f"{len(hi)} đơn vị cao hơn và {len(lo)} đơn vị thấp hơn có ý nghĩa thống kê"
                       + (f" (cao hơn: {e(', '.join(hi))}" + (f"; thấp hơn: {e(', '.join(lo))})" if lo else ")")
                          if hi else (f" (thấp hơn: {e(', '.join(lo))})" if lo else ""))
                       + "; với các đơn vị khác, " + NOT_SIGNIFICANT + ".")
    if "rank_low" in r:
        wide = r[(r.rank_high - r.rank_low) >= 3]
        if len(wide):
            out.append(f"Với {len(wide)} đơn vị, khoảng hạng {rep.level_text} trải rộng từ 4 bậc trở lên: thứ hạng "
                       "của các đơn vị này chưa phân biệt rõ với các đơn vị liền kề.")
    return out


def changes_text(rep: Report, unit_type: str | None = None) -> list[str]:
    ch = rep.changes(unit_type)
    if not len(ch):
        return []
    up = ch[ch["diff"] > NEAR_ZERO]
    down = ch[ch["diff"] < -NEAR_ZERO]
    year = int(ch.previous_year.iloc[0])
    out = [f"So với năm {year}, {len(up)}/{len(ch)} đơn vị có chỉ số tăng và {len(down)} đơn vị có chỉ số giảm."]
    if ch.significant.notna().any():
        sig_up = ch[(ch.significant == True) & (ch["diff"] > 0)]  # noqa: E712
        sig_down = ch[(ch.significant == True) & (ch["diff"] < 0)]  # noqa: E712
        out.append(f"Theo kiểm định (mẫu độc lập giữa hai năm, đã hiệu chỉnh so sánh bội), {len(sig_up)} đơn vị "
                   f"tăng {SIGNIFICANT} và {len(sig_down)} đơn vị giảm {SIGNIFICANT}; "
                   f"ở {len(ch) - len(sig_up) - len(sig_down)} đơn vị còn lại, {NOT_SIGNIFICANT}.")
    if len(up):
        top = up.iloc[0]
        out.append(f"Tăng nhiều nhất: {e(top.unit_name)} ({change_phrase(top['diff'], top.significant)}).")
    if len(down):
        low = down.iloc[-1]
        out.append(f"Giảm nhiều nhất: {e(low.unit_name)} ({change_phrase(low['diff'], low.significant)}).")
    return out


def groups_text(rep: Report, scope: str = PROVINCE_ID, min_n: int = 30) -> list[str]:
    g = rep.group_differences(scope)
    out = []
    for var, sub in g.groupby("variable", sort=False):
        sub = sub[(sub.n >= min_n) & sub.rate.notna()]
        if len(sub) < 2:
            continue
        hi = sub.loc[sub.rate.idxmax()]
        lo = sub.loc[sub.rate.idxmin()]
        verdict = ""
        if sub.significant.notna().any():
            verdict = f" ({SIGNIFICANT})" if bool(sub.significant.iloc[0]) else f" ({NOT_SIGNIFICANT})"
        out.append(f"Theo {e(hi.variable_label.lower())}: cao nhất là nhóm {i(hi.category_label)} "
                   f"({fmt.pct(hi.rate)}), thấp nhất là nhóm {i(lo.category_label)} ({fmt.pct(lo.rate)}), "
                   f"chênh lệch {fmt.pp(hi.rate - lo.rate, sign=False)}{verdict}.")
    return out


def expectations_text(rep: Report, scope: str = PROVINCE_ID, k: int = 3) -> list[str]:
    ex = rep.expectations_of(scope)
    if not len(ex):
        return []
    top = ex.head(k)
    how = f"đánh giá cần cải thiện {e(rep.expectation_top)}" if rep.expectation_top else "chọn"
    return ["Những nội dung người dân, tổ chức mong muốn cải thiện nhiều nhất: " + "; ".join(
        f"{i(r.item_label)} ({fmt.pct(r.share, 1)} người trả lời {how})" for r in top.itertuples()) + "."]


def perceptions_text(rep: Report, scope: str = PROVINCE_ID) -> list[str]:
    """The perception topics' "chỉ số đánh giá" (share of positive answers), highest and
    lowest, against the province for a unit."""
    pi = rep.perception_index(scope)
    if not len(pi):
        return []
    pi = pi.dropna(subset=["estimate"]).sort_values(["estimate", "variable"], ascending=[False, True],
                                                    kind="mergesort")
    if not len(pi):
        return []
    out = ["Chỉ số đánh giá của mỗi chủ đề nhận thức là tỷ lệ câu trả lời tích cực (các phương án được bộ "
           "câu hỏi coi là tích cực) trên tổng số câu trả lời của chủ đề."]

    def one(r) -> str:
        txt = f"{i(r.variable_label)}: {fmt.pct(r.estimate, 1)}"
        if scope != PROVINCE_ID and not np.isnan(float(r.province)):
            txt += f" (toàn tỉnh {fmt.pct(r.province, 1)})"
        return txt

    hi, lo = pi.iloc[0], pi.iloc[-1]
    out.append("Cao nhất: " + one(hi) + (("; thấp nhất: " + one(lo)) if len(pi) > 1 else "") + ".")
    return out


def themes_text(rep: Report, scope: str = PROVINCE_ID) -> list[str]:
    th = rep.comment_themes(scope)
    total = th.attrs.get("comments", 0)
    if not total:
        return ["Không có ý kiến khác."]
    resp = th.attrs.get("respondents", 0)
    top = th[th.n > 0].head(3)
    out = [f"Có {fmt.number(total)} người trả lời ghi ý kiến khác"
           + (f" ({fmt.pct(total / resp, 1)} số người trả lời)" if resp else "") + "."]
    if len(top):
        out.append("Các chủ đề được nhắc đến nhiều nhất: " + "; ".join(
            f"{i(r.theme)} ({fmt.number(r.n)} ý kiến)" for r in top.itertuples()) + ". Một ý kiến có thể thuộc "
            "nhiều chủ đề; chủ đề được nhận diện theo từ khóa.")
    return out


def limitations(rep: Report) -> list[str]:
    out = []
    s = rep.sample
    short = s[s.achieved < s.target]
    if len(short):
        out.append(f"{len(short)} đơn vị chưa đạt cỡ mẫu dự kiến; sai số của các chỉ số ở những đơn vị này lớn hơn.")
    if rep.has_flags:
        flags = rep.indices["flag"]
        sup = int(flags.map(is_suppressed).sum())
        rev = int(flags.map(is_flagged).sum()) - sup
        if sup:
            out.append(f"{sup} ước lượng không đủ độ tin cậy để công bố (‡): cỡ mẫu hiệu dụng nhỏ hoặc khoảng tin "
                       "cậy quá rộng; các ô này để trống.")
        if rev:
            out.append(f"{rev} ước lượng cần thận trọng khi diễn giải (†), chủ yếu do ít địa bàn (xã) được khảo sát "
                       "nên sai số chuẩn kém ổn định.")
    if not rep.has_intervals:
        out.append("Các chỉ số là ước lượng điểm từ mẫu khảo sát; bảng số liệu năm nay chưa kèm khoảng tin cậy, "
                   "vì vậy chênh lệch nhỏ giữa các đơn vị hoặc giữa hai năm chưa thể kết luận là khác biệt thực sự.")
    if rep.tests is None:
        out.append("Chưa có kiểm định thống kê cho các so sánh; báo cáo chỉ nêu chênh lệch, không kết luận "
                   "về ý nghĩa thống kê.")
    crit = rep.criteria(PROVINCE_ID)
    thin = crit[crit.n < 0.6 * crit.n.max()]
    if len(thin):
        out.append(f"{len(thin)} tiêu chí có ít câu trả lời hợp lệ hơn hẳn các tiêu chí khác (nhiều người chọn "
                   "“Không áp dụng” hoặc “Không biết”), chủ yếu ở yếu tố "
                   + ", ".join(i(x) for x in thin.element.unique()) + ".")
    out.append(f"Chỉ số của nhóm đơn vị và của tỉnh là {e(rep.aggregation_text)}; cách tính khác "
               "(theo người trả lời) có thể cho kết quả khác.")
    out.append("Nội dung các tiêu chí và danh sách xã được dựng lại từ tài liệu thứ cấp; số lượt phục vụ (N) dùng "
               "để tính trọng số cần được đối chiếu với số liệu chính thức của các đơn vị.")
    return out


def recommendations(rep: Report, k: int = 3) -> list[str]:
    out = []
    prof = rep.scope_levels([PROVINCE_ID])
    elems = prof[prof.item_id.isin([x.id for x in rep.method.elements])].dropna(subset=[PROVINCE_ID])
    if len(elems):
        worst = elems.loc[elems[PROVINCE_ID].idxmin()]
        out.append(f"Ưu tiên cải thiện yếu tố {i(worst.item_label)} (thấp nhất toàn tỉnh, {fmt.pct(worst[PROVINCE_ID])}), "
                   "trước hết ở các tiêu chí: " + "; ".join(
                       i(r.item_label) for r in rep.criteria(PROVINCE_ID).query("parent_id == @worst.item_id")
                       .sort_values(["estimate", "item_id"], kind="mergesort").head(2).itertuples()) + ".")
    for t in rep.unit_types:
        r = rep.ranking(t)
        low = r.tail(min(k, max(1, len(r) // 4)))
        out.append(f"{e(rep.type_label(t, plural=True))} có chỉ số thấp nhất ("
                   + ", ".join(f"{e(x.unit_name)} {fmt.pct(x.sipas)}" for x in low.itertuples())
                   + ") cần xây dựng kế hoạch khắc phục, báo cáo kết quả trong kỳ khảo sát sau.")
    ex = rep.expectations_of(PROVINCE_ID).head(2)
    if len(ex):
        out.append("Đáp ứng các mong đợi được chọn nhiều nhất: " + "; ".join(
            f"{i(x.item_label)} ({fmt.pct(x.share, 1)})" for x in ex.itertuples()) + ".")
    th = rep.comment_themes(PROVINCE_ID)
    th = th[(th.theme_id != "khen") & (th.n > 0)].head(2)
    if len(th):
        out.append("Xem xét các vấn đề người dân nêu nhiều trong ý kiến khác: " + "; ".join(
            i(x.theme) for x in th.itertuples()) + ".")
    out.append("Các đơn vị nghiên cứu phụ lục kết quả của mình, nhất là các tiêu chí thấp hơn mức bình quân "
               "của nhóm, để đề ra giải pháp cụ thể.")
    return out


def method_note_text(rep: Report) -> str:
    """How the indices are computed, in one plain-text paragraph (the workbook's notes)."""
    m = rep.method
    scale = m.scales[m.default_scale]
    pos = ", ".join(f"“{scale.label_of(c)}”" for c in scale.positive)
    miss = ", ".join(f"“{c.label}”" for c in scale.missing)
    top = "khía cạnh" if m.aspects else "yếu tố"
    return (
        f"Chỉ số của mỗi tiêu chí là tỷ lệ câu trả lời {pos} trên tổng số câu trả lời hợp lệ, có trọng số thiết kế "
        f"(không tính {miss} và bỏ trống); chỉ số yếu tố là trung bình cộng chỉ số các tiêu chí; chỉ số chung "
        f"của đơn vị là trung bình cộng chỉ số các {top}. Chỉ số của nhóm đơn vị và của tỉnh: "
        f"{rep.aggregation_text} (tùy chọn {rep.aggregation}). " + design_note(rep)
    )


def method_note(rep: Report) -> str:
    """:func:`method_note_text` for a page: escaped, the option's name as code."""
    text = method_note_text(rep)
    option = f"(tùy chọn {rep.aggregation})."
    head, _, tail = text.partition(option)
    return e(head) + f"(tùy chọn <code>{e(rep.aggregation)}</code>)." + e(tail)


def design_note(rep: Report) -> str:
    """The sampling design, weights, calibration and variance method, from the year's
    ``design:`` block (params/units/<year>.yaml), as plain text."""
    d = rep.cfg.registry.design
    if d.households is not None:
        return household_note(rep.cfg)
    if d.sampling == "dossiers":
        draw = ("Thiết kế mẫu: mẫu ngẫu nhiên đơn giản phân tầng, mỗi đơn vị là một tầng; trong mỗi đơn vị "
                "chọn ngẫu nhiên các hồ sơ đã giải quyết trong kỳ khảo sát (người dân, tổ chức đã hoàn thành thủ tục)")
    else:
        draw = ("Thiết kế mẫu: mẫu phân tầng theo đơn vị; đơn vị cấp huyện chọn cụm xã, phường, thị trấn "
                "rồi người được phục vụ trong cụm, sở, ngành chọn ngẫu nhiên người được phục vụ")
    fpc = (", có hiệu chỉnh quần thể hữu hạn theo số hồ sơ đã giải quyết" if d.fpc
           else ", không hiệu chỉnh quần thể hữu hạn")
    return (f"{draw}. Trọng số = số hồ sơ đã giải quyết / số phiếu hợp lệ của đơn vị; không hiệu chỉnh "
            f"trọng số theo tổng thể (calibration). Sai số chuẩn: tuyến tính hóa Taylor theo thiết kế"
            f"{fpc} (như gói survey của R).")
