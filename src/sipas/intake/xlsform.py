"""Reading a province's own XLSForm (the ``survey`` and ``choices`` sheets) to map a
KoboToolbox / ODK export whose question and choice *names* are not the codebook's.

A question is tied to a codebook column by its name (when it is a codebook id, label
or alias) or else by its label (the question text, e.g. "Giới tính"); a choice is
replaced by its label in the export's cells (``nu`` -> "Nữ", ``rhl`` -> "Rất hài lòng"),
which the codebook then maps to its code, so a form whose codes differ from the
codebook's still gives the codebook's codes. A ``select_multiple`` question whose
choices are the expectation items gives one 0/1 column per item (its choices tied by
name or label, like questions).

Which form: ``sipas validate --xlsform FORM.xlsx``, or else the one XLSForm lying among
the year's raw files (``data/raw/<year>/``, or the ``--input`` files): a workbook with
``survey`` and ``choices`` sheets is the form, not data. Two forms and no ``--xlsform``
is an error (which one?).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .csvcolumns import row_lists
from .normalize import header_key, is_blank, nfc
from .readers import IntakeError

SHEETS = ("survey", "choices")
SKIP_TYPES = {"begin_group", "end_group", "begin_repeat", "end_repeat", "note", "calculate", "start", "end",
              "today", "deviceid", "username", "simserial", "subscriberid", "phonenumber", "audit"}


@dataclass
class FormMap:
    path: Path
    columns: dict[str, str] = field(default_factory=dict)           # question name key -> codebook id
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # codebook id -> choice name -> label
    multiple: dict[str, dict[str, str]] = field(default_factory=dict)  # question name key -> choice name -> item
    unmatched: list[str] = field(default_factory=list)              # questions naming no codebook column

    def cid(self, header: object) -> str | None:
        """The codebook id an export header names through the form (``grp/q1``, ``q1``)."""
        if is_blank(header):
            return None
        return self.columns.get(header_key(str(header).rsplit("/", 1)[-1]))

    def match(self, cb):
        """A header matcher: the codebook's own, else the form's."""
        def match(h):
            return cb.match_header(h) or self.cid(h)
        return match

    def applies(self, table, cb) -> bool:
        """The table is an export of this form: it has KoboToolbox/ODK meta columns or a
        header only the form names (a paper file keeps the codebook's own codes)."""
        heads = [h for h in table.headers if not is_blank(h)]
        return (any(str(h).strip().lstrip("_").lower() in ("uuid", "submission_time", "index") for h in heads)
                or any(cb.match_header(h) is None and (self.cid(h) or self._multi(h)) for h in heads))

    def _multi(self, h) -> bool:
        parts = str(h).split("/")
        return header_key(parts[-1]) in self.multiple or (len(parts) > 1 and header_key(parts[-2]) in self.multiple)

    def apply(self, table, cb) -> None:
        """Rename the table's headers to codebook ids and its choice names to labels."""
        row_lists(table)
        renamed = []
        for j, h in enumerate(list(table.headers)):
            if is_blank(h):
                continue
            parts = str(h).split("/")
            multi = self.multiple.get(header_key(parts[-2])) if len(parts) > 1 else None
            if multi is not None and parts[-1] in multi:          # expectations/e_a (0/1 column)
                table.headers[j] = multi[parts[-1]].upper()
                renamed.append(f"{h} -> {table.headers[j]}")
                continue
            if header_key(parts[-1]) in self.multiple:            # space-separated choices
                self._split(table, j, self.multiple[header_key(parts[-1])])
                continue
            cid = self.cid(h)
            if cid is None:
                continue
            if cb.match_header(h) != cid:
                table.headers[j] = cid
                renamed.append(f"{h} -> {cid}")
            names = self.choices.get(cid)
            if names:
                for r in table.rows:
                    if j < len(r) and not is_blank(r[j]):
                        r[j] = names.get(_name(r[j]), r[j])
        table.notes.append(f"XLSForm {self.path.name}: {len(renamed)} column(s) named through the form"
                           + (" (" + ", ".join(renamed[:8]) + (" ..." if len(renamed) > 8 else "") + ")"
                              if renamed else ""))

    @staticmethod
    def _split(table, j: int, items: dict[str, str]) -> None:
        chosen = [set(str(r[j]).split()) if j < len(r) and not is_blank(r[j]) else set() for r in table.rows]
        table.headers[j] = None           # the item columns replace it
        for name, item in items.items():
            table.headers.append(item.upper())
            width = len(table.headers)
            for r, c in zip(table.rows, chosen):
                r.extend([None] * (width - 1 - len(r)))
                r.append("1" if name in c else "0")


def _name(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return nfc(str(v)).strip()


def is_xlsform(path: Path) -> bool:
    """A workbook with ``survey`` and ``choices`` sheets (an XLSForm, not data)."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return False
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            wb = z.read("xl/workbook.xml").decode("utf-8", "replace")
    except (OSError, KeyError, RuntimeError, NotImplementedError, zipfile.BadZipFile):
        return False   # not a readable workbook: the reader says why
    return all(f'name="{s}"' in wb for s in SHEETS)


def read_xlsform(data: bytes) -> dict[str, list[dict]]:
    """The ``survey`` and ``choices`` sheets of an XLSForm as lists of row dicts."""
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    out = {}
    for name in SHEETS:
        rows = [r for r in wb[name].iter_rows(values_only=True) if any(not is_blank(c) for c in r)]
        head = [str(h).strip() if h is not None else "" for h in rows[0]] if rows else []
        out[name] = [dict(zip(head, r)) for r in rows[1:]]
    return out


def _label(row: dict) -> str:
    """The row's label: ``label``, else the first ``label::<language>`` column."""
    for k, v in row.items():
        if (k == "label" or k.startswith("label::")) and not is_blank(v):
            return nfc(str(v)).strip()
    return ""


def load_form(path: Path, cb) -> FormMap:
    """The header and answer mapping of an XLSForm (see the module doc)."""
    try:
        xf = read_xlsform(path.read_bytes())
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise IntakeError(f"not a readable XLSForm ({type(exc).__name__})", file=path,
                          hint="it needs a 'survey' and a 'choices' sheet, as KoboToolbox / ODK forms have") from None
    lists: dict[str, dict[str, str]] = {}
    for c in xf["choices"]:
        if not is_blank(c.get("list_name")) and not is_blank(c.get("name")):
            lists.setdefault(str(c["list_name"]).strip(), {})[_name(c["name"])] = _label(c) or _name(c["name"])
    fm = FormMap(path)
    items = {it.id for it in cb.cfg.methodology.expectations.items} if cb.cfg.methodology.expectations else set()
    for q in xf["survey"]:
        qtype, name = str(q.get("type") or "").split(), q.get("name")
        if not qtype or is_blank(name) or qtype[0] in SKIP_TYPES:
            continue
        name, label = str(name).strip(), _label(q)
        choices = lists.get(qtype[1], {}) if len(qtype) > 1 else {}
        if qtype[0] == "select_multiple":
            tied = {n: cb.match_header(n) or cb.match_header(lab) for n, lab in choices.items()}
            tied = {n: i for n, i in tied.items() if i in items}
            if tied:
                fm.multiple[header_key(name)] = tied
                continue
        cid = cb.match_header(name) or cb.match_header(label)
        if cid is None:
            fm.unmatched.append(name)
            continue
        fm.columns[header_key(name)] = cid
        if choices:
            fm.choices[cid] = choices
    if not fm.columns:
        raise IntakeError("the XLSForm names no codebook question (by name or by label)", file=path,
                          hint="the form's labels must be the questionnaire's (`sipas xlsform` writes one)")
    return fm


def find_form(files: list[Path], given: str | Path | None, cb) -> tuple[FormMap | None, list[Path]]:
    """The form to use and the data files (the inputs without any XLSForm among them)."""
    forms = [f for f in files if is_xlsform(f)]
    data = [f for f in files if f not in forms]
    if given:
        g = Path(given)
        if not g.is_file():
            raise IntakeError("XLSForm not found", file=g, hint="check the path given with --xlsform")
        return load_form(g, cb), data
    if len(forms) > 1:
        raise IntakeError("two XLSForms among the raw files: " + ", ".join(f.name for f in forms),
                          file=forms[0].parent, hint="say which one with --xlsform, or move the other away")
    return (load_form(forms[0], cb) if forms else None), data
