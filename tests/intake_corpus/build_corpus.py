"""Rebuild the malformed-input corpus (the files next to this script).

    .venv/bin/python tests/intake_corpus/build_corpus.py

Each file is small: a few questionnaires of two units of 2023 (Huyện Tam Đường, a
district sampled by commune; Sở Tư pháp, a department), spoiled in one way. What each
file must produce is in ``cases.yaml``. The files are committed; this script documents
how they were made and regenerates them byte for byte.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from sipas.base.codebook import load_year
from sipas.intake import samples

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CFG = load_year(2023, REPO)
UNITS = ["tam-duong", "so-tu-phap"]


def rows(n: int = 3) -> list[dict]:
    return samples.sample_rows(CFG, per_unit=n, units=UNITS, seed=7)


def csv_bytes(rs: list[dict], **kw) -> bytes:
    return samples.to_csv(CFG, rs, **kw)


def text(rs=None, **kw) -> str:
    return csv_bytes(rs or rows(), bom=False, **kw).decode("utf-8")


def spoiled(i: int, **changes) -> list[dict]:
    rs = rows()
    rs[i] = {**rs[i], **changes}
    return rs


# ---------------------------------------------------------------- legacy encodings

_TONES = {"\u0300": 0, "\u0301": 1, "\u0309": 2, "\u0303": 3, "\u0323": 4}
# TCVN3 (ABC): plain vowels a ă â e ê i o ô ơ u ư y with the five tones
_TCVN3_BASE = {"ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
               "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7}
_TCVN3_TONED = {  # vowel -> bytes for grave, acute, hook, tilde, dot
    "a": [0xB5, 0xB8, 0xB6, 0xB7, 0xB9], "ă": [0xBB, 0xBE, 0xBC, 0xBD, 0xC6],
    "â": [0xC7, 0xCA, 0xC8, 0xC9, 0xCB], "e": [0xCC, 0xD0, 0xCE, 0xCF, 0xD1],
    "ê": [0xD2, 0xD5, 0xD3, 0xD4, 0xD6], "i": [0xD7, 0xDD, 0xD8, 0xDC, 0xDE],
    "o": [0xDF, 0xE3, 0xE1, 0xE2, 0xE4], "ô": [0xE5, 0xE8, 0xE6, 0xE7, 0xE9],
    "ơ": [0xEA, 0xED, 0xEB, 0xEC, 0xEE], "u": [0xEF, 0xF3, 0xF1, 0xF2, 0xF4],
    "ư": [0xF5, 0xF8, 0xF6, 0xF7, 0xF9], "y": [0xFA, 0xFD, 0xFB, 0xFC, 0xFE],
}


def _split(ch: str) -> tuple[str, int | None]:
    """A Vietnamese letter -> (letter without tone, tone index or None)."""
    d = unicodedata.normalize("NFD", ch)
    tone = next((_TONES[m] for m in d[1:] if m in _TONES), None)
    base = unicodedata.normalize("NFC", "".join(m for m in d if m not in _TONES))
    return base, tone


def to_tcvn3(s: str) -> bytes:
    out = bytearray()
    for ch in unicodedata.normalize("NFC", s):
        if ord(ch) < 128:
            out.append(ord(ch))
            continue
        base, tone = _split(ch)
        low = base.lower()
        if tone is None:
            out.append(_TCVN3_BASE.get(base, _TCVN3_BASE.get(low, 0x3F)))
        else:  # TCVN3 has toned lower-case letters only (capitals come from the font)
            out.append(_TCVN3_TONED.get(low, [0x3F] * 5)[tone])
    return bytes(out)


_VNI_TONE = [0xF8, 0xF9, 0xFB, 0xF5, 0xEF]          # grave acute hook tilde dot
_VNI_CIRC_TONE = [0xE0, 0xE1, 0xE5, 0xE3, 0xE4]     # â ê ô with a tone


def to_vni(s: str) -> bytes:
    out = bytearray()
    for ch in unicodedata.normalize("NFC", s):
        if ord(ch) < 128:
            out.append(ord(ch))
            continue
        base, tone = _split(ch)
        d = unicodedata.normalize("NFD", base)
        letter, marks = d[0], d[1:]
        if base in "đĐ":
            out.append(0xF1 if base == "đ" else 0xD1)
            continue
        if not letter.isascii():
            out += b"-"
            continue
        if "\u031b" in marks:          # horn: ơ ư
            out += (b"\xf4" if letter in "oO" else b"\xf6") if letter.islower() else (b"\xd4" if letter == "O" else b"\xd6")
            if tone is not None:
                out.append(_VNI_TONE[tone])
            continue
        out += letter.encode("ascii")
        if "\u0302" in marks:          # circumflex
            out.append(0xE2 if tone is None else _VNI_CIRC_TONE[tone])
        elif "\u0306" in marks:        # breve
            out.append(0xEA if tone is None else _VNI_TONE[tone])
        elif tone is not None:
            out.append(_VNI_TONE[tone])
    return bytes(out)


def to_cp1258(s: str) -> bytes:
    out = bytearray()
    for ch in unicodedata.normalize("NFC", s):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, tone = _split(ch)
            out += base.encode("cp1258") + "\u0300\u0301\u0309\u0303\u0323"[tone].encode("cp1258")
    return bytes(out)


# ------------------------------------------------------------------------ files


def xlsx(build) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    build(wb)
    from sipas.intake.output import deterministic_xlsx

    return deterministic_xlsx(wb)


def sheet_with_rows(ws, rs, drop=(), title_rows=0):
    cols = [(i, h) for i, h in samples.headers(CFG) if i not in drop]
    for _ in range(title_rows):
        ws.append(["PHIẾU KHẢO SÁT NĂM 2023"])
    ws.append([h for _, h in cols])
    for r in rs:
        ws.append([r.get(i) or None for i, _ in cols])


def instructions_only(wb):
    ws = wb.active
    ws.title = "Hướng dẫn"
    ws.append(["Hướng dẫn nhập liệu"])
    ws.append(["Mỗi dòng là một phiếu; mã đơn vị theo danh mục."])


def missing_column_sheet(wb):
    ws = wb.active
    ws.title = "Dữ liệu"
    sheet_with_rows(ws, rows(), drop=("interviewer",), title_rows=2)


def merged_header(wb):
    """Two header rows: group titles merged across their criteria, codes below; the
    admin headers merged vertically over both rows; two title rows above."""
    ws = wb.active
    ws.title = "Phiếu"
    cols = samples.headers(CFG)
    ws.append(["KẾT QUẢ KHẢO SÁT SỰ HÀI LÒNG NĂM 2023"])
    ws.append(["Đơn vị thực hiện: Sở Nội vụ tỉnh Lai Châu"])
    top, second = [], []
    for cid, h in cols:
        if cid in CFG.methodology.criterion_ids:
            top.append(CFG.methodology.element_of(cid).label)
            second.append(h)
        else:
            top.append(h)
            second.append(None)
    ws.append(top)
    ws.append(second)
    for j, (cid, _) in enumerate(cols, start=1):
        if cid not in CFG.methodology.criterion_ids:
            ws.merge_cells(start_row=3, start_column=j, end_row=4, end_column=j)
    start = None
    for j, (cid, _) in enumerate(cols + [("", "")], start=1):
        el = CFG.methodology.element_of(cid).id if cid in CFG.methodology.criterion_ids else None
        if start and (el != start[1]):
            ws.merge_cells(start_row=3, start_column=start[0], end_row=3, end_column=j - 1)
            start = None
        if el and not start:
            start = (j, el)
    for r in rows():
        ws.append([r.get(i) or None for i, _ in cols])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=8)


def sheets_per_unit_one_bad(wb):
    """One sheet per unit (no unit column: the sheet name says it), plus a notes sheet;
    the second unit's sheet has an answer outside the scale."""
    wb.remove(wb.active)
    rs = rows()
    for name in ("Huyện Tam Đường", "Sở Tư pháp"):
        ws = wb.create_sheet(name)
        grp = [r for r in rs if r["unit_id"] == name]
        if name == "Sở Tư pháp":
            grp[0] = {**grp[0], "c2_2": 6}
        sheet_with_rows(ws, grp, drop=("unit_id",), title_rows=1)
    wb.create_sheet("Ghi chú").append(["Số liệu do điều tra viên nhập"])


