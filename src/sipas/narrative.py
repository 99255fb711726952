"""Vietnamese sentences generated from the numbers, so the text stays true when the
data changes. Each function returns Markdown (names and labels come from the
registry and the codebook, never from respondents' free text)."""

from __future__ import annotations

from . import fmt
from .indices import PROVINCE_ID, group_id
from .report import Report


def _compare(a: float, b: float, what: str) -> str:
    d = a - b
    if abs(d) < 0.00005:
        return f"bằng {what} ({fmt.pct(b)})"
    word = "cao hơn" if d > 0 else "thấp hơn"
    return f"{word} {what} ({fmt.pct(b)}) {fmt.pp(abs(d), sign=False)}"


def unit_summary(rep: Report, unit_id: str) -> str:
    u = rep.unit(unit_id)
    value = rep.value(unit_id)
    rank, total = rep.rank_of(unit_id)
    group = rep.value(group_id(u.type))
    prov = rep.value(PROVINCE_ID)
    peers = rep.type_label(u.type, plural=True).lower()
    lines = [
        f"Năm {rep.year}, {rep.method.index_label} của **{u.name}** đạt **{fmt.pct(value)}**, "
        f"xếp thứ **{rank}/{total}** trong {peers}; "
        f"{_compare(value, group, 'mức chung của ' + peers)} và "
        f"{_compare(value, prov, 'mức chung của tỉnh')}."
    ]
    prof = rep.element_profile(unit_id)
    elems = prof[prof.item_id.isin([e.id for e in rep.method.elements])].dropna(subset=["unit"])
    if len(elems) >= 2:
        best = elems.loc[elems["unit"].idxmax()]
        worst = elems.loc[elems["unit"].idxmin()]
        lines.append(
            f"Yếu tố được đánh giá cao nhất là *{best.item_label}* ({fmt.pct(best['unit'])}); "
            f"thấp nhất là *{worst.item_label}* ({fmt.pct(worst['unit'])})."
        )
    crit = rep.criteria(unit_id).dropna(subset=["estimate"])
    if len(crit):
        low = crit.sort_values(["estimate", "item_id"], kind="mergesort").iloc[0]
        lines.append(f"Tiêu chí có tỷ lệ hài lòng thấp nhất: *{low.item_label}* ({fmt.pct(low.estimate)}).")
    prev = rep.previous
    if prev is not None and unit_id in {x.id for x in prev.cfg.units}:
        before = prev.value(unit_id)
        d = value - before
        trend = "tăng" if d > 0 else "giảm" if d < 0 else "không đổi"
        lines.append(
            f"So với năm {prev.year} ({fmt.pct(before)}), chỉ số {trend}"
            + (f" {fmt.pp(abs(d), sign=False)}" if d else "") + "."
        )
    return "\n\n".join(lines)


def province_summary(rep: Report) -> str:
    prov = rep.value(PROVINCE_ID)
    parts = [
        f"Năm {rep.year}, {rep.method.index_label} chung của tỉnh {rep.province} đạt **{fmt.pct(prov)}** "
        f"({rep.aggregation_text})."
    ]
    for t in rep.unit_types:
        r = rep.ranking(t)
        label = rep.type_label(t, plural=True)
        top, bottom = r.iloc[0], r.iloc[-1]
        parts.append(
            f"{label}: bình quân **{fmt.pct(rep.value(group_id(t)))}**; cao nhất là {top.unit_name} "
            f"({fmt.pct(top.sipas)}), thấp nhất là {bottom.unit_name} ({fmt.pct(bottom.sipas)}), "
            f"chênh lệch {fmt.pp(top.sipas - bottom.sipas, sign=False)}."
        )
    prev = rep.previous
    if prev is not None:
        before = prev.value(PROVINCE_ID)
        d = prov - before
        trend = "tăng" if d > 0 else "giảm" if d < 0 else "không đổi"
        parts.append(f"So với năm {prev.year} ({fmt.pct(before)}), chỉ số chung của tỉnh {trend}"
                     + (f" {fmt.pp(abs(d), sign=False)}" if d else "") + ".")
    return "\n\n".join(parts)


def method_note(rep: Report) -> str:
    m = rep.method
    scale = m.scales[m.default_scale]
    pos = ", ".join(f"“{scale.label_of(c)}”" for c in scale.positive)
    miss = ", ".join(f"“{c.label}”" for c in scale.missing)
    top = "khía cạnh" if m.aspects else "yếu tố"
    return (
        f"Phương pháp: {m.title}. Chỉ số của mỗi tiêu chí là tỷ lệ câu trả lời {pos} trên tổng số câu "
        f"trả lời hợp lệ (không tính {miss} và bỏ trống); chỉ số yếu tố là trung bình cộng chỉ số các "
        f"tiêu chí; chỉ số chung của đơn vị là trung bình cộng chỉ số các {top}. Chỉ số của nhóm đơn vị và "
        f"của tỉnh: {rep.aggregation_text} (tùy chọn `{rep.aggregation}`)."
    )
