"""Excel workbooks (.xlsx / .xlsm) as clerks leave them.

What this module owns:

* hidden and very hidden sheets are skipped (named in the file's notes);
* rows hidden by a filter or by hand, rows struck through and rows marked void in a
  note cell ("PHIẾU HỎNG", "KHÔNG TÍNH", "HỦY") carry *marks* that the row rules turn
  into a flag (hidden) or a quarantine reason (void);
* formula cells without a cached value (a workbook written by a program that does not
  compute) stop the intake with the sheet and cells named, never become blank answers;
* encrypted zip entries and password-protected workbooks give a clear message;
* text typed in TCVN3 (ABC) or VNI fonts inside the workbook is detected and named;
* merged cells (title or data) are filled from their top-left cell.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from .normalize import header_key, is_blank, nfc

HIDDEN, STRUCK, VOID = "hidden", "struck", "void"

# Note-cell texts meaning "do not count this questionnaire" (compared by header_key:
# without diacritics, case and punctuation): a cell matches when it is one of them, or
# starts with one of the unambiguous ones ("PHIẾU HỎNG - thiếu trang 2").
VOID_MARKERS = ("huy", "hong", "loai", "bo", "void", "invalid", "spoilt", "spoiled", "khong_hop_le",
                "khong_su_dung", "khong_dung")
VOID_PREFIXES = ("phieu_hong", "khong_tinh", "phieu_huy", "huy_phieu", "da_huy", "phieu_loai", "loai_phieu",
                 "phieu_khong_hop_le", "phieu_bi_loai", "bo_phieu", "phieu_khong_tinh")

_TCVN3_CHARS = set("¸µ¶·¹¨©ª«®¬­¼½¾ÆÇÊÈÉËÌÐÎÏÑÒÕÓÔÖ×ÝØÜÞßãáâäåèæçéêíëìîïóñòôõøö÷ùúýûüþ")
_VNI_CHARS = set("øùûõïñöôòóìëäåæçèéêñ")


def is_void_marker(value: object) -> bool:
    if not isinstance(value, str) or is_blank(value):
        return False
    k = header_key(value)
    return k in VOID_MARKERS or any(k == m or k.startswith(m + "_") for m in VOID_PREFIXES)


def _open(path: Path, data_only: bool):
    import openpyxl

    from .readers import IntakeError

    try:
        return openpyxl.load_workbook(path, data_only=data_only)
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise IntakeError(f"the workbook has encrypted (password-protected) parts ({exc})", file=path,
                          hint="open it in Excel, remove the password (File > Info > Protect Workbook) "
                               "and save it as 'Excel Workbook (*.xlsx)'") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, NotImplementedError,
            EOFError) as exc:
        raw = path.read_bytes()[:8] if path.is_file() else b""
        if raw.startswith(b"\xd0\xcf\x11\xe0"):
            raise IntakeError("this is an old Excel 97–2003 (.xls) workbook or a password-protected one",
                              file=path, hint="open it in Excel and save it as 'Excel Workbook (*.xlsx)' "
                                              "without a password") from None
        raise IntakeError(f"not a readable Excel workbook ({type(exc).__name__}: {exc})", file=path,
                          hint="open it in Excel and save it again as .xlsx") from None


def _has_formulas(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.startswith("xl/worksheets/") and re.search(rb"<f[ >/]", z.read(n))
                       for n in z.namelist())
    except (zipfile.BadZipFile, RuntimeError, OSError):
        return False


def _uncached(path: Path, values) -> dict[str, list[str]]:
    """Sheet -> cells holding a formula whose cached value is missing."""
    wb = _open(path, data_only=False)
    out: dict[str, list[str]] = {}
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        vs = values[ws.title]
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("=") and c.data_type == "f":
                    if vs.cell(row=c.row, column=c.column).value is None:
                        out.setdefault(ws.title, []).append(c.coordinate)
    wb.close()
    return out


def _legacy_font_text(grid: list[list[object]]) -> str | None:
    """'TCVN3 (ABC)' / 'VNI' when the sheet's text was typed with a legacy font."""
    from .readers import _looks_vietnamese

    bad = tcvn = vni = 0
    for row in grid[:200]:
        for c in row:
            if isinstance(c, str) and not c.isascii() and not _looks_vietnamese(c):
                bad += 1
                tcvn += sum(ch in _TCVN3_CHARS for ch in c)
                vni += sum(ch in _VNI_CHARS for ch in c)
    if bad < 3:
        return None
    return "VNI (VNI-Windows)" if vni > tcvn else "TCVN3 (ABC)"


def read_xlsx(path: Path, score, match: Callable[[object], str | None]) -> list:
    from .readers import IntakeError, table_from_grid

    wb = _open(path, data_only=True)
    if _has_formulas(path):
        missing = _uncached(path, wb)
        if missing:
            n = sum(len(v) for v in missing.values())
            where = "; ".join(f"sheet '{s}': " + ", ".join(cells[:12]) + (" ..." if len(cells) > 12 else "")
                              for s, cells in missing.items())
            raise IntakeError(
                f"{n} formula cell{'s' if n > 1 else ''} without a computed value ({where}); they would be "
                "read as blank answers / ô công thức chưa có giá trị", file=path,
                hint="open the workbook in Excel or LibreOffice Calc and save it (this computes the "
                     "formulas), or replace the formulas by their values (Copy, Paste Special > Values)")
    tables, notes = [], []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            notes.append(f"{ws.sheet_state} sheet '{ws.title}' skipped / bỏ qua trang tính ẩn")
            continue
        grid: list[list[object]] = []
        marks: list[set[str]] = []
        hidden_rows = {i for i, d in ws.row_dimensions.items() if d.hidden}
        for row in ws.iter_rows():
            vals = [c.value for c in row]
            m: set[str] = set()
            if row and row[0].row in hidden_rows:
                m.add(HIDDEN)
            filled = [c for c in row if not is_blank(c.value)]
            if filled and all(c.font is not None and c.font.strike for c in filled):
                m.add(STRUCK)
            grid.append(vals)
            marks.append(m)
        for rng in ws.merged_cells.ranges:
            top = grid[rng.min_row - 1][rng.min_col - 1] if rng.min_row - 1 < len(grid) else None
            for i in range(rng.min_row - 1, min(rng.max_row, len(grid))):
                row = grid[i]
                if len(row) < rng.max_col:
                    row.extend([None] * (rng.max_col - len(row)))
                for j in range(rng.min_col - 1, rng.max_col):
                    row[j] = top
        for row in grid:
            for j, c in enumerate(row):
                if isinstance(c, str):
                    row[j] = nfc(c)
        legacy = _legacy_font_text(grid)
        if legacy:
            raise IntakeError(
                f"sheet '{ws.title}': the text looks typed in {legacy}, a legacy Vietnamese font "
                "encoding, and cannot be read safely / văn bản gõ bằng bảng mã cũ", file=path,
                hint="convert the workbook to Unicode (UniKey: copy the cells, Công cụ chuyển mã, "
                     "Ctrl+Shift+F6, from TCVN3/VNI to Unicode), then save it as .xlsx")
        t = table_from_grid(path, ws.title, grid, list(range(1, len(grid) + 1)), score, match, [], marks)
        tables.append(t)
    wb.close()
    if tables:
        tables[0].notes = notes + tables[0].notes
    elif notes:
        raise IntakeError("every sheet of the workbook is hidden: " + "; ".join(notes), file=path,
                          hint="unhide the data sheet (right-click a sheet tab > Unhide) and save")
    return tables
