"""The row rules of :mod:`.validate`, applied a column at a time: each distinct cell of a
column is mapped once and the results taken by each row's code (:class:`.csvcolumns.Coded`;
answers repeat: a 300,000-row file has a few hundred distinct cells per column, and the
commune check works per distinct pair of unit and commune), and a row's canonical values are a view on its table's mapped
columns (:class:`.cells.Values`) rather than a dict of its own. Problems and flags are added
to each row in the order the rules are listed: shape, void marks, answers (codebook
order), administrative fields, enough answers.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from .cells import Cells, Values, clean_texts, distinct, pairs, rows_where
from .csvcolumns import Coded, ColumnRows, coded, objects
from .mapping import ADMIN, ANSWER_KINDS, COMMENT, CRITERION, EXPECTATION, PERSONAL, PROFILE, Codebook, parse_date
from .normalize import clean_text, is_blank, nfc
from .pii import EMAIL, PHONE, mask_report, mask_value
from .readers import NO_MARKS
from .rules import IntakeRules
from .validate import Problem, Record, TableMap, _col_name, _show
from .xlsx import HIDDEN, STRUCK, is_void_marker


class RowMapper:
    """Maps raw cells to canonical values, with a cache per column (answers repeat)."""

    def __init__(self, cb: Codebook, rules: IntakeRules):
        self.cb, self.rules = cb, rules
        self.cfg = cb.cfg
        self.period = cb.cfg.registry.survey_period
        self._cache: dict[tuple, tuple] = {}
        self.kinds = {c.id: c for c in cb.columns}
        self._tables: dict[int, TableMap] = {}    # id(a table's mapped columns) -> its TableMap

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
        recs = list(map(Record, map(Values, repeat(cols, n), range(n)), repeat(t.file.name, n), repeat(t.sheet, n),
                        t.row_numbers[:n], repeat(None, n)))
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
        valid = np.zeros(n, dtype=np.int64)   # criteria answered with a valid code, per row
        crit = {cid: k for k, cid in enumerate(self.cb.ids(CRITERION))}
        cols["_criteria"] = np.empty((n, len(crit)), dtype=np.float32)   # a row's codes (blank: nan), below
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
                c = coded(src)
                out = [self._cell(cid, v, labels) for v in c.words]
                values = objects([v for v, _ in out])
                cols[cid] = values[c.codes].tolist()
                said: dict[int, tuple] = {}       # per word with a problem: (column, value, detail)
                for i in rows_where(c, [bool(why) for _, why in out]):
                    w = int(c.codes[i])
                    if w not in said:
                        said[w] = (_col_name(t, j, cid), _show(c.words[w]), self._expected(cid, out[w][1]))
                    self._answer_problem(recs[i], col.kind, *said[w])
                if col.kind == CRITERION:
                    ok = self.cb.code_sets[cid][0]
                    valid += np.array([v in ok for v in values], dtype=bool)[c.codes]
                    cols["_criteria"][:, crit[cid]] = np.array([np.nan if v is None else v for v in values],
                                                            dtype=float)[c.codes]
            elif col.kind == COMMENT:
                cols[cid], noted = pairs(src, _comment)
                for i, _ in noted:
                    recs[i].flags.append("pii_masked")
            else:
                cols[cid] = src
        cols["_id_header"] = [_col_name(t, tm.columns.get("respondent_id"), "respondent_id")] * n
        self._admin(recs, tm, cols)
        for cid, v in cols.items():
            if isinstance(v, Coded):
                cols[cid] = v.tolist()
        self._enough(recs, valid)
        for cid in tm.columns:       # first problem of a row; the first column (file order) wins
            for i in shifted.get(cid, ()):
                if i not in shaped:
                    recs[i].problems.insert(0, Problem(
                        "malformed_row", _col_name(t, tm.columns[cid], cid), "(personal data)",
                        "an e-mail address or phone number in this column: the columns of the row are shifted"))
                    shaped.add(i)
        return recs

    def _answer_problem(self, rec: Record, kind: str, column: str, value: str, detail: str) -> None:
        if kind == PROFILE and self.rules.invalid_profile == "clear":
            rec.cleared.append(Problem("profile_cleared", column, value, detail))
            if "profile_cleared" not in rec.flags:
                rec.flags.append("profile_cleared")
        else:
            reason = "invalid_answer" if kind != PROFILE else "invalid_profile"
            rec.problems.append(Problem(reason, column, value, detail))

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

    def raw_rows(self, recs: list[Record]) -> list[dict[str, object]]:
        """The rows' non-personal cells as read, for the quarantine file, with personal data
        masked (in comments, and in any text: a shifted row may carry it into any column);
        a column at a time, each distinct cell once."""
        out: list[dict[str, object]] = [{}] * len(recs)
        by_table: dict[int, list[int]] = {}
        for k, r in enumerate(recs):
            by_table.setdefault(id(r.values.cols), []).append(k)
        masked: dict[str, object] = {}

        def cell(value, labels, comment):
            if labels and _in(value, labels):
                value = labels[value]
            if type(value) is str:
                value = self._raw_text(value, comment)
            else:
                text = _comment(value) if comment else (None, False)
                value = text[0] if text[1] else None if is_blank(value) else \
                    self._nfc(value) if isinstance(value, str) else value
            if type(value) is not str:
                return mask_value(value)
            if value not in masked:
                masked[value] = mask_value(value)
            return masked[value]

        for key, ks in by_table.items():
            tm = self._tables[key]
            rows = tm.table.rows
            at = np.array([recs[k].values.i for k in ks], dtype=np.int64)
            plan = self._raw_plan(tm)
            columns = []
            for cid, j, fixed, labels, comment in plan:
                if j is None:
                    col = [fixed] * len(ks)
                elif isinstance(rows, ColumnRows):
                    used, codes = np.unique(rows.cols[j].codes[at], return_inverse=True)
                    col = Coded(rows.cols[j].words[used], codes)
                else:
                    col = [rows[i][j] if j < len(rows[i]) else None for i in at.tolist()]
                columns.append(distinct(col, lambda v, labels=labels, comment=comment: cell(v, labels, comment)))
            cids = [p[0] for p in plan]
            for k, values in zip(ks, zip(*columns)):
                out[k] = dict(zip(cids, values))
        return out

    def _raw_text(self, value: str, comment: bool):
        """:meth:`raw_rows` of a text cell, once per distinct text."""
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
        """Row -> the first of ``columns`` whose text cell passes ``test`` (once per distinct cell)."""
        hit: dict[int, int] = {}
        for j in columns:
            c = coded(raw[j])
            for i in rows_where(c, [type(v) is str and bool(test(v)) for v in c.words]):
                hit.setdefault(i, j)
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
        try:                         # an administrative column: only an e-mail address, which has "@"
            if admin and "@" not in "\n".join(coded(cells).words):
                return []
        except TypeError:            # (not all text)
            pass
        return sorted(self._first_hit([0], [cells], personal, len(cells)))

    def _admin(self, recs: list[Record], tm: TableMap, cols: dict[str, list]) -> None:
        t = tm.table
        idcol = _col_name(t, tm.columns.get("respondent_id"), "respondent_id")
        ucol = _col_name(t, tm.columns.get("unit_id"), "unit_id")
        ccol = _col_name(t, tm.columns.get("commune"), "commune")
        icol = _col_name(t, tm.columns.get("interviewer"), "interviewer")
        dcol = _col_name(t, tm.columns.get("interview_date"), "interview_date")
        # a column at a time, in the order of the rules (so a row's problems keep theirs),
        # each distinct cell (or pair of unit and commune) worked out once
        c = coded(cols["respondent_id"])
        rids = clean_texts(c.words)
        cols["respondent_id"] = rids[c.codes].tolist()
        for i in rows_where(c, [v is None for v in rids]):
            recs[i].problems.append(Problem("missing_id", idcol))
        uc = coded(cols["unit_id"])
        found = [self.cb.unit(v) for v in uc.words]
        units = objects([u for u, _ in found])
        cols["_unit"] = units[uc.codes].tolist()
        cols["unit_id"] = objects([u.id if u else None for u in units])[uc.codes].tolist()
        for i in rows_where(uc, [u is None for u in units]):
            why = found[uc.codes[i]][1]
            reason = "missing_unit" if why == "blank" else "unknown_unit"
            recs[i].problems.append(Problem(reason, ucol, _show(uc[i]), "" if why == "blank" else
                                            f"not a unit id or name in params/units/{self.cfg.year}.yaml"))
        cc = coded(cols["commune"])
        communes = clean_texts(cc.words)[cc.codes]
        span = max(len(cc.words), 1)
        pairs, at = np.unique(uc.codes.astype(np.int64) * span + cc.codes, return_inverse=True)
        psu_of = self.cfg.registry.design.psu
        named = objects([None] * len(pairs))         # per pair: the registry's name of the commune
        bad = objects([None] * len(pairs))           # per pair: the detail of invalid_commune
        for k, (u, w) in enumerate(zip(*np.divmod(pairs, span))):
            unit, raw = units[u], cc.words[w]
            if unit is None or not unit.communes:
                continue
            psu = psu_of.get(unit.type)
            if psu != "commune" and clean_text(raw) is None:
                continue
            named[k], why = self.cb.commune(unit.id, raw)
            if named[k] is None and (psu == "commune" or why != "blank"):
                bad[k] = (f"blank; {unit.name} is sampled by commune" if why == "blank" else
                          f"not among the {len(unit.communes)} communes of {unit.name} in "
                          f"params/units/{self.cfg.year}.yaml")
        for i in np.flatnonzero(np.array([b is not None for b in bad], dtype=bool)[at]).tolist():
            recs[i].problems.append(Problem("invalid_commune", ccol, _show(cc[i]), bad[at[i]]))
        renamed = np.array([v is not None for v in named], dtype=bool)[at]
        communes[renamed] = named[at[renamed]]
        cols["commune"] = communes.tolist()
        c = coded(cols["interviewer"])
        itvs = clean_texts(c.words)
        cols["interviewer"] = itvs[c.codes].tolist()
        for i in rows_where(c, [v is None for v in itvs]):
            recs[i].problems.append(Problem("missing_interviewer", icol))
        dc = coded(cols["interview_date"])
        parsed = [parse_date(v, tm.date_order) for v in dc.words]
        cols["interview_date"] = objects([d for d, _ in parsed])[dc.codes].tolist()
        period = self.period
        for i in rows_where(dc, [d is None or not (period.start <= d <= period.end) for d, _ in parsed]):
            d, why = parsed[dc.codes[i]]
            if d is None:
                recs[i].problems.append(Problem("invalid_date", dcol, _show(dc[i]),
                                                "blank" if why == "blank" else
                                                "expected dd/mm/yyyy" if tm.date_order == "dmy" else
                                                "expected m/d/yyyy (the file's order)"))
            else:
                recs[i].problems.append(Problem(
                    "date_out_of_period", dcol, _show(dc[i]),
                    f"{d:%d/%m/%Y} not in {period.start:%d/%m/%Y}–{period.end:%d/%m/%Y}"))

    def _enough(self, recs: list[Record], valid: np.ndarray) -> None:
        """``valid``: per row, the criteria answered with a valid code."""
        crit = self.cb.ids(CRITERION)
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
