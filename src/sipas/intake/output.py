"""The processed table (schema from the codebook), the quarantine workbook and the
atomic writing of a year's files."""

from __future__ import annotations

import io
import math
import os
import re
from collections import ChainMap
from collections.abc import Mapping
from contextlib import contextmanager
from itertools import chain, repeat
from operator import attrgetter, is_, itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sipas.base.io import deterministic_zip, fixed_core_dates

from .cells import gather
from .csvcolumns import objects
from .fieldwork import reg_path
from .mapping import COMMENT, CRITERION, EXPECTATION, PERCEPTION, PROFILE, Codebook
from .pii import mask_value
from .readers import IntakeError
from .rules import FLAG, REASON

DESIGN = ["respondent_id", "year", "unit_id", "unit_type", "stratum", "psu", "weight", "fpc",
          "commune", "interviewer", "interview_date"]


def processed_columns(cb: Codebook) -> list[tuple[str, pa.DataType, str]]:
    """(column, arrow type, pandas dtype) of ``responses.parquet``, in contract order."""
    cols: list[tuple[str, pa.DataType, str]] = [
        ("respondent_id", pa.string(), "string"), ("year", pa.int16(), "int16"),
        ("unit_id", pa.string(), "string"), ("unit_type", pa.string(), "string"),
        ("stratum", pa.string(), "string"), ("psu", pa.string(), "string"),
        ("weight", pa.float64(), "float64"), ("fpc", pa.float64(), "float64"),
        ("commune", pa.string(), "string"), ("interviewer", pa.string(), "string"),
        ("interview_date", pa.date32(), "object"),
    ]
    def typed(cid: str) -> tuple[str, pa.DataType, str]:
        t = cb.column(cid).type
        return ((cid, pa.int16(), "Int16") if t in ("integer", "code") else
                (cid, pa.bool_(), "bool") if t == "bool" else (cid, pa.string(), "string"))

    cols += [typed(cid) for cid in cb.ids(PROFILE)]
    cols += [(cid, pa.int16(), "Int16") for cid in cb.ids(CRITERION)]
    # expectations: bool (multiple choice) or the category code (rated); perceptions: code
    cols += [typed(cid) for cid in cb.ids(EXPECTATION)]
    cols += [typed(cid) for cid in cb.ids(PERCEPTION)]
    cols += [(cid, pa.string(), "string") for cid in cb.ids(COMMENT)]
    cols += [("source_file", pa.string(), "string"), ("source_row", pa.int32(), "int32"),
             ("flags", pa.string(), "string")]
    return cols


def arrow_schema(cb: Codebook) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t, _ in processed_columns(cb)])


def empty_frame(cb: Codebook) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series([], dtype=d) for n, _, d in processed_columns(cb)})


def to_frame(columns: Mapping[str, list], cb: Codebook, n: int) -> pd.DataFrame:
    """The processed table from its columns (name -> list of ``n`` values; each is read
    once, so ``columns`` may make them one at a time)."""
    if not n:
        return empty_frame(cb)
    data = {}
    for name, _, dtype in processed_columns(cb):
        values = columns[name] if name in columns else [None] * n
        if dtype == "object":
            data[name] = pd.Series(values, dtype=object)
        elif dtype == "bool":
            data[name] = pd.Series(np.fromiter(map(bool, values), dtype=bool, count=n))
        elif dtype in ("Int16",):
            data[name] = pd.Series(_int16(values))
        elif dtype == "string":
            data[name] = pd.Series(_strings(values))
        elif isinstance(values, np.ndarray):
            data[name] = pd.Series(values.astype(dtype))
        else:
            data[name] = pd.Series(np.array([np.nan if v is None else v for v in values]).astype(dtype))
    return pd.DataFrame(data)


def _strings(values: list) -> pd.api.extensions.ExtensionArray:
    """``pd.array(values, dtype="string")``, made by pyarrow when they are text or None
    (a column of few distinct texts from those texts and a code per row)."""
    try:
        if len(values) > 1000 and len(set(values[:1000])) < 500:
            codes, texts = pd.factorize(np.fromiter(values, dtype=object, count=len(values)))
            return pd.arrays.ArrowStringArray(pa.array(texts, type=pa.string()).take(pa.array(codes, mask=codes < 0)))
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pd.array(values, dtype="string")


