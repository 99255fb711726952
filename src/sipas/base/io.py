"""Small file helpers: atomic writes and deterministic table files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a worker writing pages does not import pandas (0.3 s)
    import pandas as pd


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it to read it,
    which a thread writing a file at that moment would notice)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A reader never sees a half-written file: either the old one or the new one. The file
    gets the permissions of any file the user creates (``0666`` less the umask), not the
    owner-only mode of the temporary file, so reviewers and web servers can read it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
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


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def deterministic_zip(data: bytes, fix=None, level=None) -> bytes:
    """An Office file (xlsx, docx: a zip) rewritten so that the same content gives the
    same bytes: every entry dated :data:`ZIP_EPOCH`, owner-read-write permissions,
    deflated at level 9, in the order the writer chose. ``fix(name, data) -> data`` may
    rewrite an entry (e.g. a modification date in ``docProps/core.xml``); ``level(name,
    data) -> int`` may choose another deflate level for an entry (e.g. a large sheet)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for i in src.infolist():
            entry = src.read(i)
            if fix is not None:
                entry = fix(i.filename, entry)
            info = zipfile.ZipInfo(i.filename, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, entry, compresslevel=9 if level is None else level(i.filename, entry))
    return out.getvalue()


def write_office(path: str | os.PathLike, document, fix=None) -> Path:
    """Save an openpyxl workbook or python-docx document to ``path`` once, atomically,
    through :func:`deterministic_zip`."""
    import io

    raw = io.BytesIO()
    document.save(raw)
    with atomic_path(path) as tmp:
        tmp.write_bytes(deterministic_zip(raw.getvalue(), fix))
    return Path(path)


def fixed_core_dates(when: str):
    """A ``fix`` for :func:`deterministic_zip`: set the created and modified dates of
    ``docProps/core.xml`` to ``when`` (W3CDTF, e.g. ``2023-12-31T00:00:00Z``)."""
    import re

    def fix(name: str, data: bytes) -> bytes:
        if name != "docProps/core.xml":
            return data
        text = data.decode("utf-8")
        for tag in ("dcterms:created", "dcterms:modified"):
            text = re.sub(rf"(<{tag}[^>]*>)[^<]*(</{tag}>)", rf"\g<1>{when}\g<2>", text)
        return text.encode("utf-8")

    return fix
