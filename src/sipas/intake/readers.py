"""Readers: every supported file becomes one or more :class:`RawTable` (a header and
rows of raw cell values, each row with its origin).

* ``.csv`` / ``.txt``: UTF-8 with or without BOM, UTF-16 (Excel "Unicode text"),
  comma, semicolon or tab separated.  Windows-1258 is converted (with a note); TCVN3
  (ABC) and VNI files are refused with a message that says how to re-save them.
* ``.xlsx`` / ``.xlsm``: every sheet with a recognisable header; title rows above the
  header and merged cells (header or data) are handled.
* ``.sav``: SPSS, with value labels and user-missing values kept.

Fatal problems raise :class:`IntakeError` (a :class:`sipas.base.errors.SipasError`).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sipas.base.errors import SipasError

from .csvcolumns import ColumnRows, read_columns
from .normalize import is_blank, nfc, nfc_lines
from .xlsx import read_xlsx

SUPPORTED = (".csv", ".txt", ".xlsx", ".xlsm", ".sav")
RESAVE_HINT = ("open it in Excel and use File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)' "
               "or 'Excel Workbook (*.xlsx)' / mở tệp bằng Excel, chọn Lưu thành 'CSV UTF-8' hoặc '.xlsx'")


class IntakeError(SipasError):
    """A raw survey file cannot be used as it is."""


@dataclass
class RawTable:
    """A header row and the data rows below it, as read (no mapping yet)."""

    file: Path
    sheet: str | None
    headers: list[object]
    rows: list[list[object]]
    row_numbers: list[int]
    header_row: int = 1
    value_labels: dict[int, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    marks: list[set[str]] = field(default_factory=list)   # per row: hidden / struck (xlsx)
    kind: str = "table"                                   # table | kobo | forms (the channel)

    @property
    def where(self) -> str:
        """The table in an error message: ``/path/file.xlsx, sheet 'Sở Tư pháp'``."""
        return str(self.file) + (f", sheet '{self.sheet}'" if self.sheet else "")

    @property
    def name(self) -> str:
        """The origin as shown to analysts: ``file.xlsx`` or ``file.xlsx#Sheet``."""
        return self.file.name + (f"#{self.sheet}" if self.sheet else "")


HeaderScore = Callable[[list[object]], int]


# ------------------------------------------------------------------ header search


def find_header(grid: list[list[object]], score: HeaderScore, max_scan: int = 300) -> tuple[int, int]:
    """Index of the row (within the first ``max_scan``) that best looks like the header,
    and its score (number of cells naming a codebook column). Earliest row wins ties."""
    best, best_score = 0, -1
    for i, row in enumerate(grid[:max_scan]):
        s = score(row)
        if s > best_score:
            best, best_score = i, s
    return best, max(best_score, 0)


def combine_header(grid: list[list[object]], h: int, match: Callable[[object], str | None]) -> list[object]:
    """Header cells of row ``h``; where a cell is blank or names nothing, the nearest row
    above that names a column (two-row headers with a group title above)."""
    width = max((len(r) for r in grid[: h + 1]), default=0)
    out: list[object] = []
    for j in range(width):
        cell = grid[h][j] if j < len(grid[h]) else None
        if match(cell) is None:
            for k in range(h - 1, max(-1, h - 4), -1):
                above = grid[k][j] if j < len(grid[k]) else None
                if match(above) is not None:
                    cell = above
                    break
        out.append(cell)
    return out


# ------------------------------------------------------------------------- CSV

_VI_MARKS = {0x0300, 0x0301, 0x0303, 0x0309, 0x0323, 0x0302, 0x0306, 0x031B}
_PUNCT = set("“”‘’–—…•°«»€§©®±×÷\u00a0\u2009\u202f")


