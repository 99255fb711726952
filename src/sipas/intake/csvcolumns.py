"""The CSV fast path: a plain CSV file read column by column by pyarrow's C parser
instead of row by row by Python's ``csv`` module (:func:`sipas.intake.readers.read_csv`),
when it can be shown to give exactly the cells and line numbers the row reader gives.

It is taken only for a UTF-8 file (with or without BOM) that needed no repair, and
whose bytes hold no NUL and no lone carriage return (a line ends with \\n or \\r\\n),
whose every quote belongs to a well-formed quoted field (a quote opening a field right
after a delimiter or a line break, closed by a quote followed by a delimiter or a line
break, inner quotes doubled: then both parsers split fields and records alike), where
every record has the header's number of fields (pyarrow refuses any other count: a
shifted row) and with no empty line (pyarrow skips empty lines, the row reader counts
them: the lines of the records must add up to the file's lines). A record's line number
is then one after the lines of the records before it, a record spanning one line more
per line break inside its quoted fields. :func:`read_csv` compares the first rows with
the row reader's as well. Anything else goes to the row reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .normalize import nfc


class Coded:
    """A column as its distinct values and, per row, the index of its value: ``words``
    (an object array), ``codes`` (an integer array). The rules map each distinct value
    once and take the results by ``codes`` (:mod:`.rowmap`)."""

    __slots__ = ("words", "codes")

    def __init__(self, words: np.ndarray, codes: np.ndarray):
        self.words, self.codes = words, codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int):
        return self.words[self.codes[i]]

    def tolist(self) -> list:
        return self.words[self.codes].tolist()

    def __iter__(self):
        return iter(self.tolist())


def objects(values: list) -> np.ndarray:
    """``values`` as a 1-d object array (tuples stay elements)."""
    return np.fromiter(values, dtype=object, count=len(values))


def coded(col) -> Coded:
    """A column (list of cells, or :class:`Coded`) as :class:`Coded`: text and blank
    cells one word per distinct value; a column with other cells (numbers, dates) one
    word per row, as 1, 1.0 and True are equal keys but not the same cell."""
    if isinstance(col, Coded):
        return col
    if set(map(type, col)) <= {str, type(None)}:
        import pandas as pd

        codes, words = pd.factorize(np.array(col, dtype=object), use_na_sentinel=False)
        return Coded(np.asarray(words, dtype=object), codes)
    return Coded(objects(col), np.arange(len(col)))


class ColumnRows(Sequence):
    """The data rows of a table held as its columns (the CSV fast path), each a
    :class:`Coded`: every row has ``width`` cells, row ``i`` is made as a list when
    asked for. Code that edits rows in place calls :func:`row_lists` on the table first."""

    def __init__(self, cols: list[Coded]):
        self.cols = cols
        self.width = len(cols)
        self._n = len(cols[0]) if cols else 0

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return [c.words[c.codes[i]] for c in self.cols]


def row_lists(table) -> None:
    """The rows of ``table`` as lists of cells, to be edited in place."""
    if isinstance(table.rows, ColumnRows):
        table.rows = [list(r) for r in zip(*(c.tolist() for c in table.rows.cols))]


def column_of(rows, j: int) -> list:
    """Cell ``j`` of every row that has one."""
    if isinstance(rows, ColumnRows):
        return rows.cols[j].tolist() if j < rows.width else []
    return [r[j] for r in rows if j < len(r)]


def _quotes_well_formed(raw: bytes | memoryview, delim: bytes) -> bool:
    """Every quote in ``raw`` belongs to a quoted field: one opening after a delimiter, a
    line break or at the start, inner quotes doubled, closed before a delimiter, a line
    break or the end. Counted from the start, every even quote opens (or, right after a
    closing one, continues a field as a doubled quote) and every odd one closes (or is the
    first of a doubled quote): the positions of the quotes are checked as arrays."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    step = 1 << 24                           # (memory: a mask of 16 MB at a time)
    q = np.concatenate([np.flatnonzero(buf[k:k + step] == ord('"')) + k for k in range(0, len(buf), step)]
                       or [np.zeros(0, dtype=np.intp)])
    if not len(q):
        return True
    if len(q) % 2:
        return False                         # a field left open
    opens, closes = q[0::2], q[1::2]
    doubled = opens[1:] == closes[:-1] + 1   # the closing quote k and the opening k + 1 are one doubled quote
    starts = np.concatenate((opens[:1], opens[1:][~doubled]))
    ends = np.concatenate((closes[:-1][~doubled], closes[-1:]))
    before = buf[starts[starts > 0] - 1]
    after = buf[ends[ends + 1 < len(buf)] + 1]
    return bool(np.isin(before, [delim[0], ord("\n")]).all() and np.isin(after, [delim[0], ord("\r"), ord("\n")]).all())