def _int16(values: list | np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``pd.array(values, dtype="Int16")``, without its test of each value when they are
    whole numbers or None, or an array of codes with nan for blank (blank cells hold 1,
    as pandas puts there)."""
    if not isinstance(values, np.ndarray) and not set(map(type, values)) <= {int, type(None)}:
        return pd.array(values, dtype="Int16")
    codes = np.array(values, dtype=float)          # None -> nan
    mask = np.isnan(codes)
    codes[mask] = 1
    return pd.arrays.IntegerArray(codes.astype(np.int16), mask)


def processed_frame(accepted: list, cfg, cb: Codebook) -> pd.DataFrame:
    """The processed table of the accepted records, in contract order (unit, id), with the
    design columns (stratum, psu, weight = served / accepted, fpc)."""
    reg = cfg.registry
    at, uids = pd.factorize(np.array(gather(accepted)["unit_id"] if accepted else [], dtype=object))
    n_h = dict(zip(uids, np.bincount(at, minlength=len(uids)).tolist()))     # in order of first row
    over = [(reg.unit(uid), n) for uid, n in n_h.items() if n > reg.unit(uid).served]
    if over:
        u, n = over[0]
        raise IntakeError(
            f"{len(over)} unit(s) have more accepted questionnaires than people served: "
            + ", ".join(f"{u.name} ({u.id}): {n} questionnaires, served {u.served}" for u, n in over[:5])
            + " — the weight (served / questionnaires) would be below 1",
            file=reg_path(cfg), key=f"{u.id}.served",
            hint="check `served` for the unit in the registry (it is the number of people served in "
                 "the year, not the sample), or whether rows of another unit were given this unit's name")
    if not accepted:
        return empty_frame(cb)
    cols = gather(accepted)
    unit_of = np.array([order_of_unit(reg, uid) for uid in uids], dtype=np.int64)[at]
    rid_rank = pd.factorize(np.array(cols["respondent_id"], dtype=object), sort=True)[0]
    perm = np.lexsort((rid_rank, unit_of))       # (unit in registry order, id); stable
    cols = cols.reorder(perm)
    srt = list(map(accepted.__getitem__, perm.tolist()))
    n = len(srt)
    per_unit = []                                # per unit: (unit, psu column, fpc, weight)
    for uid in uids:
        unit = reg.unit(uid)
        psu_col = reg.design.psu[unit.type]
        fpc = math.nan if not reg.design.fpc else float(unit.served) if psu_col == "respondent_id" else \
            float(len(unit.communes)) if psu_col == "commune" else math.nan
        per_unit.append((unit, psu_col, fpc, unit.served / n_h[uid]))
    u = at[perm]
    psu = objects([None] * n)
    for psu_col in dict.fromkeys(d[1] for d in per_unit):
        rows = np.array([d[1] == psu_col for d in per_unit], dtype=bool)[u]
        values = cols[psu_col] if psu_col in cols else [None] * n
        psu[rows] = [str(v) for v in objects(values)[rows].tolist()]
    extra = {"year": [cfg.year] * n, "unit_type": objects([d[0].type for d in per_unit])[u].tolist(),
             "stratum": objects([d[0].id for d in per_unit])[u].tolist(), "psu": psu.tolist(),
             "weight": np.array([d[3] for d in per_unit])[u], "fpc": np.array([d[2] for d in per_unit])[u],
             "source_file": cols.per_table(lambda r: r.origin),
             "source_row": list(map(attrgetter("row"), srt)),
             "flags": list(map(";".join, map(attrgetter("flags"), srt))),
             **dict(zip(cb.ids(CRITERION), cols.matrix("_criteria")))}
    return to_frame(ChainMap(extra, cols), cb, n)


def order_of_unit(reg, uid: str) -> int:
    """The place of unit ``uid`` in the registry (the processed table's order)."""
    return next(k for k, u in enumerate(reg.units) if u.id == uid)


def parquet_bytes(df: pd.DataFrame, cb: Codebook) -> bytes:
    table = pa.Table.from_pandas(df, schema=arrow_schema(cb), preserve_index=False)
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue().to_pybytes()


# ------------------------------------------------------------------- quarantine

QUARANTINE_HEAD = [
    ("source_file", "Tệp / File"), ("source_sheet", "Trang tính / Sheet"), ("source_row", "Dòng / Row"),
    ("reason", "Mã lý do / Reason code"), ("reason_vi", "Lý do"), ("reason_en", "Reason"),
    ("column", "Cột / Column"), ("value", "Giá trị / Value"), ("detail", "Chi tiết / Detail"),
    ("all_reasons", "Mọi lý do / All reasons"),
]


def quarantine_rows(records, cb: Codebook) -> list[dict]:
    out = []
    masked: dict = {}
    order = {reason: k for k, reason in enumerate(REASON)}

    def rank(p):
        return order[p.reason]

    def mask_cell(v):      # cells repeat ("4", "Nam"): each distinct text is masked once
        if type(v) is not str:
            return mask_value(v)
        if v not in masked:
            masked[v] = mask_value(v)
        return masked[v]
    for r in records:
        first = min(r.problems, key=rank)
        row = {"source_file": r.file, "source_sheet": r.sheet or "", "source_row": r.row,
               "reason": first.reason, "reason_vi": REASON[first.reason].vi, "reason_en": REASON[first.reason].en,
               "column": first.column, "value": first.value, "detail": first.detail,
               "all_reasons": "; ".join(f"{p.reason}" + (f" [{p.column}={p.value!r}]" if p.column else "")
                                        + (f" {p.detail}" if p.detail and p.reason != first.reason else "")
                                        for p in sorted(r.problems, key=rank))}
        row.update(r.raw)                 # (personal data masked: :meth:`.rowmap.RowMapper.raw_rows`)
        row["value"] = mask_cell(row["value"])
        out.append(row)
    return out


def quarantine_xlsx(rows: list[dict], cb: Codebook) -> bytes:
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Cach ly - Quarantine"
    data_cols = [c.id for c in cb.columns if c.kind != "personal"]
    head = [h for _, h in QUARANTINE_HEAD] + [
        (cid.upper() if cb.column(cid).kind == CRITERION else cb.column(cid).label) for cid in data_cols]
    ws.append(head)
    ws.append([k for k, _ in QUARANTINE_HEAD] + data_cols)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FDE9D9")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[2]:
        cell.font = Font(italic=True, color="808080")
    keys = [k for k, _ in QUARANTINE_HEAD] + data_cols
    grid = [list(map(r.get, keys)) for r in rows]
    cells = set(chain.from_iterable(grid))
    if set(map(type, cells)) <= {type(None), str, int}:     # the common case, faster
        fast = not any(_ILLEGAL.search(v) for v in cells if type(v) is str)
    else:
        grid = [[_xl(v) for v in vals] for vals in grid]
        fast = all(_plain(v) for vals in grid for v in vals)   # else openpyxl writes every cell
    for i, vals in enumerate([] if fast else grid, start=3):
        ws.append(vals)
        for j, v in enumerate(vals, start=1):
            if isinstance(v, str) and v.startswith("="):
                ws.cell(row=i, column=j).data_type = "s"  # a cell's text, never a formula
    ws.freeze_panes = "D3"
    for col, width in zip("ABCDEFGHIJ", (28, 16, 8, 20, 40, 40, 18, 18, 40, 40)):
        ws.column_dimensions[col].width = width
    ws.auto_filter.ref = f"A2:{openpyxl.utils.get_column_letter(len(head))}{max(2, len(rows) + 2)}"
    # reasons sheet
    ws2 = wb.create_sheet("Ly do - Reasons")
    ws2.append(["Mã / Code", "Lý do (tiếng Việt)", "Reason (English)", "Loại / Kind"])
    for rr in REASON.values():
        ws2.append([rr.code, rr.vi, rr.en, "cách ly / quarantine"])
    for f in FLAG.values():
        ws2.append([f.code, f.vi, f.en, "đánh dấu, vẫn dùng / flag, kept"])
    if not fast:
        return deterministic_xlsx(wb)
    last = f"{openpyxl.utils.get_column_letter(len(head))}{max(2, len(rows) + 2)}"
    body = _sheet_rows(grid, [openpyxl.utils.get_column_letter(j) for j in range(1, len(head) + 1)])

    def fix(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            data = re.sub(rb'<dimension ref="[A-Z0-9:]+"/>', f'<dimension ref="A1:{last}"/>'.encode(), data, count=1)
            end = data.index(b"</sheetData>")
            out = bytearray(data[:end])         # grown row by row: the sheet is never held twice
            for row in body:
                out += row
            out += data[end:]
            return out
        return fix_dates(name, data)
    return deterministic_xlsx(wb, fix)


# The data rows of the quarantine sheet are written here, as openpyxl (with lxml) writes
# them, byte for byte (inline strings, ``t="n"`` numbers, blank cells left out): openpyxl
# takes ~10 us a cell, too slow for a quarantine of 20,000 rows. Other types (dates,
# booleans, control characters) go through openpyxl.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _plain(v) -> bool:
    if v is None or type(v) is int:
        return True
    if type(v) is float:
        return math.isfinite(v)
    return type(v) is str and not _ILLEGAL.search(v)


def _sheet_rows(grid: list[list], letters: list[str], block: int = 1024):
    """The ``<row>`` elements of the data rows (from row 3), one bytes object each; made a
    column at a time for a block of rows, each distinct cell's XML once."""
    tails: dict = {None: b""}        # a cell's XML after its row number, encoded
    for start in range(0, len(grid), block):
        rows = grid[start:start + block]
        nums = [b"%d" % i for i in range(start + 3, start + 3 + len(rows))]
        cells = []
        for j, col in enumerate(letters):
            values = list(map(itemgetter(j), rows))
            for v in set(values).difference(tails):
                tail = _text_cell(v) if type(v) is str else f' t="n"><v>{"%.16g" % v}</v></c>'
                tails[v] = b'"' + tail.encode("ascii", "xmlcharrefreplace")
            pre = b'<c r="' + col.encode()
            cells.append(list(map(bytes.__add__, map(pre.__add__, nums), map(tails.__getitem__, values))))
            for k in np.flatnonzero(np.fromiter(map(is_, values, repeat(None)), dtype=bool, count=len(values))).tolist():
                cells[-1][k] = b""       # no cell
        for n, body in zip(nums, map(b"".join, zip(*cells))):
            yield b'<row r="' + n + b'">' + body + b"</row>"


def _text_cell(v: str) -> str:
    if v == "":
        return ' t="inlineStr"></c>'
    t = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    sp = ' xml:space="preserve"' if v != v.strip() else ""
    return f' t="inlineStr"><is><t{sp}>{t}</t></is></c>'


def _xl(v):
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


fix_dates = fixed_core_dates("2000-01-01T00:00:00Z")
BIG_ENTRY = 4_000_000   # bytes: a larger zip entry is deflated at level 1 (level 9 takes seconds)


def _level(name: str, data: bytes) -> int:
    return 9 if len(data) <= BIG_ENTRY else 1


def deterministic_xlsx(wb, fix=None) -> bytes:
    """Workbook bytes without timestamps (fixed document dates and zip entry times);
    ``fix`` as for :func:`sipas.base.io.deterministic_zip` (it must fix the dates too)."""
    import datetime as dt

    fixed = dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "sipas"
    wb.properties.lastModifiedBy = "sipas"
    raw = io.BytesIO()
    wb.save(raw)
    return deterministic_zip(raw.getvalue(), fix or fix_dates, _level)


# --------------------------------------------------------------- atomic writes


@contextmanager
def atomic_files():
    """Collect (path, bytes); write them all to temporary names, then rename each into
    place. If anything fails before the renames, no target file is touched."""
    pending: list[tuple[Path, bytes]] = []
    yield pending
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in pending:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            temps.append((tmp, path))
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in temps:
        os.replace(tmp, path)
