"""From raw tables to checked records: map each row through the codebook, apply the row
rules (:mod:`.rules`), then the rules across rows (duplicate ids) and the quality flags.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .mapping import (
    ADMIN,
    ANSWER_KINDS,
    COMMENT,
    CRITERION,
    EXPECTATION,
    PERCEPTION,
    PERSONAL,
    PROFILE,
    Codebook,
    parse_date,
)
from .normalize import clean_text, is_blank, nfc
from .readers import IntakeError, RawTable
from .rules import ORDER, IntakeRules

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


def header_score(cb: Codebook):
    def score(row: list[object]) -> int:
        return len({cb.match_header(c) for c in row} - {None})
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
        if len(cells) > width and any(not is_blank(c) for c in cells[width:]):
            rec.problems.append(Problem("malformed_row", "", "",
                                        f"{len(cells)} cells, header has {width}"))
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
                if why:
                    reason = "invalid_answer" if col.kind != PROFILE else "invalid_profile"
                    rec.problems.append(Problem(reason, _col_name(t, j, cid), _show(value),
                                                self._expected(cid, why)))
                rec.values[cid] = v
            elif col.kind == COMMENT:
                rec.values[cid] = None if is_blank(value) else nfc(str(value)).replace("\r\n", "\n").strip()
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
        d, why = parse_date(raw_date)
        v["interview_date"] = d
        dcol = _col_name(t, tm.columns.get("interview_date"), "interview_date")
        if d is None:
            rec.problems.append(Problem("invalid_date", dcol, _show(raw_date),
                                        "blank" if why == "blank" else "expected dd/mm/yyyy"))
        elif not (self.period.start <= d <= self.period.end):
            rec.problems.append(Problem(
                "date_out_of_period", dcol, _show(raw_date),
                f"{d:%d/%m/%Y} not in {self.period.start:%d/%m/%Y}–{self.period.end:%d/%m/%Y}"))

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


# ------------------------------------------------------------------ across rows


def content_key(rec: Record, cb: Codebook) -> tuple:
    skip = {"respondent_id"}
    return tuple((k, str(v)) for k, v in rec.values.items() if not k.startswith("_") and k not in skip)


def check_duplicates(records: list[Record], cb: Codebook, rules: IntakeRules) -> None:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        rid = r.values.get("respondent_id")
        if rid:
            groups[rid.casefold()].append(r)
    for rid, recs in groups.items():
        if len(recs) < 2:
            continue
        first = recs[0]
        identical = all(content_key(r, cb) == content_key(first, cb) for r in recs[1:])
        if identical or rules.duplicate_ids == "keep_first":
            for r in recs[1:]:
                how = "identical copy of" if content_key(r, cb) == content_key(first, cb) else \
                    "different answers; id already used by"
                r.problems.append(Problem("duplicate_id", _col_name_id(r), r.values["respondent_id"],
                                          f"{how} {first.origin} row {first.row} (kept)"))
        else:
            for r in recs:
                others = ", ".join(f"{o.origin} row {o.row}" for o in recs if o is not r)
                r.problems.append(Problem("duplicate_id", _col_name_id(r), r.values["respondent_id"],
                                          f"same id, different answers: {others}"))


def _col_name_id(r: Record) -> str:
    return r.values.get("_id_header") or "respondent_id"


def add_flags(records: list[Record], cb: Codebook, rules: IntakeRules) -> None:
    crit = cb.ids(CRITERION)
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        answers = [r.values.get(c) for c in crit]
        valid = [a for a, c in zip(answers, crit) if a in cb.code_sets[c][0]]
        if len(valid) >= rules.straight_line_min_answers and len(set(valid)) == 1:
            r.flags.append("straight_line")
        off_mode = len(valid) - max(Counter(valid).values()) if valid else 0
        if off_mode >= rules.duplicate_min_off_mode:
            key = (r.values.get("interviewer"), tuple(answers))
            if rules.duplicate_vector_with_profile:
                key += tuple(tuple(r.values.get(c) for c in cb.ids(kind))
                             for kind in (PROFILE, EXPECTATION, PERCEPTION))
            groups[key].append(r)
    for recs in groups.values():
        if len(recs) > 1:
            for r in recs:
                r.flags.append("interviewer_duplicate")
