"""Columns of a table's rows, and a row of its mapped columns: the column-wise views
that :mod:`.rowmap` and the rules across rows work on."""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter

import numpy as np

from .csvcolumns import ColumnRows, column_of
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

    def __init__(self, recs: list[Record]):
        tables: dict[int, tuple[dict, int]] = {}
        for r in recs:
            c = r.values.cols
            if id(c) not in tables:
                tables[id(c)] = (c, sum(len(next(iter(t.values()))) for t, _ in tables.values()))
        self.tables = list(tables.values())
        self.take = np.fromiter((tables[id(r.values.cols)][1] + r.values.i for r in recs), dtype=np.int64,
                                count=len(recs))
        self.order = self.take.tolist()
        self.names = [k for k in self.tables[0][0] if not k.startswith("_")] if self.tables else []

    def __getitem__(self, k):
        if k not in self.names:
            raise KeyError(k)
        parts = [c[k] for c, _ in self.tables]
        whole = parts[0] if len(parts) == 1 else [v for p in parts for v in p]
        return list(map(whole.__getitem__, self.order))

    def __contains__(self, k):
        return k in self.names

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


class Cells:
    """Column ``j`` of a table's rows as a new list (None where a row is short), made when
    asked for: the rules read one column at a time, so the whole grid is never transposed."""

    def __init__(self, rows: list[list], width: int):
        self.rows, self.width = rows, width
        if isinstance(rows, ColumnRows):           # columns already (every row full width)
            return
        if any(len(r) < width for r in rows):      # the few short rows padded (copies)
            self.rows = [r if len(r) >= width else r + [None] * (width - len(r)) for r in rows]

    def __getitem__(self, j: int) -> list:
        if isinstance(self.rows, ColumnRows):
            return column_of(self.rows, j) if j < self.rows.width else [None] * len(self.rows)
        if j < self.width:
            return list(map(itemgetter(j), self.rows))
        return [r[j] if j < len(r) else None for r in self.rows]