def _looks_vietnamese(text: str) -> bool:
    """True when every non-ASCII character is a Vietnamese letter or common punctuation."""
    for ch in set(text):
        if ord(ch) < 128 or ch in _PUNCT:
            continue
        d = unicodedata.normalize("NFD", ch)
        base, marks = d[0], d[1:]
        if base in "đĐ" and not marks:
            continue
        if not (base.isascii() and base.isalpha()) or not marks:
            return False
        if any(ord(m) not in _VI_MARKS for m in marks):
            return False
    return True


def _guess_legacy(raw: bytes) -> str:
    text = raw.decode("cp1252", errors="replace")
    vni = sum(text.count(c) for c in "øùûõïñöôø")
    tcvn = sum(text.count(c) for c in "¸µ¶·¹¨©ª«®¬­¼½¾Æ")
    if vni > tcvn:
        return "VNI (VNI-Windows)"
    if tcvn > vni:
        return "TCVN3 (ABC)"
    return "a legacy 8-bit Vietnamese encoding (TCVN3/ABC or VNI)"


_MOJIBAKE = ("á»", "áº", "Æ°", "Ä‘", "Ã¡", "Ã ", "Ã¢", "Ãª", "Ã´")
_MOJIBAKE_UTF8 = re.compile(b"|".join(re.escape(s.encode("utf-8")) for s in _MOJIBAKE))


def _mojibake(text: str, utf8: bytes | None = None) -> bool:
    """Text that was UTF-8 read as Windows-1252; ``utf8``: the bytes ``text`` was decoded
    from as UTF-8, searched instead in one pass (much faster than the text of a large file)."""
    if utf8 is not None:
        return _MOJIBAKE_UTF8.search(utf8) is not None
    return any(s in text for s in _MOJIBAKE)


def decode_text(raw: bytes, path: Path) -> tuple[str, list[str]]:
    """Bytes of a text file -> text (NFC once split in lines, :func:`_lines`), with notes
    about what was done."""
    notes: list[str] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        utf8 = raw
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise IntakeError("the file starts with a UTF-8 mark but is not valid UTF-8", file=path,
                              hint=RESAVE_HINT) from None
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        utf8 = None
        text = raw.decode("utf-16")
        notes.append("read as UTF-16")
    else:
        utf8 = raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            utf8 = None
            cand = nfc(raw.decode("cp1258", errors="replace"))
            if "\ufffd" not in cand and _looks_vietnamese(cand):
                notes.append("converted from Windows-1258 (not UTF-8) / đã chuyển từ mã Windows-1258 sang Unicode")
                text = cand
            else:
                enc = _guess_legacy(raw)
                raise IntakeError(
                    f"the file is not UTF-8: it looks like {enc}, which cannot be read safely / "
                    f"tệp không ở dạng Unicode UTF-8 (có vẻ là {enc})", file=path,
                    hint="convert it to Unicode (UniKey: Công cụ chuyển mã, Ctrl+Shift+F6, "
                         "from TCVN3/VNI to Unicode), then " + RESAVE_HINT) from None
    if _mojibake(text, utf8):
        try:
            fixed = text.encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            fixed = None
        if fixed and _looks_vietnamese(nfc(fixed)):
            notes.append("repaired text that had been converted twice (UTF-8 read as Windows-1252)")
            text = fixed
        else:
            raise IntakeError("the Vietnamese text is garbled (UTF-8 that was read as another "
                              "encoding and saved again, e.g. 'PhÆ°á»ng')", file=path,
                              hint="re-export the file from the original source; " + RESAVE_HINT)
    if "\ufffd" in text:
        notes.append("contains replacement characters (�): some characters were lost before the file reached us")
    return text, notes      # NFC line by line as it is read (:func:`_lines`): no second copy


