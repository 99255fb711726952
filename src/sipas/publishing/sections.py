"""What the unit annex and the province report share: the headline tiles, numbered
headings, the columns of intervals and flags, bands by aspect, the ranking table and
the perception tables (HTML through :mod:`sipas.publishing.markup`).

May import base, estimation and the other publishing modules below the pages
(data, text, markup, report, narrative, charts).
"""

from __future__ import annotations

import html

import pandas as pd

from sipas.base import formats as fmt
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing import narrative
from sipas.publishing.markup import flag_note, heading, table_html, tiles_html
from sipas.publishing.model_based import model_table_args, policy_note, rank_cell, ranking_with_model
from sipas.publishing.report import Report

TITLE = "Kết quả đo lường sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước"


def interval_note(rep: Report, scope: str) -> str | None:
    """``KTC 95%: 85,1–90,4%`` for a scope's SIPAS (None without an interval)."""
    ci = rep.interval(scope)
    return f"KTC {rep.level_text}: {fmt.number(100 * ci[0], 1)}–{fmt.number(100 * ci[1], 1)}%" if ci else None


def province_tile(rep: Report) -> tuple[str, str, str]:
    """The province's SIPAS with its interval (or how it is aggregated)."""
    return ("Chỉ số chung của tỉnh", fmt.pct(rep.value(PROVINCE_ID)), interval_note(rep, PROVINCE_ID)
            or ("bình quân các đơn vị" if rep.aggregation == "unit_mean" else "theo người trả lời"))


def headline_tiles(rep: Report, change: dict | None = None) -> str:
    """The province tile, one tile per unit type, the change (when given), the sample."""
    tiles = [province_tile(rep)]
    tiles += [(rep.type_label(t, plural=True), fmt.pct(rep.value(group_id(t))), f"{len(rep.unit_ids(t))} đơn vị")
              for t in rep.unit_types]
    if change:
        tiles.append(change_tile(change))
    tiles.append(("Phiếu hợp lệ", fmt.number(rep.sample.achieved.sum()), f"{len(rep.cfg.units)} đơn vị"))
    return tiles_html(tiles)


def change_tile(c: dict | None) -> tuple[str, str, str]:
    if c is None:
        return ("So với năm trước", "–", "chưa có số liệu")
    note = f"điểm %; năm {c['previous_year']}: {fmt.pct(c['previous'])}"
    if c["significant"] is not None:
        note += "; " + (narrative.SIGNIFICANT if c["significant"] else "không có ý nghĩa thống kê")
    return (f"So với năm {c['previous_year']}", fmt.pp(c["diff"]).replace(" điểm %", ""), note)


def ci_cols(rep: Report, col: str = "estimate") -> dict:
    return {col: ("ci_low", "ci_high")} if rep.has_intervals else {}


def flag_cols(rep: Report, col: str = "estimate") -> dict:
    return {col: "flag"} if rep.has_flags else {}


def note(rep: Report) -> str | None:
    return flag_note(rep) or None


def by_aspect(rep: Report, frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Rows of element / aspect / index figures in bands by aspect (methodologies with
    aspects): each aspect's elements, then the aspect's own index; the index last.
    Returns the frame and the band column (None without aspects: unchanged)."""
    m = rep.method
    if not m.aspects:
        return frame, None
    aspect_of = {e.id: e.aspect for e in m.elements} | {a.id: a.id for a in m.aspects}
    label = {a.id: a.label for a in m.aspects}
    order = {a.id: k for k, a in enumerate(m.aspects)}
    ids = frame["item_id"].tolist()
    # by aspect, the aspect's index after its elements (a stable sort)
    rows = sorted(range(len(ids)), key=lambda k: (order.get(aspect_of.get(ids[k]), len(order)), ids[k] in label))
    f = frame.take(rows).reset_index(drop=True)
    f["item_label"] = ["Chỉ số chung của khía cạnh" if x in label else lab for x, lab in zip(f.item_id, f.item_label)]
    f["band"] = [label.get(aspect_of.get(x), m.index_label) for x in f.item_id]
    return f, "band"


def expectation_heads(rep: Report) -> tuple[str, str]:
    """Headers of the count and share columns of the expectations tables."""
    if rep.expectation_top:
        return f"Số người đánh giá {rep.expectation_top}", f"Tỷ lệ đánh giá {rep.expectation_top}"
    return "Số người chọn", "Tỷ lệ"


def perception_tables(rep: Report, scope: str, with_province: bool) -> str:
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


class Sections:
    """Numbered sections: each call to :meth:`_h` takes the next number."""

    def __init__(self) -> None:
        self._n = 0

    def _h(self, text: str) -> str:
        self._n += 1
        return heading(self._n, text)


def ranking_table(rep: Report, r: pd.DataFrame, links: dict[str, str] | None = None) -> str:
    """The compact ranking table: rank, unit (a link when given), SIPAS with its interval
    and flag under it, then the element indices under short headers."""
    r = r.copy()
    if links:
        r["unit_cell"] = [links.get(u, html.escape(n)) for u, n in zip(r.unit_id, r.unit_name)]
    else:
        r["unit_cell"] = [html.escape(n) for n in r.unit_name]
    utype = rep.unit(r.unit_id.iloc[0]).type if len(r) else None
    if "rank_low" in r:
        r["rank_cell"] = [rank_cell(rep, utype, k, a, b, band, strict) for k, a, b, band, strict in
                          zip(r["rank"], r.rank_low, r.rank_high, r.band, r.strict_rank)]
    else:
        r["rank_cell"] = r["rank"].astype(str)
    tops = [k for k, _ in rep.top_items]
    # the official columns (issue 14): STT and the change of rank, from the official table model
    from sipas.publishing.official.tables import official_columns

    r, extra = official_columns(rep, r)
    cols = {"stt": "STT", "rank_cell": "Hạng", "unit_cell": "Đơn vị", "sipas": "Chỉ số chung"}
    ci = {"sipas": ("ci_low", "ci_high")} if "ci_low" in r and r.ci_low.notna().any() else {}
    flags = {"sipas": "flag"} if "flag" in r and rep.has_flags else {}
    foot = note(rep)
    if utype is not None and rep.shows_model(utype):          # model-based figures beside the direct ones
        r = ranking_with_model(r)
        m = model_table_args(cols)
        cols, ci, flags = m["columns"], {**ci, **m["ci"]}, {**flags, **m["flags"]}
    if utype is not None and (rep.shows_model(utype) or rep.uses_bands(utype)):
        foot = " ".join(x for x in (foot, policy_note(rep, utype, bands=True)) if x)
    cols.update({**extra, **dict(rep.top_items)})
    return table_html(r, cols, pct=("sipas", *tops, *(["estimate_sae"] if "estimate_sae" in cols else [])),
                      html_cols=("rank_cell", "unit_cell"), ci=ci or None, flags=flags or None,
                      css="sipas-table ranking", note=foot)
