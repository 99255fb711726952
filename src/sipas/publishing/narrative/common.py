"""Words and phrases every generated sentence shares: the verdicts of the tests, bold and
italic names, "cao hơn … 1,23 điểm %", a change with its verdict, a figure's interval.
"""

from __future__ import annotations

import math
from html import escape as e

from sipas.base import formats as fmt
from sipas.estimation.ranks import BANDS
from sipas.publishing.report import Report, ci_text

SIGNIFICANT = "có ý nghĩa thống kê"
NOT_SIGNIFICANT = "khác biệt không có ý nghĩa thống kê"
NEAR_ZERO = 0.00005


def b(text: str) -> str:
    return f"<strong>{e(text)}</strong>"


def i(text: str) -> str:
    return f"<em>{e(text)}</em>"


def compare(a: float, ref: float, what: str) -> str:
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


def with_ci(rep: Report, scope: str, item: str = "sipas") -> str:
    ci = rep.interval(scope, item)
    return f" (khoảng tin cậy {rep.level_text}: {ci_text(*ci)}%)" if ci else ""



def place_phrase(rep: Report, unit_id: str, peers: str) -> str:
    """``xếp thứ <b>5/38</b> trong các xã, phường``, or, where the rank interval is wide
    and the unit's type uses bands (``publication.bands``), ``thuộc <b>nhóm giữa</b> của
    các xã, phường (khoảng hạng 95%: 3–31/38; …)``: a rank that the data cannot tell
    apart from its neighbours' is not published."""
    pl = rep.place(unit_id)
    if not pl["banded"]:
        rank = f"{pl['rank']}/{pl['total']}"
        return f"xếp thứ {b(rank)} trong {e(peers)}"
    return (f"thuộc {b(BANDS[pl['band']].lower())} của {e(peers)} (khoảng hạng {rep.level_text}: "
            f"{pl['rank_low']}–{pl['rank_high']}/{pl['total']}; thứ hạng cụ thể chưa phân biệt được với các "
            "đơn vị liền kề)")