def _lines(text: str, chunk: int = 1 << 20):
    """The lines of ``text`` with their endings (\\n, \\r\\n or \\r), as a file opened with
    ``newline=""`` gives them, NFC-normalised, a chunk of about ``chunk`` characters
    (cut after a \\n) at a time, never a copy of the whole text (a line break composes
    with nothing, so this is the NFC of the whole text)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + chunk)
        end = len(text) if end < 0 else end + 1
        yield from io.StringIO(nfc_lines(text[start:end]), newline="")
        start = end


def _sniff_delimiter(text: str) -> str:
    limit = 1 << 16          # the first 30 lines, without splitting the whole text
    while True:
        lines = text[:limit].splitlines()
        if len(lines) > 30 or limit >= len(text):
            break
        limit *= 4
    head = "\n".join(lines[:30])
    counts = {d: 0 for d in (",", ";", "\t")}
    in_quotes = False
    for ch in head:
        if ch == '"':
            in_quotes = not in_quotes
        elif not in_quotes and ch in counts:
            counts[ch] += 1
    return max(counts, key=lambda d: (counts[d], d == ","))


def read_csv(path: Path, score: HeaderScore, match: Callable[[object], str | None]) -> list[RawTable]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"cannot read the file ({exc.strerror})", file=path) from None
    if not raw or raw.isspace():           # (as raw.strip() is empty, without a copy)
        raise IntakeError("the file is empty", file=path, hint="export the survey data again")
    if raw[:4] == b"PK\x03\x04":
        raise IntakeError("this is an Excel workbook saved with a .csv name", file=path,
                          hint="rename it to .xlsx")
    table = _columnar(path, raw, score, match)
    if table is not None:
        return [table]
    text, notes = decode_text(raw, path)
    del raw
    delim = _sniff_delimiter(text)
    grid: list[list[object]] = []
    starts: list[int] = []
    # one object per distinct cell text: a 300,000-row file has ~20 million cells but few
    # distinct answers, and a string object per cell would take over a gigabyte
    same = {}.setdefault
    records = _records(text, delim)
    try:
        for start, rec in records:
            starts.append(start)
            grid.append(list(map(same, rec, rec)))
    except csv.Error as exc:
        raise IntakeError(f"not a readable CSV file near line {records.line}: {exc}", file=path,
                          hint=RESAVE_HINT) from None
    return [table_from_grid(path, None, grid, starts, score, match, notes)]


class _records:
    """The records of a CSV text with the line each starts on (the row reader);
    ``line``: the line after the last record read."""

    def __init__(self, text: str, delim: str):
        self.reader = csv.reader(_lines(text), delimiter=delim)
        self.line = 1

    def __iter__(self):
        for rec in self.reader:
            yield self.line, rec
            self.line = self.reader.line_num + 1


HEAD_BYTES = 1 << 22     # the fast path decodes this much to find the delimiter and the header


def _columnar(path: Path, raw: bytes, score: HeaderScore, match) -> RawTable | None:
    """The table of a CSV file read column by column (:mod:`.csvcolumns`) when it is
    UTF-8 that :func:`decode_text` would leave as it is (no note), its first record is the
    header and it is plain enough, else None (the row reader then). The whole text is
    never decoded: the delimiter and the header come from its first lines (as the row
    reader finds them when there are more than 30 lines and 300 records in them), and
    those records are checked against the row reader's."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _MOJIBAKE_UTF8.search(raw) or "\ufffd".encode() in raw:
        return None
    whole = len(raw) <= HEAD_BYTES
    try:
        text = (raw if whole else raw[: raw.rfind(b"\n", 0, HEAD_BYTES) + 1]).decode("utf-8-sig")
        text = unicodedata.normalize("NFC", text)    # (what :func:`_lines` gives, at once: a few MB)
        delim = _sniff_delimiter(text)
        head = list(itertools.islice(_records(text, delim), 301))
    except (UnicodeDecodeError, csv.Error):
        return None                        # invalid UTF-8 goes to decode_text
    if not whole and (len(head) < 301 or len(text.splitlines()) <= 30):
        return None
    head = head[:300]
    grid = [rec for _, rec in head]
    if not grid or find_header(grid, score)[0] != 0:
        return None
    got = read_columns(raw, delim, len(grid[0]))
    if got is None:
        return None
    header, cols, starts = got
    rows = ColumnRows(cols)
    some = [(n, r) for n, r in head[1:] if not _blank_row(r)]
    if header != grid[0] or some != list(zip(starts, rows[: len(some)])):  # pragma: no cover - guards a bug
        return None
    return RawTable(path, None, combine_header(grid[:1], 0, match), rows, starts, header_row=1)


