"""Columns of a table's rows, and a row of its mapped columns: the column-wise views
that :mod:`.rowmap` and the rules across rows work on; and the helpers that work out a
column once per distinct value (:class:`.csvcolumns.Coded`)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from .csvcolumns import Coded, ColumnRows, coded, objects
from .normalize import clean_text
from .validate import Record


class Values(Mapping):
    """Row ``i`` of a table's mapped columns (codebook id -> value), read and written in place."""

    __slots__ = ("cols", "i")

    def __init__(self, cols: dict[str, list], i: int):
        self.cols, self.i = cols, i

    def __getitem__(self, k):
        return self.cols[k][self.i]

    def __setitem__(self, k, v):
        self.cols[k][self.i] = v

    def get(self, k, default=None):
        c = self.cols.get(k)
        return default if c is None else c[self.i]

    def __iter__(self):
        return iter(self.cols)

    def __len__(self):
        return len(self.cols)


TEXT = {str, type(None)}


class gather(Mapping):
    """The records' values as columns (codebook id -> list, in the records' order), each
    column made when asked for (so that only one is held at a time)."""

    def __init__(self, recs: list[Record], order: np.ndarray | None = None):
        values = list(map(attrgetter("values"), recs))
        ids = np.fromiter(map(id, map(attrgetter("cols"), values)), dtype=np.int64, count=len(values))
        ids, first, tab = np.unique(ids, return_index=True, return_inverse=True)
        seen = np.argsort(first, kind="stable")      # the tables in the order they first appear
        rank = np.empty(len(seen), dtype=np.int64)
        rank[seen] = np.arange(len(seen))
        self.tab = rank[tab]                         # per record: its table
        self.first = [recs[k] for k in first[seen].tolist()]    # per table: its first record
        self.tables = [values[k].cols for k in first[seen].tolist()]
        sizes = [len(t["respondent_id"]) for t in self.tables]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.take = offsets[self.tab] + np.fromiter(map(attrgetter("i"), values), dtype=np.int64, count=len(values))
        self._pick()
        self.names = [k for k in self.tables[0] if not k.startswith("_")] if self.tables else []

    def matrix(self, k: str) -> np.ndarray:
        """A block of columns held as a matrix (a row per record: ``_criteria``), transposed:
        a row per column, a column per record."""
        parts = [c[k] for c in self.tables]
        return (parts[0] if len(parts) == 1 else np.concatenate(parts))[self.take].T

    def per_table(self, f) -> list:
        """``f(first record of the table)`` for each record, computed once per table."""
        return objects([f(r) for r in self.first])[self.tab].tolist()

    def reorder(self, perm: np.ndarray) -> gather:
        """The same records in the order ``perm`` (positions in this one)."""
        out = object.__new__(gather)
        out.__dict__.update(self.__dict__)
        out.tab, out.take = self.tab[perm], self.take[perm]
        out._pick()
        return out

    def _pick(self) -> None:
        order = self.take.tolist()
        pick = itemgetter(*order) if order else lambda whole: ()
        self.pick = (lambda whole: [pick(whole)]) if len(order) == 1 else pick

    def __getitem__(self, k):
        if k not in self.names:
            raise KeyError(k)
        parts = [c[k] for c in self.tables]
        whole = parts[0] if len(parts) == 1 else list(chain.from_iterable(parts))
        return list(self.pick(whole))

    def __contains__(self, k):
        return k in self.names

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


class Cells:
    """Column ``j`` of a table's rows as a new list (None where a row is short), or the
    table's :class:`.csvcolumns.Coded` column (CSV fast path), made when asked for: the
    rules read one column at a time, so the whole grid is never transposed."""

    def __init__(self, rows: list[list], width: int):
        self.rows, self.width = rows, width
        if isinstance(rows, ColumnRows):           # columns already (every row full width)
            return
        if any(len(r) < width for r in rows):      # the few short rows padded (copies)
            self.rows = [r if len(r) >= width else r + [None] * (width - len(r)) for r in rows]

    def __getitem__(self, j: int) -> list | Coded:
        if isinstance(self.rows, ColumnRows):
            return self.rows.cols[j] if j < self.rows.width else [None] * len(self.rows)
        if j < self.width:
            return list(map(itemgetter(j), self.rows))
        return [r[j] if j < len(r) else None for r in self.rows]


def distinct(col, f) -> list:
    """``[f(v) for v in col]``, computing ``f`` once per distinct value (:func:`.coded`)."""
    c = coded(col)
    return objects([f(v) for v in c.words])[c.codes].tolist()


def pairs(col, f) -> tuple[list, list[tuple[int, object]]]:
    """``f`` gives a pair (value, note) per cell (once per distinct value, as :func:`distinct`): the values of
    ``col``, and (row, note) for the rows whose note is not empty, in row order."""
    c = coded(col)
    out = [f(v) for v in c.words]
    values = objects([v for v, _ in out])[c.codes].tolist()
    return values, [(i, out[c.codes[i]][1]) for i in rows_where(c, [bool(note) for _, note in out])]


def clean_texts(words: np.ndarray) -> np.ndarray:
    """:func:`.normalize.clean_text` of each word; a word of printable ASCII with single
    spaces inside (most ids and codes, which are distinct per row) is its own clean text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        plain = pc.match_substring_regex(pa.array(words, type=pa.string()), r"^[!-~]+(?: [!-~]+)*$")
    except (pa.ArrowInvalid, pa.ArrowTypeError):                     # not all text
        return objects([clean_text(v) for v in words])
    out = words.copy()
    for k in np.flatnonzero(~plain.fill_null(False).to_numpy(zero_copy_only=False)).tolist():
        out[k] = clean_text(words[k])
    return out


def rows_where(c: Coded, hit: list[bool]) -> list[int]:
    """The rows of ``c`` whose value is one of the words where ``hit`` is true."""
    if not any(hit):
        return []
    return np.flatnonzero(np.array(hit, dtype=bool)[c.codes]).tolist()