_LONE_CR = re.compile(rb"\r(?!\n)")


def _encoded(col):
    """A column of text (pyarrow chunks) as one dictionary array: encoded chunk by chunk
    when the chunks come out sharing one dictionary (as pyarrow makes them), else combined
    first."""
    import pyarrow as pa

    enc = col.dictionary_encode()
    if len({c.dictionary.buffers()[1].address for c in enc.chunks}) == 1:
        return pa.DictionaryArray.from_arrays(
            pa.concat_arrays([c.indices for c in enc.chunks]), enc.chunk(0).dictionary)
    return col.combine_chunks().dictionary_encode()


def read_columns(raw: bytes, delim: str, width: int) -> tuple[list[str], list[Coded], list[int]] | None:
    """A UTF-8 CSV file whose first record is the header (of ``width`` fields): that
    record, the columns of the records below it that are not blank (NFC text, one object
    per distinct text of a column: :class:`Coded`) and each of those records' first line; None when the
    file is not plain enough to be sure (module doc)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if b"\x00" in raw or _LONE_CR.search(raw):
        return None
    body = memoryview(raw)[3:] if raw.startswith(b"\xef\xbb\xbf") else raw     # (no copy)
    if not _quotes_well_formed(body, delim.encode()):
        return None
    try:
        table = pcsv.read_csv(
            pa.py_buffer(body),
            # one thread: on 2 cores, more threads cost more CPU than they save time
            read_options=pcsv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=pcsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True,
                                            escape_char=False, newlines_in_values=True,
                                            ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(column_types={f"f{j}": pa.string() for j in range(width)}, strings_can_be_null=False,
                                                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        return None                          # a record with another number of fields, ...
    if table.num_columns != width:
        return None
    n = table.num_rows
    spans = np.ones(n, dtype=np.int64)       # lines of each record
    blank = np.ones(n, dtype=bool)           # a row of blank cells is no row (the header is kept)
    blank[0] = False
    cols = []
    for name in table.column_names:
        enc = _encoded(table.column(name))
        table = table.drop_columns([name])   # memory: one column at a time
        at = enc.indices.to_numpy()
        breaks = pc.count_substring(enc.dictionary, "\n").to_numpy(zero_copy_only=False)
        if breaks.any():
            spans += breaks[at]
        words = enc.dictionary.to_pylist()
        blank &= np.array([not w.strip() for w in words], dtype=bool)[at]
        text = objects(words)
        for k in np.flatnonzero(~pc.string_is_ascii(enc.dictionary).to_numpy(zero_copy_only=False)).tolist():
            text[k] = nfc(text[k])       # (an ASCII text is NFC)
        cols.append((text, at))
    if int(spans.sum()) != raw.count(b"\n") + (not raw.endswith(b"\n")):   # an empty line was skipped
        return None
    starts = np.concatenate(([1], 1 + np.cumsum(spans[:-1])))
    keep = np.flatnonzero(~blank)
    data = [Coded(words, at[keep[1:]]) for words, at in cols]
    return [words[at[0]] for words, at in cols], data, starts[keep[1:]].tolist()