# ------------------------------------------------- issue 12: field files as they arrive


def with_dates(fmt) -> list[dict]:
    import datetime as dt

    rs = rows()
    for r in rs:
        r["interview_date"] = fmt(dt.datetime.strptime(r["interview_date"], "%d/%m/%Y").date())
    return rs


def hidden_sheets(wb):
    """A data sheet and two copies of it as hidden / very hidden test sheets."""
    ws = wb.active
    ws.title = "Phiếu khảo sát"
    sheet_with_rows(ws, rows())
    for name, state in (("Thử nghiệm", "hidden"), ("Cũ 2022", "veryHidden")):
        extra = wb.copy_worksheet(ws)
        extra.title = name
        extra.sheet_state = state


def void_and_struck(wb):
    """A note column saying 'PHIẾU HỎNG' on one row, every cell struck through on another,
    a row hidden by a filter (kept, flagged)."""
    from openpyxl.styles import Font

    ws = wb.active
    ws.title = "Phiếu khảo sát"
    sheet_with_rows(ws, rows())
    note = ws.max_column + 1
    ws.cell(row=1, column=note, value="Ghi chú")
    ws.cell(row=3, column=note, value="PHIẾU HỎNG")
    for c in ws[5]:
        c.font = Font(strike=True)
    ws.row_dimensions[6].hidden = True


