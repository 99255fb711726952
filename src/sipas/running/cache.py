"""Content hashes and the dependency keys of a run's artefacts.

An artefact is rebuilt when its *key* changes; the key is the hash of a small dict of
named *inputs* (each itself a hash), so the summary can say which input changed.

Dependency granularity (what each artefact is taken to depend on)
----------------------------------------------------------------
``tables``   the processed microdata as the tables read it (every column but the open
             comment and the provenance columns: :func:`sipas.estimation.tables.estimation_frame`,
             the same frame the tables step computes from), the previous year's when the
             change tests compare with it, the params files the year reads, the ``sipas``
             source, the library versions.
unit annex   every table of its year (all files of ``outputs/<year>/tables/``: the unit's
             rows, but also the peer-group, province and ranking figures it shows);
             the tables of the other years (trend, change since last year); its *own*
             rows of the microdata (every column: its comments are quoted); the
             notebook; the params files; the ``sipas`` source; the library versions;
             its parameters (``root`` excluded: where, not what).
province     the same, with the whole microdata file.
pdf          the annex HTML (bytes), the ``sipas`` source, the libraries.
workbook     the year's tables, params, source, libraries.
index page   the year's tables, the years that have tables, the annexes present and
             the documents present (PDF, Excel, quality page: the page lists them).
trends       the tables of the run's years, ``notebooks/trends.ipynb``, every params file,
             the ``sipas`` source, the libraries.
site         each year with a front door: its tables and the documents present; the
             trends page; the params; the ``sipas`` source; the libraries.

So correcting a comment of one unit recomputes no table and rebuilds that unit's annex
and the province report only (which quote the comments); correcting a
satisfaction answer changes the tables (the unit's figures, hence the peer-group and
province figures every annex shows), so every annex of the year is rebuilt, and says
why. Finer keys (a unit's rows of each table) were tried and dropped: every annex
shows province figures, so they saved nothing for answer changes, and they could miss a
figure a notebook starts to show. The ``sipas`` source is hashed whole (any change of
the package rebuilds everything): coarse, but it cannot miss a change in code that the
notebooks call.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sipas.base.hashing import file_sha, frame_hash, json_hash, maybe_file_sha, sha256_bytes  # noqa: F401  (the run keys are made of these; callers say cache.file_sha)

if TYPE_CHECKING:
    from sipas.base.codebook import YearConfig
    from sipas.base.config import Paths

PKG = Path(__file__).resolve().parents[1]  # the whole sipas package
LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "statsmodels", "matplotlib", "seaborn", "jinja2",
             "nbformat", "nbclient", "nbconvert", "papermill", "ipykernel", "jupyter_client",
             "openpyxl", "pydantic", "pyyaml")
_SOURCE_SUFFIXES = {".py", ".j2", ".html", ".css", ".yaml", ".yml", ".json", ".txt"}


def source_hash(pkg: Path = PKG) -> str:
    """Hash of the ``sipas`` package source (file names and bytes; caches excluded)."""
    h = hashlib.sha256()
    for f in sorted(pkg.rglob("*")):
        if f.is_file() and f.suffix in _SOURCE_SUFFIXES and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Python, sipas and the key libraries (what a number's reproduction needs)."""
    out = {"python": platform.python_version(), "implementation": sys.implementation.name}
    for name in ("sipas", *LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def key_of(inputs: dict) -> str:
    return json_hash(inputs)


def params_files(cfg: YearConfig) -> list[Path]:
    """The params files a year's run reads (its registry and methodology, the previous
    year's when there is one, the settings and the fields)."""
    from sipas.base.codebook import YearConfig
    from sipas.base.errors import SipasError

    p = cfg.paths
    files = [p.params / "units" / f"{cfg.year}.yaml", p.params / "methodology" / f"{cfg.registry.methodology}.yaml",
             p.params / "settings.yaml", p.params / "fields.yaml"]
    prev = cfg.registry.previous_year
    if prev is not None and (p.params / "units" / f"{prev}.yaml").is_file():
        files.append(p.params / "units" / f"{prev}.yaml")
        try:
            files.append(p.params / "methodology" / f"{YearConfig(prev, p).registry.methodology}.yaml")
        except SipasError:
            pass
    return sorted(set(files))


def params_hash(cfg: YearConfig) -> str:
    """Hash of :func:`params_files` (names relative to the project root, and bytes)."""
    root = cfg.paths.root.resolve()
    return json_hash({f.resolve().relative_to(root).as_posix(): maybe_file_sha(f) for f in params_files(cfg)})


def tables_hash(p: Paths, year: int) -> str:
    """Hash of every file in ``outputs/<year>/tables/`` (whatever tables the estimation writes)."""
    d = p.tables(year)
    files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith(".")) if d.is_dir() else []
    return json_hash({f.name: file_sha(f) for f in files})


class RowHashes:
    """Row hashes of a frame computed once; :meth:`of` hashes a subset of rows (same
    result as :func:`frame_hash` of that subset, without re-hashing the values)."""

    def __init__(self, df):
        import pandas as pd

        self.frame = df
        self.head = json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode()
        self.rows = pd.util.hash_pandas_object(df, index=False).to_numpy() if len(df) else None

    def of(self, mask) -> str:
        h = hashlib.sha256(self.head)
        if self.rows is not None:
            sub = self.rows[mask.to_numpy() if hasattr(mask, "to_numpy") else mask]
            if len(sub):
                h.update(sub.tobytes())
        return h.hexdigest()


def changed(old: dict | None, new: dict) -> list[str]:
    """Names of the inputs that differ between two input dicts (sorted)."""
    if not old:
        return []
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


REASONS = {
    "notebook": "notebook changed",
    "code": "sipas code changed",
    "params": "params changed",
    "libraries": "library versions changed",
    "parameters": "parameters changed",
    "unit_data": "unit's data changed",
    "tables": "tables changed",
    "other_years": "other years' tables changed",
    "documents": "documents changed",
    "data": "data changed",
    "previous_data": "previous year's data changed",
    "html": "annex changed",
    "annexes": "list of annexes changed",
    "steps": "formats changed",
    "years": "a year's figures or documents changed",
    "trends": "trends annex changed",
}


def describe(names: list[str]) -> str:
    return ", ".join(REASONS.get(n, f"{n} changed") for n in names)
