"""The row rules of :mod:`.validate`, applied a column at a time: each distinct cell of a
column is mapped once (answers repeat: a 300,000-row file has a few hundred distinct
cells per column), and a row's canonical values are a view on its table's mapped
columns (:class:`.cells.Values`) rather than a dict of its own. Problems and flags are added
to each row in the order the rules are listed: shape, void marks, answers (codebook
order), administrative fields, enough answers.
"""

from __future__ import annotations

import numpy as np

from .cells import TEXT, Cells, Values
from .csvcolumns import ColumnRows
from .mapping import ADMIN, ANSWER_KINDS, COMMENT, CRITERION, EXPECTATION, PERSONAL, PROFILE, Codebook, parse_date
from .normalize import clean_text, is_blank, nfc
from .pii import EMAIL, PHONE, mask_report
from .readers import NO_MARKS
from .rules import IntakeRules
from .validate import Problem, Record, TableMap, _col_name, _show
from .xlsx import HIDDEN, STRUCK, is_void_marker


def _distinct(col, f) -> list:
    """``[f(v) for v in col]``, computing ``f`` once per distinct value when every value
    is text or blank (mixed numbers are mapped one by one: 1, 1.0 and True are equal keys)."""
    if set(map(type, col)) <= TEXT:
        m = {v: f(v) for v in set(col)}
        return list(map(m.__getitem__, col))
    return [f(v) for v in col]


def _pairs(col, f) -> tuple[list, list[tuple[int, object]]]:
    """``f`` gives a pair (value, note) per cell (as :func:`_distinct`): the values of
    ``col``, and (row, note) for the rows whose note is not empty, in row order."""
    if set(map(type, col)) <= TEXT:
        m = {v: f(v) for v in set(col)}
        values = list(map({v: out[0] for v, out in m.items()}.__getitem__, col))
        noted = {v for v, out in m.items() if out[1]}
        at = _rows_in(col, noted)
        return values, [(i, m[col[i]][1]) for i in at]
    out = [f(v) for v in col]
    return [v for v, _ in out], [(i, note) for i, (_, note) in enumerate(out) if note]


def _rows_in(col: list, values: set) -> list[int]:
    """The rows of ``col`` whose value is in ``values``."""
    if not values:
        return []
    return np.flatnonzero(np.fromiter(map(values.__contains__, col), dtype=bool, count=len(col))).tolist()


