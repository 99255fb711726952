"""The year's Excel annex: ``outputs/<year>/phu-luc-<year>.xlsx``.

Sheets (one table each, Vietnamese headers, header row frozen, filters on):

* ``Phụ lục I``   departments ranked by SIPAS, with the element indices;
* ``Phụ lục II``  districts ranked likewise (one sheet per unit type, in registry order:
  the numbering follows the unit types of the year);
* ``Phụ lục III`` every criterion, element and index of every unit, peer group and the
  province (the tidy table, in Vietnamese);
* ``Phụ lục IV``  the sample: people served, target and achieved per unit, and the
  respondents' profile;
* ``Ghi chú``     what the sheets hold and how the figures were computed.

Values are the tidy tables' own numbers (proportions stored as numbers, shown with the
``0.00%`` format; Excel prints the decimal separator of the reader's locale), so a
reader re-using them gets exactly what ``tables/indices.csv`` holds. Statistics columns
(interval, flag, ...) are carried when the tables have them. The file is deterministic:
no creation date of its own.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.io import fixed_core_dates, write_office
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing.model_based import policy_note
from sipas.publishing.report import Report, lc

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"]
PCT_FORMAT = "0.00%"
INT_FORMAT = "#,##0"
LEVEL_TEXT = {"sipas": "Chỉ số chung", "aspect": "Khía cạnh", "element": "Yếu tố", "criterion": "Tiêu chí"}
SCOPE_TEXT = {"department": "Đơn vị", "district": "Đơn vị", "group": "Nhóm đơn vị", "province": "Toàn tỉnh"}

# tidy column -> (header, kind); kind: pct | int | num | text
INDEX_COLUMNS = {
    "unit_id": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"), "unit_type": ("Loại", "text"),
    "level": ("Cấp chỉ số", "text"), "item_id": ("Mã chỉ số", "text"), "item_label": ("Chỉ số", "text"),
    "parent_id": ("Thuộc", "text"), "estimate": ("Tỷ lệ hài lòng", "pct"), "n": ("Số câu trả lời hợp lệ", "int"),
    "se": ("Sai số chuẩn", "pct"), "ci_low": ("Cận dưới KTC", "pct"), "ci_high": ("Cận trên KTC", "pct"),
    "ci_method": ("Phương pháp KTC", "text"), "deff": ("Hệ số thiết kế (deff)", "num"),
    "n_eff": ("Cỡ mẫu hiệu dụng", "num"), "df": ("Bậc tự do", "int"), "flag": ("Cảnh báo độ tin cậy", "text"),
    "aggregation": ("Cách tổng hợp", "text"),
}


SAE_INDEX_COLUMNS = {
    "estimate_sae": ("Ước lượng theo mô hình", "pct"), "ci_low_sae": ("Cận dưới KTC (mô hình)", "pct"),
    "ci_high_sae": ("Cận trên KTC (mô hình)", "pct"), "mse_sae": ("Sai số bình phương trung bình (mô hình)", "num"),
    "shrinkage": ("Hệ số co", "num"), "publication": ("Số liệu công bố", "text"),
}


def index_columns(indices: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Phụ lục III's columns: :data:`INDEX_COLUMNS`, and the model-based ones when the year has any."""
    return INDEX_COLUMNS | (SAE_INDEX_COLUMNS if indices["estimate_sae"].notna().any() else {})


def workbook_path(cfg: YearConfig) -> Path:
    return cfg.paths.outputs(cfg.year) / f"phu-luc-{cfg.year}.xlsx"


