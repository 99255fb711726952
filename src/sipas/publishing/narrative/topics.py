"""Sentences about expectations, perception topics and the themes of the comments, for a
unit's annex and the province report alike."""

from __future__ import annotations

from html import escape as e

import numpy as np

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID
from sipas.publishing.narrative.common import i
from sipas.publishing.report import Report


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
    # highest first, then by topic
    pi = sorted((r for r in pi.itertuples() if not np.isnan(float(r.estimate))), key=lambda r: (-r.estimate, r.variable))
    if not pi:
        return []
    out = ["Chỉ số đánh giá của mỗi chủ đề nhận thức là tỷ lệ câu trả lời tích cực (các phương án được bộ "
           "câu hỏi coi là tích cực) trên tổng số câu trả lời của chủ đề."]

    def one(r) -> str:
        txt = f"{i(r.variable_label)}: {fmt.pct(r.estimate, 1)}"
        if scope != PROVINCE_ID and not np.isnan(float(r.province)):
            txt += f" (toàn tỉnh {fmt.pct(r.province, 1)})"
        return txt

    hi, lo = pi[0], pi[-1]
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

