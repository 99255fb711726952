"""From raw tables to checked records: map each row through the codebook, apply the row
rules (:mod:`.rules`), then the rules across rows (duplicate ids) and the quality flags.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from .mapping import (
    ADMIN,
    ANSWER_KINDS,
    COMMENT,
    CRITERION,
    EXPECTATION,
    PERSONAL,
    PROFILE,
    Codebook,
    parse_date,
)
from .normalize import clean_text, is_blank, nfc
from .pii import EMAIL, PHONE, mask_report
from .readers import IntakeError, RawTable
from .rules import ORDER, IntakeRules
from .xlsx import HIDDEN, STRUCK, is_void_marker

MIN_DATA_SCORE = 3  # a sheet is survey data when at least this many headers name columns


@dataclass
class Problem:
    reason: str
    column: str = ""
    value: str = ""
    detail: str = ""


@dataclass
class Record:
    """One questionnaire: canonical values, origin, raw (non-personal) values, problems."""

    values: dict[str, object]
    file: str
    sheet: str | None
    row: int
    raw: dict[str, object]
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
    """How many columns a row names (``match``: header -> codebook id or None)."""
    def score(row: list[object]) -> int:
        return len({match(c) for c in row} - {None})
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
    if table.rows:
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


class RowMapper:
    """Maps raw cells to canonical values, with a cache per column (answers repeat)."""

    def __init__(self, cb: Codebook, rules: IntakeRules):
        self.cb, self.rules = cb, rules
        self.cfg = cb.cfg
        self.period = cb.cfg.registry.survey_period
        self._cache: dict[tuple, tuple] = {}
        self.kinds = {c.id: c for c in cb.columns}

    def _cell(self, cid: str, value: object, labels: dict | None):
        key = (cid, type(value).__name__, value if not isinstance(value, float) or value == value else "nan",
               id(labels))
        try:
            return self._cache[key]
        except (KeyError, TypeError):
            pass
        col = self.kinds[cid]
        if col.kind == CRITERION:
            out = self.cb.criterion(cid, value, labels)
        elif col.kind in ANSWER_KINDS and col.type == "category":   # profile, perception, rated expectation
            out = self.cb.category(cid, value, labels)
        elif col.kind in ANSWER_KINDS and col.type == "integer":
            out = self.cb.integer(cid, value)
        elif col.kind == EXPECTATION:                                 # multiple choice
            out = self.cb.flag(value, labels)
        else:
            out = (clean_text(value), "")
        try:
            self._cache[key] = out
        except TypeError:
            pass
        return out

    def _expected(self, cid: str, why: str) -> str:
        """What a cell of ``cid`` may hold, for the quarantine's detail column."""
        key = ("_expected", cid, why)
        if key in self._cache:
            return self._cache[key]
        col = self.kinds[cid]
        lead = "matches two answers once diacritics are removed; " if why == "ambiguous" else ""
        if col.kind == CRITERION:
            scale = self.cfg.methodology.scale_of(cid)
            text = "expected " + ", ".join(f"{c.code} ({c.label})" for c in (*scale.values, *scale.missing))
        elif col.type == "integer":
            lo, hi = self.cb.ranges.get(cid, (None, None))
            text = f"expected a whole number from {lo} to {hi}"
        elif col.type == "category":
            text = "expected one of: " + ", ".join(col.choices) + " (or blank)"
        else:
            text = "expected 'x' (chosen) or blank"
        self._cache[key] = lead + text
        return lead + text

    def record(self, tm: TableMap, i: int) -> Record:
        t = tm.table
        cells = t.rows[i]
        width = len(t.headers)
        rec = Record({}, t.file.name, t.sheet, t.row_numbers[i], {})
        self._shape(rec, tm, cells, width)
        marks = t.marks[i] if i < len(t.marks) else set()
        if STRUCK in marks:
            rec.problems.append(Problem("marked_void", "", "", "every filled cell of the row is struck through"))
        void = next((cells[j] for j in tm.note_columns if j < len(cells) and is_void_marker(cells[j])), None)
        if void is not None:
            j = next(j for j in tm.note_columns if j < len(cells) and cells[j] is void)
            rec.problems.append(Problem("marked_void", _col_name(t, j, ""), _show(void),
                                        "the note says the questionnaire is not to be counted"))
        if HIDDEN in marks:
            if self.rules.hidden_rows == "quarantine":
                rec.problems.append(Problem("marked_void", "", "", "row hidden in Excel (filter or hidden row)"))
            else:
                rec.flags.append("hidden_row")
        for cid, col in self.kinds.items():
            if col.kind == PERSONAL:
                continue
            j = tm.columns.get(cid)
            value = cells[j] if j is not None and j < len(cells) else None
            if cid == "unit_id" and j is None and tm.unit_from_sheet:
                value = tm.unit_from_sheet
            labels = t.value_labels.get(j) if j is not None else None
            if labels and value in labels and col.kind in (ADMIN, COMMENT):
                value = labels[value]
            rec.raw[cid] = None if is_blank(value) else (nfc(value) if isinstance(value, str) else value)
            if col.kind in ANSWER_KINDS:
                v, why = self._cell(cid, value, labels)
                if why and col.kind == PROFILE and self.rules.invalid_profile == "clear":
                    rec.cleared.append(Problem("profile_cleared", _col_name(t, j, cid), _show(value),
                                               self._expected(cid, why)))
                    if "profile_cleared" not in rec.flags:
                        rec.flags.append("profile_cleared")
                elif why:
                    reason = "invalid_answer" if col.kind != PROFILE else "invalid_profile"
                    rec.problems.append(Problem(reason, _col_name(t, j, cid), _show(value),
                                                self._expected(cid, why)))
                rec.values[cid] = v
            elif col.kind == COMMENT:
                text = None if is_blank(value) else nfc(str(value)).replace("\r\n", "\n").strip()
                if text:
                    masked, kinds = mask_report(text)
                    if kinds:
                        text = masked
                        rec.raw[cid] = masked
                        rec.flags.append("pii_masked")
                rec.values[cid] = text
            else:
                rec.values[cid] = value
        self._admin(rec, tm)
        self._enough(rec)
        return rec

    def _admin(self, rec: Record, tm: TableMap) -> None:
        v = rec.values
        t = tm.table
        rid = clean_text(v.get("respondent_id"))
        v["respondent_id"] = rid
        v["_id_header"] = _col_name(t, tm.columns.get("respondent_id"), "respondent_id")
        if rid is None:
            rec.problems.append(Problem("missing_id", _col_name(t, tm.columns.get("respondent_id"), "respondent_id")))
        unit, why = self.cb.unit(v.get("unit_id"))
        raw_unit = v.get("unit_id")
        v["unit_id"] = unit.id if unit else None
        v["_unit"] = unit
        ucol = _col_name(t, tm.columns.get("unit_id"), "unit_id")
        if unit is None:
            reason = "missing_unit" if why == "blank" else "unknown_unit"
            rec.problems.append(Problem(reason, ucol, _show(raw_unit), "" if why == "blank" else
                                        f"not a unit id or name in params/units/{self.cfg.year}.yaml"))
        commune_raw = v.get("commune")
        v["commune"] = clean_text(commune_raw)
        if unit is not None:
            psu = self.cfg.registry.design.psu.get(unit.type)
            if unit.communes and (psu == "commune" or v["commune"] is not None):
                name, why = self.cb.commune(unit.id, commune_raw)
                if name is None and (psu == "commune" or why != "blank"):
                    rec.problems.append(Problem(
                        "invalid_commune", _col_name(t, tm.columns.get("commune"), "commune"), _show(commune_raw),
                        f"blank; {unit.name} is sampled by commune" if why == "blank" else
                        f"not among the {len(unit.communes)} communes of {unit.name} in "
                        f"params/units/{self.cfg.year}.yaml"))
                v["commune"] = name if name is not None else v["commune"]
        v["interviewer"] = clean_text(v.get("interviewer"))
        if v["interviewer"] is None:
            rec.problems.append(Problem("missing_interviewer", _col_name(t, tm.columns.get("interviewer"), "interviewer")))
        raw_date = v.get("interview_date")
        d, why = parse_date(raw_date, tm.date_order)
        v["interview_date"] = d
        dcol = _col_name(t, tm.columns.get("interview_date"), "interview_date")
        if d is None:
            rec.problems.append(Problem("invalid_date", dcol, _show(raw_date),
                                        "blank" if why == "blank" else
                                        "expected dd/mm/yyyy" if tm.date_order == "dmy" else
                                        "expected m/d/yyyy (the file's order)"))
        elif not (self.period.start <= d <= self.period.end):
            rec.problems.append(Problem(
                "date_out_of_period", dcol, _show(raw_date),
                f"{d:%d/%m/%Y} not in {self.period.start:%d/%m/%Y}–{self.period.end:%d/%m/%Y}"))

    def _shape(self, rec: Record, tm: TableMap, cells: list, width: int) -> None:
        """Shifted columns: a cell count that fits neither the header nor the other rows,
        or a value of the wrong kind in a column (an e-mail or a phone number outside the
        personal and comment columns, as when an unquoted comma shifts a row)."""
        n = len(cells)
        if n > width and any(not is_blank(c) for c in cells[width:]):
            rec.problems.append(Problem("malformed_row", "", "", f"{n} cells, header has {width}"))
            return
        if n != width and n != tm.modal_width and tm.table.kind == "table" and tm.modal_width >= width:
            rec.problems.append(Problem("malformed_row", "", "",
                                        f"{n} cells, header and most rows have {max(width, tm.modal_width)} "
                                        "(an unquoted comma or line break shifted the row?)"))
            return
        for cid, j in tm.columns.items():
            kind = self.kinds[cid].kind
            if kind in (PERSONAL, COMMENT) or j >= n or not isinstance(cells[j], str):
                continue
            v = cells[j]
            if "@" in v and EMAIL.search(v) or (kind != ADMIN and PHONE.fullmatch(v.strip())):
                rec.problems.append(Problem("malformed_row", _col_name(tm.table, j, cid), "(personal data)",
                                            "an e-mail address or phone number in this column: "
                                            "the columns of the row are shifted"))
                return

    def _enough(self, rec: Record) -> None:
        crit = self.cb.ids(CRITERION)
        valid = sum(1 for c in crit if rec.values.get(c) in self.cb.code_sets[c][0])
        need = self.rules.min_valid_share * len(crit)
        if valid < need:
            rec.problems.append(Problem("too_few_answers", "", "",
                                        f"{valid} of {len(crit)} criteria answered 1–5, need {need:g}"))


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
