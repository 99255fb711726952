"""The pages' one way into the published tables: ``outputs/<year>/tables/<name>``.

Owns which tables a page reads, the columns each must carry (:data:`SCHEMA`, the
columns :mod:`sipas.estimation.tables` writes) and reading them once per process.
There is no guessing: a table without a column it must have stops the page with a
:class:`~sipas.base.errors.SipasError` naming the file, the missing columns and what to
do (tables written by an older sipas: run ``sipas estimate`` again).

May import :mod:`sipas.base` and :mod:`sipas.estimation` (never running or cli).

Speed: a year's tables, its configuration and the columns of the microdata the annexes
quote (comments) are read once per process and kept (:func:`load_year_data`), keyed on
the files' modification times, so a warm kernel rendering one unit after another pays
for the reading once. The kept frames are never handed out: every call gets its own
shallow copies (copy-on-write: tens of microseconds a frame, no data copied), so a report
or a notebook cell that changes a frame it was given — assigns a column, sorts or drops
in place, writes values — changes it for itself only, never for the next annex of the
same process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.errors import SipasError

SCHEMA: dict[str, tuple[str, ...]] = {
    "indices": ("unit_id", "unit_name", "unit_type", "level", "item_id", "item_label", "parent_id", "estimate",
                "n", "se", "ci_low", "ci_high", "ci_method", "flag", "estimate_sae", "mse_sae", "ci_low_sae",
                "ci_high_sae", "shrinkage", "publication", "published", "published_low", "published_high"),
    "tests": ("test", "family", "unit_id", "item_id", "estimate", "p_value", "p_adjusted", "significant"),
    "sample": ("unit_id", "unit_name", "unit_type", "served", "target", "achieved", "communes_listed",
               "communes_sampled"),
    "profile": ("unit_id", "variable", "variable_label", "category", "category_label", "n", "share"),
    "expectations": ("unit_id", "item_id", "item_label", "n", "share"),
    "perceptions": ("unit_id", "variable", "variable_label", "category", "category_label", "positive", "n",
                    "share"),
    "ranks": ("unit_id", "unit_type", "item_id", "rank", "rank_low", "rank_high", "n_boot", "band", "strict_rank"),
    "reliability": ("unit_id", "level", "element_id", "item_id", "item_label", "n", "n_items", "alpha", "ci_low",
                    "ci_high", "item_rest", "flag"),
    "drivers": ("model", "term", "variable", "reference", "p_value", "odds_ratio", "ci_low", "ci_high",
                "converged", "label"),
    "groups": ("unit_id", "variable", "variable_label", "category", "category_label", "n", "rate"),
}
TABLE_NAMES = tuple(SCHEMA)
QUOTED = ("respondent_id", "unit_id", "comment")  # microdata the annexes quote (comments), never count


def require(frame: pd.DataFrame, name: str, columns: Iterable[str], file: Path | None = None) -> pd.DataFrame:
    """``frame`` itself when it has every one of ``columns``; else a SipasError."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SipasError(f"table {name!r} lacks the column(s) {', '.join(missing)}", file=file,
                         hint="the tables were written by another version of sipas: run `sipas estimate` again")
    return frame


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def read_published(p: Paths, year: int, name: str) -> pd.DataFrame:
    """One published table, checked against :data:`SCHEMA`."""
    path = p.tables(year) / f"{name}.parquet"
    if not path.is_file():
        raise SipasError("result table not found", file=path, hint=f"run `sipas estimate --year {year}`")
    return require(pd.read_parquet(path), name, SCHEMA[name], file=path)


@dataclass(frozen=True)
class YearData:
    cfg: YearConfig
    tables: dict[str, pd.DataFrame]
    responses: pd.DataFrame | None
    key: tuple = ()  # the files read (year, root, modification times): equal keys, equal tables
    # of a copy: the year as read once per process, whose frames no caller is handed
    kept: YearData | None = field(default=None, repr=False, compare=False)

    def copy(self) -> YearData:
        """The same year with frames of its own (shallow copies: under pandas' copy-on-write a
        change to one copies the data it changes, never reaching the original)."""
        return YearData(self.cfg, {name: t.copy(deep=False) for name, t in self.tables.items()},
                        None if self.responses is None else self.responses.copy(deep=False), self.key, self)


@lru_cache(maxsize=16)
def _load(year: int, root: str, stamp: tuple) -> YearData:
    p = Paths(Path(root))
    cfg = YearConfig(year, p)
    tables = {name: read_published(p, year, name) for name in TABLE_NAMES}
    responses = None
    if p.responses(year).is_file():
        import pyarrow.parquet as pq

        names = set(pq.read_schema(p.responses(year)).names)
        responses = pd.read_parquet(p.responses(year), columns=[c for c in QUOTED if c in names])
    return YearData(cfg, tables, responses, (year, root, stamp))


def load_year_data(year: int, p: Paths) -> YearData:
    """The year's configuration, tables and quoted microdata, read once per process; the
    frames are the caller's own (copies of the kept ones)."""
    stamp = tuple(_mtime(p.tables(year) / f"{n}.parquet") for n in TABLE_NAMES) + (_mtime(p.responses(year)),)
    return _load(int(year), str(p.root), stamp).copy()


def has_tables(p: Paths, year: int) -> bool:
    return (p.tables(year) / "indices.parquet").is_file()


def years_with_tables(p: Paths) -> list[int]:
    """The years under ``outputs/`` whose tables are published, in order."""
    base = p.outputs()
    if not base.is_dir():
        return []
    return sorted(int(d.name) for d in base.iterdir() if d.name.isdigit() and has_tables(p, int(d.name)))
