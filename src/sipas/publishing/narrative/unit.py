"""Sentences of a unit's annex: the summary, the change table's rows, its standing among
its peers."""

from __future__ import annotations

from html import escape as e

import numpy as np

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing.narrative.common import (
    NEAR_ZERO,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    b,
    change_phrase,
    compare,
    i,
    place_phrase,
    with_ci,
)
from sipas.publishing.report import Report, ci_text, flag_mark, is_suppressed, lc


def unit_summary(rep: Report, unit_id: str) -> list[str]:
    u = rep.unit(unit_id)
    value = rep.value(unit_id)
    group = rep.value(group_id(u.type))
    prov = rep.value(PROVINCE_ID)
    peers = lc(rep.type_label(u.type, plural=True))
    out = [
        f"Năm {rep.year}, {e(rep.method.index_label)} của {b(u.name)} đạt {b(fmt.pct(value))}"
        f"{with_ci(rep, unit_id)}, {place_phrase(rep, unit_id, peers)}; "
        f"{compare(value, group, 'mức bình quân của ' + e(peers))} và "
        f"{compare(value, prov, 'mức chung của tỉnh')}."
    ]
    peer = rep.test("peer", unit_id)
    if peer is not None:
        out.append("So với các đơn vị còn lại trong nhóm, " + (
            f"chênh lệch {SIGNIFICANT}." if peer["significant"] else f"{NOT_SIGNIFICANT}."))
    if rep.flagged(unit_id):
        out.append("Lưu ý: chỉ số chung của đơn vị được đánh dấu về độ tin cậy (xem chú thích "
                   f"{flag_mark(rep.flag(unit_id))} ở cuối bảng).")
    # (label, unit, group) of the elements; a figure not published is not cited
    elems = [(x.label, rep.value(unit_id, x.id), rep.value(group_id(u.type), x.id)) for x in rep.method.elements
             if not np.isnan(rep.value(unit_id, x.id)) and not is_suppressed(rep.flag(unit_id, x.id))]
    if len(elems) >= 2:
        best = max(elems, key=lambda x: x[1])  # the first of equal ones
        worst = min(elems, key=lambda x: x[1])
        out.append(f"Yếu tố được đánh giá cao nhất là {i(best[0])} ({fmt.pct(best[1])}); "
                   f"thấp nhất là {i(worst[0])} ({fmt.pct(worst[1])}).")
        below = [label for label, v, g in elems if v < g - NEAR_ZERO]
        if len(below) == 0:
            out.append(f"Tất cả các yếu tố đều bằng hoặc cao hơn mức bình quân của {e(peers)}.")
        else:
            out.append(f"Có {len(below)}/{len(elems)} yếu tố thấp hơn mức bình quân của {e(peers)}: "
                       + ", ".join(i(x) for x in below) + ".")
    crit = rep.criteria(unit_id)
    crit = [(v, item, label) for item, label, v, flag in zip(crit.item_id.tolist(), crit.item_label.tolist(),
                                                            crit.estimate.tolist(), crit.flag.tolist())
            if not np.isnan(v) and not is_suppressed(flag)]
    if crit:
        low = min(crit, key=lambda x: x[:2])
        out.append(f"Tiêu chí có tỷ lệ hài lòng thấp nhất: {i(low[2])} ({fmt.pct(low[0])}).")
    change = change_sentence(rep, unit_id)
    return out + [change] if change else out


def change_sentence(rep: Report, unit_id: str) -> str | None:
    """The unit's SIPAS against the previous year (the summary's last sentence; None
    without the previous year's figure)."""
    c = rep.change(unit_id)
    if c is None:
        return None
    return f"So với năm {c['previous_year']} ({fmt.pct(c['previous'])}), chỉ số {change_phrase(c['diff'], c['significant'])}."


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
    if rep.place(unit_id)["banded"]:
        out = [f"{b(u.name)} {place_phrase(rep, unit_id, peers)}: {above} đơn vị có chỉ số (ước lượng trực tiếp) "
               f"cao hơn, {below} đơn vị có chỉ số thấp hơn, nhưng phần lớn các chênh lệch này nằm trong sai số "
               "chọn mẫu."]
        return out
    out = [f"{b(u.name)} xếp thứ {me['rank']}/{len(r)} trong {e(peers)}: {above} đơn vị có chỉ số cao hơn, "
           f"{below} đơn vị có chỉ số thấp hơn."]
    if "rank_low" in r and not np.isnan(me.get("rank_low", np.nan)):
        out.append(f"Tính đến sai số chọn mẫu, vị trí của đơn vị nằm trong khoảng hạng "
                   f"{int(me.rank_low)}–{int(me.rank_high)} (khoảng {rep.level_text}).")
    elif rep.has_intervals:
        out.append("Các khoảng tin cậy trên biểu đồ cho thấy mức độ chắc chắn của từng chỉ số; chênh lệch nhỏ "
                   "giữa các đơn vị liền kề chưa đủ để khẳng định thứ hạng khác nhau.")
    return out



def model_based_text(rep: Report, unit_id: str) -> list[str]:
    """The unit's model-based SIPAS beside the direct one (units of a modelled type;
    otherwise nothing), always called model-based, with the shrinkage factor."""
    u = rep.unit(unit_id)
    r = rep.row(unit_id)
    if not rep.shows_model(u.type) or r is None or np.isnan(float(r["estimate_sae"])):
        return []
    direct = ("không đủ độ tin cậy để công bố" if r["publication"] == "model_based"
              else f"{fmt.pct(float(r['estimate']))}")
    return [f"Ước lượng theo mô hình (ước lượng cho địa bàn nhỏ, không phải ước lượng trực tiếp) của "
            f"{e(rep.method.index_label)}: {b(fmt.pct(float(r['estimate_sae'])))} (khoảng tin cậy {rep.level_text}: "
            f"{ci_text(r['ci_low_sae'], r['ci_high_sae'])}%), hệ số co {fmt.number(float(r['shrinkage']), 2)} "
            f"(tỷ trọng của mô hình); ước lượng trực tiếp từ mẫu của đơn vị: {direct}. Xem chú thích về chính sách "
            "công bố dưới bảng."]