def _write_sheet(ws, title: str, df: pd.DataFrame, columns: dict[str, tuple[str, str]], note: str = "",
                 widths: dict[str, float] | None = None) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    widths = widths or {}
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DCE6EE")
    rule = Border(bottom=Side(style="thin", color="1B4F72"))
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=13, color="1B4F72")
    ws["A2"] = note
    ws["A2"].font = Font(italic=True, color="566573")
    header_row = 4
    cols = [c for c in columns if c in df.columns]
    for j, c in enumerate(cols, start=1):
        cell = ws.cell(row=header_row, column=j, value=columns[c][0])
        cell.font = bold
        cell.fill = head_fill
        cell.border = rule
        cell.alignment = Alignment(wrap_text=True, vertical="bottom",
                                   horizontal="right" if columns[c][1] not in ("text", "any") else "left")
    for i, row in enumerate(df[cols].itertuples(index=False), start=header_row + 1):
        for j, (c, v) in enumerate(zip(cols, row), start=1):
            kind = columns[c][1]
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                v = None
            elif kind == "int":
                v = int(v)
            elif kind in ("pct", "num"):
                v = float(v)
            elif kind == "text":
                v = str(v)
            elif kind == "any":  # STT: a number, or the Roman numeral of a group row
                v = int(v) if isinstance(v, (int, float)) or hasattr(v, "__index__") else str(v)
            cell = ws.cell(row=i, column=j, value=v)
            if kind == "pct":
                cell.number_format = PCT_FORMAT
            elif kind == "int":
                cell.number_format = INT_FORMAT
            elif kind == "num":
                cell.number_format = "0.00"
    for j, c in enumerate(cols, start=1):
        kind = columns[c][1]
        default = 14 if kind != "text" else 18
        ws.column_dimensions[get_column_letter(j)].width = widths.get(c, default)
    ws.row_dimensions[header_row].height = 32
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    if len(df):
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(cols))}{header_row + len(df)}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def write_workbook(cfg: YearConfig) -> Path:
    """Write ``outputs/<year>/phu-luc-<year>.xlsx`` from the year's tidy tables; returns the path."""
    from openpyxl import Workbook

    p = cfg.paths
    rep = Report(cfg.year, p.root)
    indices, sample, profile = rep.indices, rep.sample, rep.profile
    method = cfg.methodology
    short = method.short_labels()
    province = cfg.settings.province
    types = [t for t in cfg.registry.unit_types if any(u.type == t.id for u in cfg.units)]

    wb = Workbook()
    wb.remove(wb.active)
    k = 0
    # I, II: the official ranking table (sipas.publishing.official.tables): STT, group row, rank change
    from sipas.publishing.official.settings import load_official
    from sipas.publishing.official.tables import pct_text, threshold_sentence
    from sipas.publishing.official.tables import ranking_table as official_ranking

    threshold = load_official(p).threshold
    rank_cols = {"stt": ("STT", "any"), "rank": ("Hạng", "int"), "unit_name": ("Đơn vị", "text"),
                 "unit_id": ("Mã đơn vị", "text"),
                 "sipas": ("Chỉ số chung (SIPAS)", "pct"), "ci_low": ("Cận dưới KTC", "pct"),
                 "ci_high": ("Cận trên KTC", "pct"), "flag": ("Cảnh báo độ tin cậy", "text")}
    tops = [a.id for a in method.aspects] or [e.id for e in method.elements]
    rank_cols.update({t: (short[t], "pct") for t in tops})
    rank_cols["n"] = ("Số phiếu có câu trả lời hợp lệ", "int")
    rank_cols.update({"rank_interval": ("Khoảng hạng", "text"),
                      "change_text": ("Thay đổi thứ hạng so với năm trước", "text"),
                      "at_or_above": (f"Đạt từ {pct_text(threshold)} trở lên", "text")})
    for t in types:
        r = official_ranking(rep, [t.id], threshold)
        units = r.kind == "unit"
        r["at_or_above"] = [("Đạt" if a else "") if u else None for a, u in zip(r.at_or_above, units)]
        r.loc[units, "stt"] = r.loc[units, "stt"].astype(int)
        ws = wb.create_sheet(f"Phụ lục {ROMAN[k]}")
        avg = indices[(indices.unit_id == group_id(t.id)) & (indices.item_id == "sipas")].estimate
        note = (f"Bình quân nhóm: {fmt.pct(float(avg.iloc[0]))}. " if len(avg) else "") + \
            threshold_sentence(rep, t.id, threshold)
        cols = rank_cols
        if rep.shows_model(t.id) or rep.uses_bands(t.id):   # model-based columns and bands (publication policy)
            r, cols = model_sheet_columns(rep, t.id, r, rank_cols)
            note += " " + html.unescape(policy_note(rep, t.id, bands=True))
        _write_sheet(ws, f"Phụ lục {ROMAN[k]}. Xếp hạng {lc(t.label_plural)} "
                         f"theo {method.index_label}, tỉnh {province}, năm {cfg.year}",
                     r, cols, note=note, widths={"unit_name": 40, "unit_id": 18, "rank": 7, "stt": 6,
                                                 "change_text": 16, "rank_interval": 10, "band": 12})
        k += 1

    # III: criteria (and every level) by unit, peer group, province
    idx = indices.copy()
    idx["level"] = idx["level"].map(LEVEL_TEXT).fillna(idx["level"])
    idx["unit_type"] = idx["unit_type"].map({t.id: t.label for t in cfg.registry.unit_types}
                                            | {"group": "Nhóm đơn vị", "province": "Toàn tỉnh"}).fillna(idx["unit_type"])
    ws = wb.create_sheet(f"Phụ lục {ROMAN[k]}")
    _write_sheet(ws, f"Phụ lục {ROMAN[k]}. Chỉ số theo tiêu chí, yếu tố và chỉ số chung của từng đơn vị, "
                     f"nhóm đơn vị và toàn tỉnh, năm {cfg.year}", idx, index_columns(indices),
                 note="Một dòng cho mỗi (đơn vị, chỉ số); cùng số liệu với tables/indices.csv."
                      + ("" if not indices["estimate_sae"].notna().any() else
                         " Các cột “theo mô hình”: ước lượng cho địa bàn nhỏ (Fay–Herriot), không phải ước lượng "
                         "trực tiếp; xem chú thích ở Phụ lục xếp hạng và trang Ghi chú."),
                 widths={"unit_name": 34, "item_label": 48, "unit_id": 18, "item_id": 10, "parent_id": 8,
                         "aggregation": 18})
    k += 1

    # IV: sample and respondents' profile
    ws = wb.create_sheet(f"Phụ lục {ROMAN[k]}")
    s = sample.copy()
    s["unit_type"] = s["unit_type"].map({t.id: t.label for t in cfg.registry.unit_types}).fillna(s["unit_type"])
    s["rate"] = s["achieved"] / s["target"]
    sample_cols = {"unit_id": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"), "unit_type": ("Loại", "text"),
                   "served": ("Số lượt phục vụ (N)", "int"), "target": ("Cỡ mẫu dự kiến", "int"),
                   "achieved": ("Số phiếu hợp lệ", "int"), "rate": ("Tỷ lệ đạt", "pct"),
                   "communes_listed": ("Số xã trong danh sách", "int"), "communes_sampled": ("Số xã được khảo sát", "int")}
    _write_sheet(ws, f"Phụ lục {ROMAN[k]}. Cơ cấu mẫu khảo sát năm {cfg.year}", s, sample_cols,
                 note=f"{cfg.target_note} "
                      "Đặc điểm người trả lời: trang “Phụ lục " + ROMAN[k] + " (tiếp)”.",
                 widths={"unit_name": 36, "unit_id": 18, "unit_type": 22})
    ws2 = wb.create_sheet(f"Phụ lục {ROMAN[k]} (tiếp)")
    names = {u.id: u.name for u in cfg.units} | {PROVINCE_ID: f"Tỉnh {province}"}
    prof = profile.copy()
    prof.insert(2, "unit_name", prof.unit_id.map(names))
    prof_cols = {"unit_id": ("Mã đơn vị", "text"), "unit_name": ("Đơn vị", "text"),
                 "variable_label": ("Đặc điểm", "text"), "category_label": ("Nhóm", "text"),
                 "n": ("Số người", "int"), "share": ("Tỷ lệ", "pct")}
    _write_sheet(ws2, f"Phụ lục {ROMAN[k]} (tiếp). Đặc điểm người trả lời theo đơn vị, năm {cfg.year}", prof,
                 prof_cols, note="Số người trả lời (không trọng số) và tỷ lệ trong số người trả lời câu hỏi.",
                 widths={"unit_name": 34, "unit_id": 18, "variable_label": 26, "category_label": 30})

    notes = wb.create_sheet("Ghi chú")
    from sipas.publishing.narrative import method_note_text

    lines = [f"Phụ lục kết quả khảo sát sự hài lòng năm {cfg.year}, tỉnh {province}.",
             f"Phương pháp: {method.title}.",
             method_note_text(rep),
             *[html.unescape(policy_note(rep, t.id, bands=True)) for t in types
               if rep.shows_model(t.id) or rep.uses_bands(t.id)],
             "Tỷ lệ lưu dưới dạng số thập phân (0,8266 = 82,66%), định dạng phần trăm.",
             "Nguồn: outputs/<năm>/tables/indices.csv, sample.csv, profile.csv (cùng số liệu)."]
    notes.column_dimensions["A"].width = 120
    for i, line in enumerate(lines, start=1):
        notes.cell(row=i, column=1, value=line)

    fixed = dt.datetime(cfg.year, 12, 31)
    wb.properties.creator = "sipas"
    wb.properties.title = f"Phụ lục kết quả SIPAS năm {cfg.year} — {province}"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.lastModifiedBy = "sipas"
    path = workbook_path(cfg)
    # openpyxl stamps the save time (docProps/core.xml) and dates every zip entry now
    return write_office(path, wb, fixed_core_dates(f"{cfg.year}-12-31T00:00:00Z"))


