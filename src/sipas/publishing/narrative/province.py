"""Sentences of the province report: summary, basis, sample, results, rankings, changes,
respondent groups, limitations and recommendations."""

from __future__ import annotations

from html import escape as e

from sipas.base import formats as fmt
from sipas.base.designs import TARGET_RULES
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.estimation.ranks import BANDS
from sipas.publishing.narrative.common import (
    NEAR_ZERO,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    b,
    change_phrase,
    compare,
    i,
    with_ci,
)
from sipas.publishing.narrative.method import method_note
from sipas.publishing.report import Report, is_flagged, is_suppressed, lc


def province_summary(rep: Report) -> list[str]:
    prov = rep.value(PROVINCE_ID)
    parts = [f"Năm {rep.year}, {e(rep.method.index_label)} chung của tỉnh {e(rep.province)} đạt "
             f"{b(fmt.pct(prov))}{with_ci(rep, PROVINCE_ID)} ({e(rep.aggregation_text)})."]
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


def target_sentence(rep: Report) -> str:
    """How the planned samples were set: one rule, or each unit type's
    (:meth:`~sipas.base.codebook.YearConfig.target_rule`)."""
    formula = (f"{TARGET_RULES['formula']} với e = {fmt.pct(rep.cfg.settings.margin_of_error, 0)}, N là số lượt "
               "phục vụ trong kỳ")
    rules = {t: rep.cfg.target_rule(t) for t in rep.unit_types}
    if set(rules.values()) == {"formula"}:
        return f"Cỡ mẫu của mỗi đơn vị {formula}."
    parts = [f"của {lc(rep.type_label(t, plural=True))} "
             + (formula if rule == "formula" else TARGET_RULES[rule]) for t, rule in rules.items()]
    return "Cỡ mẫu dự kiến " + "; ".join(parts) + "."


def sample_text(rep: Report) -> list[str]:
    s = rep.sample
    out = [f"Tổng số phiếu hợp lệ: {b(fmt.number(s.achieved.sum()))} trên cỡ mẫu dự kiến "
           f"{fmt.number(s.target.sum())} ({fmt.pct(s.achieved.sum() / s.target.sum(), 1)}), tại "
           f"{fmt.number(len(s))} đơn vị. {target_sentence(rep)}"]
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
                   f"{compare(va, vc, 'của ' + e(lc(rep.type_label(c, plural=True))))}.")
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
    return out + bands_text(rep, unit_type)


def bands_text(rep: Report, unit_type: str) -> list[str]:
    """Top, middle and bottom groups instead of strict ranks (types that use bands, units
    whose rank interval is wide; ``publication.bands``): who is surely in the top or the
    bottom group, and how many cannot be told apart."""
    if not rep.uses_bands(unit_type):
        return []
    r = rep.ranking(unit_type)
    if "band" not in r or not r["band"].notna().any():
        return []
    wide = r[~r["strict_rank"].astype(bool)]
    if not len(wide):
        return []
    label = lc(rep.type_label(unit_type, plural=True))

    def names(band: str) -> str:
        g = r[r["band"] == band]
        return ", ".join(e(x) for x in g.unit_name) if len(g) else "không có đơn vị nào"
    n_mid = int((r["band"] == "middle").sum())
    return [f"Khoảng hạng của {len(wide)}/{len(r)} {e(label)} quá rộng để xếp thứ hạng cụ thể, nên kết quả được "
            f"công bố theo nhóm. {b(BANDS['top'])} (chắc chắn thuộc 1/{rep.cfg.settings.publication.bands.groups} "
            f"số vị trí đầu): {names('top')}. {b(BANDS['bottom'])}: {names('bottom')}. {n_mid} đơn vị còn lại "
            f"thuộc {b(BANDS['middle'].lower())}: không phân biệt được với nhau theo số liệu khảo sát."]


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