def _blank_row(r: list) -> bool:
    try:
        return not "".join(r).strip()      # text cells (CSV): one join, not a test per cell
    except TypeError:
        return all(is_blank(c) for c in r)


NO_MARKS: frozenset = frozenset()   # a row without marks (shared: one per row would cost 200 bytes)


def table_from_grid(path: Path, sheet: str | None, grid: list[list[object]], line_numbers: list[int],
                    score: HeaderScore, match, notes: list[str],
                    marks: list[set[str]] | None = None) -> RawTable:
    h, _ = find_header(grid, score)
    headers = combine_header(grid, h, match)
    rows, numbers, row_marks = [], [], []
    for k in range(h + 1, len(grid)):
        r = grid[k]
        if _blank_row(r):
            continue
        rows.append(r)
        numbers.append(line_numbers[k])
        row_marks.append(marks[k] if marks else NO_MARKS)
    return RawTable(path, sheet, headers, rows, numbers, header_row=line_numbers[h] if grid else 1,
                    notes=list(notes), marks=row_marks)


# ------------------------------------------------------------------------- SPSS


def read_sav(path: Path, score: HeaderScore, match: Callable[[object], str | None]) -> list[RawTable]:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError / PyreadstatError
        raise IntakeError(f"not a readable SPSS .sav file ({exc})", file=path,
                          hint="export it again from SPSS (File > Save As > SPSS Statistics .sav)") from None
    names = list(df.columns)
    labels = meta.column_names_to_labels or {}
    headers: list[object] = []
    notes: list[str] = []
    for n in names:
        lab = labels.get(n)
        by_name, by_label = match(n), (match(lab) if lab else None)
        # the variable label wins: names are often renumbered (q1 labelled "Giới tính")
        headers.append(lab if by_label is not None else n)
        if by_label is not None and by_name is not None and by_label != by_name:
            notes.append(f"variable {n} is labelled '{lab}': read as '{by_label}' (its label), "
                         f"not '{by_name}' (its name)")
    vl = {}
    for j, n in enumerate(names):
        table = (meta.variable_value_labels or {}).get(n)
        if table:
            vl[j] = {k: nfc(str(v)) for k, v in table.items()}
    rows, numbers = [], []
    cols = [df[c].astype(object).tolist() for c in names]
    for i in range(len(df)):
        row = [nfc(c[i]) if isinstance(c[i], str) else c[i] for c in cols]
        if all(is_blank(c) for c in row):
            continue
        rows.append(row)
        numbers.append(i + 1)
    return [RawTable(path, None, headers, rows, numbers, header_row=0, value_labels=vl, notes=notes,
                     kind="spss")]


READERS = {".csv": read_csv, ".txt": read_csv, ".xlsx": read_xlsx, ".xlsm": read_xlsx, ".sav": read_sav}


def read_file(path: Path, score: HeaderScore, match: Callable[[object], str | None]) -> list[RawTable]:
    if not path.exists():
        raise IntakeError("file not found", file=path, hint="check the path given with --input")
    if not path.is_file():
        raise IntakeError("not a file", file=path)
    ext = path.suffix.lower()
    if ext == ".xls":
        raise IntakeError("old Excel 97–2003 (.xls) workbooks are not read", file=path,
                          hint="open it in Excel and save it as 'Excel Workbook (*.xlsx)'")
    reader = READERS.get(ext)
    if reader is None:
        raise IntakeError(f"unsupported file type '{ext or '(none)'}'", file=path,
                          hint="save it as .xlsx or as CSV UTF-8 (supported: " + ", ".join(SUPPORTED) + ")")
    return reader(path, score, match)