class RowMapper:
    """Maps raw cells to canonical values, with a cache per column (answers repeat)."""

    def __init__(self, cb: Codebook, rules: IntakeRules):
        self.cb, self.rules = cb, rules
        self.cfg = cb.cfg
        self.period = cb.cfg.registry.survey_period
        self._cache: dict[tuple, tuple] = {}
        self.kinds = {c.id: c for c in cb.columns}
        self._tables: dict[int, TableMap] = {}    # id(a table's mapped columns) -> its TableMap
        self._plans: dict[int, list[tuple]] = {}   # id(TableMap) -> :meth:`_raw_plan`

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

    # ------------------------------------------------------------------ columns
    def _source(self, tm: TableMap, cid: str, raw: Cells, n: int) -> list:
        """The cells of ``cid`` (None where the row is short), as the rules read them."""
        j = tm.columns.get(cid)
        if j is None:
            return [tm.unit_from_sheet if cid == "unit_id" and tm.unit_from_sheet else None] * n
        col = raw[j]
        labels = tm.table.value_labels.get(j)
        if labels and self.kinds[cid].kind in (ADMIN, COMMENT):
            col = [labels[v] if _in(v, labels) else v for v in col]
        return col

    def records(self, tm: TableMap) -> list[Record]:
        t = tm.table
        n, width = len(t.rows), len(t.headers)
        raw = Cells(t.rows, width)
        cols: dict[str, list] = {}
        self._tables[id(cols)] = tm
        recs = [Record(Values(cols, i), t.file.name, t.sheet, t.row_numbers[i], None) for i in range(n)]
        shaped = self._shape(recs, tm, width)
        marks = t.marks + [NO_MARKS] * (n - len(t.marks))
        void_at = self._first_hit(tm.note_columns, raw, is_void_marker, n)
        for i in sorted({*void_at, *(i for i, m in enumerate(t.marks) if m)}):   # rows marked or void
            r = recs[i]
            if STRUCK in marks[i]:
                r.problems.append(Problem("marked_void", "", "", "every filled cell of the row is struck through"))
            if i in void_at:
                j = void_at[i]
                r.problems.append(Problem("marked_void", _col_name(t, j, ""), _show(t.rows[i][j]),
                                          "the note says the questionnaire is not to be counted"))
            if HIDDEN in marks[i]:
                if self.rules.hidden_rows == "quarantine":
                    r.problems.append(Problem("marked_void", "", "", "row hidden in Excel (filter or hidden row)"))
                else:
                    r.flags.append("hidden_row")
        shifted: dict[str, list[int]] = {}     # column -> rows with personal data in it
        for cid, col in self.kinds.items():
            if col.kind == PERSONAL:
                continue
            src = self._source(tm, cid, raw, n)
            j = tm.columns.get(cid)
            if j is not None and col.kind != COMMENT:
                relabelled = col.kind == ADMIN and t.value_labels.get(j)
                shifted[cid] = self._shifted(raw[j] if relabelled else src, col.kind == ADMIN)
            if col.kind in ANSWER_KINDS:
                labels = t.value_labels.get(j) if j is not None else None
                cols[cid], noted = _pairs(src, lambda v, cid=cid, labels=labels: self._cell(cid, v, labels))
                for i, why in noted:
                    self._answer_problem(recs[i], cid, col.kind, t, j, src[i], why)
            elif col.kind == COMMENT:
                cols[cid], noted = _pairs(src, _comment)
                for i, _ in noted:
                    recs[i].flags.append("pii_masked")
            else:
                cols[cid] = src
        cols["_id_header"] = [_col_name(t, tm.columns.get("respondent_id"), "respondent_id")] * n
        self._admin(recs, tm, cols)
        self._enough(recs, cols)
        for cid in tm.columns:       # first problem of a row; the first column (file order) wins
            for i in shifted.get(cid, ()):
                if i not in shaped:
                    recs[i].problems.insert(0, Problem(
                        "malformed_row", _col_name(t, tm.columns[cid], cid), "(personal data)",
                        "an e-mail address or phone number in this column: the columns of the row are shifted"))
                    shaped.add(i)
        return recs

    def _answer_problem(self, rec: Record, cid: str, kind: str, t, j, value, why: str) -> None:
        if kind == PROFILE and self.rules.invalid_profile == "clear":
            rec.cleared.append(Problem("profile_cleared", _col_name(t, j, cid), _show(value), self._expected(cid, why)))
            if "profile_cleared" not in rec.flags:
                rec.flags.append("profile_cleared")
        else:
            reason = "invalid_answer" if kind != PROFILE else "invalid_profile"
            rec.problems.append(Problem(reason, _col_name(t, j, cid), _show(value), self._expected(cid, why)))

    def _nfc(self, text: str) -> str:
        key = ("_nfc", text)
        if key not in self._cache:
            self._cache[key] = nfc(text)
        return self._cache[key]

    def _raw_plan(self, tm: TableMap) -> list[tuple]:
        """Per non-personal column of ``tm``: (id, cell index or None, the value where there
        is no cell, value labels to apply, whether a comment), worked out once per table."""
        plan = []
        for cid, col in self.kinds.items():
            if col.kind == PERSONAL:
                continue
            j = tm.columns.get(cid)
            fixed = tm.unit_from_sheet if cid == "unit_id" and j is None and tm.unit_from_sheet else None
            labels = tm.table.value_labels.get(j) if j is not None and col.kind in (ADMIN, COMMENT) else None
            plan.append((cid, j, fixed, labels or None, col.kind == COMMENT))
        return plan

    def raw_of(self, rec: Record) -> dict[str, object]:
        """A row's non-personal cells as read (comments masked), for the quarantine file."""
        tm, i = self._tables[id(rec.values.cols)], rec.values.i
        plan = self._plans.get(id(tm))
        if plan is None:
            plan = self._plans[id(tm)] = self._raw_plan(tm)
        cells = tm.table.rows[i]
        n = len(cells)
        out: dict[str, object] = {}
        for cid, j, fixed, labels, comment in plan:
            value = cells[j] if j is not None and j < n else fixed
            if labels and _in(value, labels):
                value = labels[value]
            if type(value) is str:
                out[cid] = self._raw_text(value, comment)
                continue
            out[cid] = None if is_blank(value) else (self._nfc(value) if isinstance(value, str) else value)
            if comment and _comment(value)[1]:
                out[cid] = _comment(value)[0]
        return out

    def _raw_text(self, value: str, comment: bool):
        """:meth:`raw_of` of a text cell, once per distinct text."""
        key = ("_raw", comment, value)
        if key not in self._cache:
            out = None if is_blank(value) else self._nfc(value)
            if comment and _comment(value)[1]:
                out = _comment(value)[0]
            self._cache[key] = out
        return self._cache[key]

    # -------------------------------------------------------------------- rules
    @staticmethod
    def _first_hit(columns: list[int], raw: Cells, test, n: int) -> dict[int, int]:
        """Row -> the first of ``columns`` whose cell passes ``test`` (once per distinct cell)."""
        hit: dict[int, int] = {}
        for j in columns:
            col = raw[j]
            bad = {v for v in set(col) if test(v)}
            if bad:
                for i, v in enumerate(col):
                    if v in bad and i not in hit and type(v) is str:
                        hit[i] = j
        return hit

    def _shape(self, recs: list[Record], tm: TableMap, width: int) -> set[int]:
        """Shifted columns (1): a cell count that fits neither the header nor the other
        rows. The rows found (2, :meth:`_shifted`): a value of the wrong kind in a column."""
        done: set[int] = set()
        if isinstance(tm.table.rows, ColumnRows) and tm.table.rows.width == width:
            return done                            # every row as wide as the header
        for i, (r, cells) in enumerate(zip(recs, tm.table.rows)):
            n = len(cells)
            if n > width and any(not is_blank(c) for c in cells[width:]):
                r.problems.append(Problem("malformed_row", "", "", f"{n} cells, header has {width}"))
                done.add(i)
            elif n != width and n != tm.modal_width and tm.table.kind == "table" and tm.modal_width >= width:
                r.problems.append(Problem("malformed_row", "", "",
                                          f"{n} cells, header and most rows have {max(width, tm.modal_width)} "
                                          "(an unquoted comma or line break shifted the row?)"))
                done.add(i)
        return done

    def _shifted(self, cells: list, admin: bool) -> list[int]:
        """Shifted columns (2): rows whose cell (as read) is an e-mail address or a phone
        number (this not in administrative columns), as when an unquoted comma shifts a row."""
        def personal(v):
            return isinstance(v, str) and bool("@" in v and EMAIL.search(v) or (not admin and PHONE.fullmatch(v.strip())))
        return sorted(self._first_hit([0], [cells], personal, len(cells)))

    def _admin(self, recs: list[Record], tm: TableMap, cols: dict[str, list]) -> None:
        t = tm.table
        idcol = _col_name(t, tm.columns.get("respondent_id"), "respondent_id")
        ucol = _col_name(t, tm.columns.get("unit_id"), "unit_id")
        ccol = _col_name(t, tm.columns.get("commune"), "commune")
        icol = _col_name(t, tm.columns.get("interviewer"), "interviewer")
        dcol = _col_name(t, tm.columns.get("interview_date"), "interview_date")
        n = len(recs)
        # a column at a time, in the order of the rules (so a row's problems keep theirs)
        rids = cols["respondent_id"] = _distinct(cols["respondent_id"], clean_text)
        for i in _rows_in(rids, {None}):
            recs[i].problems.append(Problem("missing_id", idcol))
        raw_units = cols["unit_id"]
        found = _distinct(raw_units, self.cb.unit)
        units = cols["_unit"] = [u for u, _ in found]
        cols["unit_id"] = [u.id if u else None for u in units]
        for i in [i for i, u in enumerate(units) if u is None]:
            why = found[i][1]
            reason = "missing_unit" if why == "blank" else "unknown_unit"
            recs[i].problems.append(Problem(reason, ucol, _show(raw_units[i]), "" if why == "blank" else
                                            f"not a unit id or name in params/units/{self.cfg.year}.yaml"))
        raw_communes = cols["commune"]
        communes = cols["commune"] = _distinct(raw_communes, clean_text)
        psu_of = self.cfg.registry.design.psu
        named: dict = {}
        for i in range(n):
            unit = units[i]
            if unit is None or not unit.communes:
                continue
            psu = psu_of.get(unit.type)
            if psu != "commune" and communes[i] is None:
                continue
            commune_raw = raw_communes[i]
            key = (unit.id, type(commune_raw), commune_raw)
            try:
                name, why = named[key]
            except (KeyError, TypeError):
                name, why = named[key] = self.cb.commune(unit.id, commune_raw)
            if name is None and (psu == "commune" or why != "blank"):
                recs[i].problems.append(Problem(
                    "invalid_commune", ccol, _show(commune_raw),
                    f"blank; {unit.name} is sampled by commune" if why == "blank" else
                    f"not among the {len(unit.communes)} communes of {unit.name} in "
                    f"params/units/{self.cfg.year}.yaml"))
            if name is not None:
                communes[i] = name
        itvs = cols["interviewer"] = _distinct(cols["interviewer"], clean_text)
        for i in _rows_in(itvs, {None}):
            recs[i].problems.append(Problem("missing_interviewer", icol))
        raw_dates = cols["interview_date"]
        parsed = _distinct(raw_dates, lambda v: parse_date(v, tm.date_order))
        cols["interview_date"] = [d for d, _ in parsed]
        period = self.period
        for i, (d, why) in enumerate(parsed):
            if d is None:
                recs[i].problems.append(Problem("invalid_date", dcol, _show(raw_dates[i]),
                                                "blank" if why == "blank" else
                                                "expected dd/mm/yyyy" if tm.date_order == "dmy" else
                                                "expected m/d/yyyy (the file's order)"))
            elif not (period.start <= d <= period.end):
                recs[i].problems.append(Problem(
                    "date_out_of_period", dcol, _show(raw_dates[i]),
                    f"{d:%d/%m/%Y} not in {period.start:%d/%m/%Y}–{period.end:%d/%m/%Y}"))

    def _enough(self, recs: list[Record], cols: dict[str, list]) -> None:
        crit = self.cb.ids(CRITERION)
        n = len(recs)
        valid = np.zeros(n, dtype=np.int64)
        for c in crit:
            valid += np.fromiter(map(self.cb.code_sets[c][0].__contains__, cols[c]), dtype=bool, count=n)
        need = self.rules.min_valid_share * len(crit)
        for i in np.flatnonzero(valid < need):
            recs[i].problems.append(Problem("too_few_answers", "", "",
                                            f"{valid[i]} of {len(crit)} criteria answered 1–5, need {need:g}"))


def _in(v, labels: dict) -> bool:
    try:
        return v in labels
    except TypeError:
        return False


def _comment(value) -> tuple[str | None, bool]:
    """A comment cell as text with personal data masked, and whether anything was masked."""
    text = None if is_blank(value) else nfc(str(value)).replace("\r\n", "\n").strip()
    if text:
        masked, kinds = mask_report(text)
        if kinds:
            return masked, True
    return text, False
