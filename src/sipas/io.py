"""Small file helpers: atomic writes and deterministic table files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A reader never sees a half-written file: either the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_table(df: pd.DataFrame, stem: str | os.PathLike) -> list[Path]:
    """Write ``<stem>.csv`` (UTF-8, 10 significant digits, LF) and ``<stem>.parquet``."""
    stem = Path(stem)
    csv, parquet = stem.with_suffix(".csv"), stem.with_suffix(".parquet")
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False, float_format="%.10g", lineterminator="\n", encoding="utf-8")
    with atomic_path(parquet) as tmp:
        df.to_parquet(tmp, index=False)
    return [csv, parquet]