def formula_without_value(wb):
    ws = wb.active
    ws.title = "Phiếu khảo sát"
    sheet_with_rows(ws, rows())
    col = [c.value for c in ws[1]].index("C1_2") + 1
    ws.cell(row=2, column=col, value="=MAX(1,C2)")


def numbered_per_sheet(wb):
    """One sheet per unit, questionnaires numbered from 1 on each."""
    wb.remove(wb.active)
    rs = rows()
    for uid in UNITS:
        unit = CFG.registry.unit(uid)
        ws = wb.create_sheet(unit.name)
        mine = [dict(r, respondent_id=str(k)) for k, r in enumerate((r for r in rs if r["unit_id"] == unit.name), 1)]
        sheet_with_rows(ws, mine, drop=("unit_id",))


def google_forms() -> bytes:
    import csv
    import io

    m = CFG.methodology
    cols = [("unit_id", "Đơn vị"), ("commune", "Xã, phường, thị trấn")] + [(v.id, v.label) for v in m.profile] \
        + [(c.id, c.label) for c in m.criteria]
    label = {c.id: {str(x.code): x.label for x in (*m.scale_of(c).values, *m.scale_of(c).missing)} for c in m.criteria}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["Dấu thời gian", "Địa chỉ email"] + [h for _, h in cols])
    for k, r in enumerate(rows()):
        w.writerow([f"2023/09/{10 + k:02d} 10:22:33 SA GMT+7", f"a{k}@gmail.com"]
                   + [label.get(i, {}).get(r.get(i), r.get(i)) for i, _ in cols])
    return out.getvalue().encode("utf-8")