def model_sheet_columns(rep: Report, unit_type: str, r: pd.DataFrame, rank_cols: dict) -> tuple[pd.DataFrame, dict]:
    """The ranking sheet of a unit type with model-based figures and bands: the official
    rows ``r`` with the SIPAS's ``estimate_sae``, ``ci_low_sae``, ``ci_high_sae``,
    ``shrinkage`` (when modelled) and ``band`` (when the type uses bands: the band where
    the rank interval is wide, and then no strict rank; empty where the rank stands), and
    their headers after the direct figures."""
    from sipas.estimation.ranks import BANDS
    from sipas.publishing.model_based import MODEL, SHRINK

    mine = rep.ranking(unit_type).set_index("unit_id")
    r = r.copy()
    cols: dict = {}
    for c, head in rank_cols.items():
        cols[c] = head
        if c == "flag" and rep.shows_model(unit_type):
            for m, h in (("estimate_sae", f"{MODEL} (SIPAS)"), ("ci_low_sae", "Cận dưới KTC (mô hình)"),
                         ("ci_high_sae", "Cận trên KTC (mô hình)"), ("shrinkage", SHRINK)):
                r[m] = r.unit_id.map(mine[m])
                cols[m] = (h, "num" if m == "shrinkage" else "pct")
        if c == "rank_interval" and rep.uses_bands(unit_type):
            wide = ~mine["strict_rank"].astype(bool)
            r["band"] = r.unit_id.map(mine["band"].where(wide).map(BANDS))
            r.loc[r["band"].notna(), "rank"] = None          # the band instead of a strict rank
            cols["band"] = ("Nhóm (khoảng hạng rộng)", "text")
    return r, cols


def read_sheet(path: Path, sheet: str) -> pd.DataFrame:
    """A sheet back as a frame (header on row 4), for tests and for analysts."""
    return pd.read_excel(path, sheet_name=sheet, header=3)
