"""From raw tables to checked records: map each row through the codebook, apply the row
rules (:mod:`.rules`), then the rules across rows (duplicate ids) and the quality flags.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from .csvcolumns import ColumnRows
from .mapping import (
    COMMENT,
    CRITERION,
    PERSONAL,
    Codebook,
)
from .normalize import is_blank, nfc
from .readers import IntakeError, RawTable
from .rules import ORDER

MIN_DATA_SCORE = 3  # a sheet is survey data when at least this many headers name columns


@dataclass
class Problem:
    reason: str
    column: str = ""
    value: str = ""
    detail: str = ""


@dataclass(slots=True)
class Record:
    """One questionnaire: canonical values, origin, raw (non-personal) values, problems."""

    values: dict[str, object]
    file: str
    sheet: str | None
    row: int
    raw: dict[str, object] | None            # the cells as read (personal data masked), quarantined rows only
    problems: list[Problem] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    cleared: list[Problem] = field(default_factory=list)     # profile values set missing (kept)

    @property
    def origin(self) -> str:
        return self.file + (f"#{self.sheet}" if self.sheet else "")

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def reasons(self) -> list[str]:
        return sorted({p.reason for p in self.problems}, key=ORDER.__getitem__)

    @property
    def primary(self) -> str | None:
        r = self.reasons
        return r[0] if r else None


@dataclass
class TableMap:
    table: RawTable
    columns: dict[str, int]          # codebook id -> column index
    unknown: list[str]               # headers naming nothing (ignored)
    personal: list[str]              # personal headers (dropped)
    unit_from_sheet: str | None = None
    note_columns: list[int] = field(default_factory=list)   # cells searched for void marks
    modal_width: int = 0                                     # most frequent cell count of a row
    date_order: str = "dmy"


def header_score(match):
    """How many columns a row names (``match``: header -> codebook id or None; once per
    distinct cell)."""
    seen: dict = {}

    def named(c):
        key = (type(c), c)                # (1, 1.0 and True are equal keys)
        try:
            return seen[key]
        except KeyError:
            seen[key] = match(c)
            return seen[key]
        except TypeError:
            return match(c)

    def score(row: list[object]) -> int:
        return len({named(c) for c in row} - {None})
    return score


def map_table(table: RawTable, cb: Codebook) -> TableMap | None:
    """Column mapping of a table, None when it is not survey data (e.g. an instructions
    sheet). Raises IntakeError for a survey table that cannot be used."""
    columns: dict[str, int] = {}
    unknown, personal = [], []
    for j, h in enumerate(table.headers):
        cid = cb.match_header(h)
        if cid is None:
            if not is_blank(h):
                unknown.append(str(h))
            continue
        if cid in columns and cb.column(cid).kind == PERSONAL:   # e.g. both CMND and CCCD: both dropped
            personal.append(str(h))
            continue
        if cid in columns:
            first = table.headers[columns[cid]]
            raise IntakeError(
                f"columns {_letter(columns[cid])} ('{first}') and {_letter(j)} ('{h}') both mean "
                f"'{cid}' ({cb.column(cid).label})",
                file=table.where, row=table.header_row or None,
                hint="delete or rename one of them")
        columns[cid] = j
        if cb.column(cid).kind == PERSONAL:
            personal.append(str(h))
    if len(columns) < MIN_DATA_SCORE:
        return None
    tm = TableMap(table, columns, unknown, personal)
    known = set(columns.values())
    tm.note_columns = [j for j in range(len(table.headers)) if j not in known]
    tm.note_columns += [columns[c] for c in cb.ids(COMMENT) if c in columns]
    if isinstance(table.rows, ColumnRows):
        tm.modal_width = table.rows.width
    elif table.rows:
        tm.modal_width = Counter(len(r) for r in table.rows).most_common(1)[0][0]
    missing = [c for c in cb.required_ids if c not in columns]
    if "unit_id" in missing and table.sheet:
        unit, _ = cb.unit(table.sheet)
        if unit is not None:
            tm.unit_from_sheet = unit.id
            missing.remove("unit_id")
    if missing:
        col = cb.column(missing[0])
        names = ", ".join(f"'{cb.column(c).label}'" if cb.column(c).kind != CRITERION else f"'{c.upper()}'"
                          for c in missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise IntakeError(
            f"required column{'s' if len(missing) > 1 else ''} missing: {names} / thiếu cột bắt buộc",
            file=table.where, row=table.header_row or None,
            hint=f"add the column or rename its header; accepted headers for '{col.id}': "
                 + ", ".join(dict.fromkeys([col.id.upper() if col.kind == CRITERION else col.label,
                                            col.label, *col.aliases])))
    return tm


def _letter(j: int) -> str:
    """0-based column index -> spreadsheet letter (0 -> A, 27 -> AB)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _col_name(t: RawTable, j: int | None, cid: str) -> str:
    if j is None or j >= len(t.headers) or is_blank(t.headers[j]):
        return cid
    return str(t.headers[j]).strip()


def _show(value: object) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%d/%m/%Y")
    s = nfc(str(value))
    return s if len(s) <= 80 else s[:77] + "..."