def kobo_export() -> bytes:
    """A KoboToolbox export of the generated XLSForm: group paths, codes, space-separated
    select_multiple, no id/date/interviewer question answered (the meta columns give them)."""
    import csv
    import io

    m = CFG.methodology
    items = [it.id for it in m.expectations.items]
    head = ["grp_admin/unit_id", "grp_admin/commune"] + [f"grp_profile/{v.id}" for v in m.profile] \
        + [f"grp_{c.id.split('_')[0]}/{c.id}" for c in m.criteria] + ["expectations", "_id", "_uuid",
                                                                       "_submission_time", "_index", "_submitted_by"]
    code = {v.id: {c.label: c.code for c in v.categories} for v in m.profile if v.type == "category"}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(head)
    for k, r in enumerate(rows(), 1):
        unit = next(u.id for u in CFG.units if u.name == r["unit_id"])
        w.writerow([unit, r["commune"]] + [code.get(v.id, {}).get(r[v.id], r[v.id]) for v in m.profile]
                   + [r[c.id] for c in m.criteria] + [" ".join(i for i in items if r.get(i)),
                                                      1000 + k, f"uuid-{k:04d}", "2023-08-20T09:00:00", k, "dtv_kobo"])
    return out.getvalue().encode("utf-8")


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    t = text()
    lines = t.splitlines(keepends=True)
    crit = CFG.methodology.criterion_ids
    files["empty.csv"] = b""
    files["blank_lines.csv"] = b"\r\n\r\n  \r\n"
    files["header_only.csv"] = lines[0].encode("utf-8")
    files["no_header.csv"] = "Báo cáo tổng hợp\r\nSố phiếu;120\r\nGhi chú;không có\r\n".encode()
    files["missing_respondent_id.csv"] = text(header_map={"respondent_id": "Ghi chú"}).encode("utf-8")
    files["missing_criterion.csv"] = text(header_map={"c3_2": "C3_2_cu"}).encode("utf-8")
    files["duplicate_header.csv"] = text(header_map={"interviewer": "Mã phiếu"}).encode("utf-8")
    files["tcvn3.csv"] = to_tcvn3(t)
    files["vni.csv"] = to_vni(t)
    files["cp1258.csv"] = to_cp1258(t)
    files["mojibake.csv"] = t.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    files["bom_not_utf8.csv"] = b"\xef\xbb\xbf" + to_tcvn3(t)
    files["utf16.csv"] = t.replace(",", "\t").encode("utf-16")
    files["xlsx_named_csv.csv"] = xlsx(merged_header)
    files["old_excel.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    files["xls_renamed.xlsx"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    files["truncated.xlsx"] = xlsx(merged_header)[:400]
    files["not_a_workbook.xlsx"] = "Mã phiếu,Đơn vị\r\n".encode()
    files["no_usable_sheet.xlsx"] = xlsx(instructions_only)
    files["missing_column_sheet.xlsx"] = xlsx(missing_column_sheet)
    files["corrupt.sav"] = b"$FL2@(#) IBM SPSS STATISTICS" + bytes(40)
    files["survey.ods"] = b"PK\x03\x04 not supported"
    # row-level problems: accepted except the spoiled row
    files["out_of_range.csv"] = csv_bytes(spoiled(1, c1_3="6"))
    files["label_not_on_scale.csv"] = csv_bytes(spoiled(1, c4_1="Tạm được"))
    files["unknown_unit.csv"] = csv_bytes(spoiled(1, unit_id="Sở Ngoại vụ"))
    files["missing_unit.csv"] = csv_bytes(spoiled(1, unit_id=""))
    files["bad_date.csv"] = csv_bytes(spoiled(1, interview_date="31/09/2023"))
    files["date_outside_period.csv"] = csv_bytes(spoiled(1, interview_date="15/11/2023"))
    files["missing_id.csv"] = csv_bytes(spoiled(1, respondent_id="  "))
    rs = rows()
    rs.append({**rs[1], "c1_1": "1"})
    files["duplicate_id.csv"] = csv_bytes(rs)
    files["invalid_profile.csv"] = csv_bytes(spoiled(1, age_band="Trên 90"))
    files["trips_not_number.csv"] = csv_bytes(spoiled(1, trips="hai lần"))
    files["too_few_answers.csv"] = csv_bytes(spoiled(1, **{c: "" for c in crit[2:]}))
    files["dont_know_everywhere.csv"] = csv_bytes(spoiled(1, **{c: "Không biết" for c in crit}))
    files["wrong_commune.csv"] = csv_bytes(spoiled(0, commune="Xã Sùng Phài"))
    files["missing_interviewer.csv"] = csv_bytes(spoiled(1, interviewer=""))
    files["bad_expectation.csv"] = csv_bytes(spoiled(1, exp_2="có lẽ"))
    shifted = text().splitlines(keepends=True)
    shifted[2] = shifted[2].rstrip("\r\n") + ",thừa,cột\r\n"
    files["shifted_row.csv"] = "".join(shifted).encode("utf-8")
    files["several_problems.csv"] = csv_bytes(spoiled(1, unit_id="Sở Ngoại vụ", c1_1="9",
                                                      interview_date="hôm qua"))
    # readable although unusual
    files["nfd_semicolon.csv"] = unicodedata.normalize("NFD", text(delimiter=";")).encode("utf-8")
    files["merged_header.xlsx"] = xlsx(merged_header)
    files["sheets_per_unit.xlsx"] = xlsx(sheets_per_unit_one_bad)
    # issue 12: field files as they arrive
    files["dates_month_first.csv"] = csv_bytes(with_dates(lambda d: f"{d.month}/{d.day}/{d.year}"))
    amb = rows()
    for i, r in enumerate(amb):
        r["interview_date"] = f"{8 + i % 3}/{9 + i % 2}/2023"
    files["dates_ambiguous.csv"] = csv_bytes(amb)
    files["dates_excel_serial.csv"] = csv_bytes(with_dates(lambda d: str((d - __import__("datetime").date(1899, 12, 30)).days)))
    comma = text().splitlines(keepends=True)
    head = comma[0].split(",")
    cells = comma[2].rstrip("\r\n").split(",")
    j = head.index("Địa chỉ")
    cells[j] = "Bản Nà Khum, Tam Đường"          # unquoted comma: the row shifts to the right
    comma[2] = ",".join(cells) + "\r\n"
    files["shifted_by_comma.csv"] = "".join(comma).encode("utf-8")
    files["comment_with_phone.csv"] = csv_bytes(spoiled(0, comment="Gọi tôi số 09 1234 5678, CMND 123 456 789"))
    files["header_variants.csv"] = csv_bytes(rows(), header_map={"unit_id": "Tên đơn vị", "interview_date": "Ngày khảo sát",
                                                                 "c1_1": "Câu 1.1"})
    files["google_forms.csv"] = google_forms()
    files["kobo_export.csv"] = kobo_export()
    files["hidden_sheets.xlsx"] = xlsx(hidden_sheets)
    files["void_and_struck.xlsx"] = xlsx(void_and_struck)
    files["formula_without_value.xlsx"] = xlsx(formula_without_value)
    files["numbered_per_sheet.xlsx"] = xlsx(numbered_per_sheet)
    return files


if __name__ == "__main__":
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")
