"""The official documents as steps of ``sipas run`` (``--formats docx``; with ``pdf``,
their PDF too). ``sipas.running.year`` registers them in one place (``YearJob.official``);
this module says what each step depends on and builds it.

* ``docx``      every Word document of the year (:func:`build_docx`); depends on the
                year's and the previous year's tables (rank changes, the report's
                changes section), the processed data (the report quotes comment themes),
                the templates and ``params/official.yaml``;
* ``docx-pdf``  their PDF with LibreOffice (:func:`build_pdf`); depends on the Word files.

Run outputs are always drafts (DỰ THẢO); the numbered documents are written by
``sipas release`` (:mod:`.release`).
"""

from __future__ import annotations

from pathlib import Path

from sipas.base.config import Paths


def _sha(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def inputs(p: Paths, year: int) -> dict:
    """What the Word documents of ``year`` depend on besides code, libraries and the year's params."""
    from sipas.base.codebook import YearConfig

    cfg = YearConfig(year, p)
    tables = {}
    for y in (year, cfg.registry.previous_year):
        if y is not None and p.tables(y).is_dir():
            tables[str(y)] = {f.name: _sha(f) for f in sorted(p.tables(y).glob("*.parquet"))}
    templates = {f.name: _sha(f) for f in sorted((p.params / "templates").glob("*.docx"))}
    return {"official_tables": tables, "templates": templates, "official": _sha(p.params / "official.yaml"),
            "data": _sha(p.responses(year))}


def build_docx(p: Paths, year: int) -> list[Path]:
    from sipas.publishing.official.documents import build_year

    return build_year(p, year)


def pdf_unavailable() -> str:
    """Why the Word files can have no PDF on this machine ('' when LibreOffice is there)."""
    from sipas.publishing.official.convert import MISSING, soffice

    return "" if soffice() else MISSING


def build_pdf(files: list[Path]) -> list[Path]:
    from sipas.publishing.official.convert import to_pdf

    return to_pdf([f for f in files if f.suffix == ".docx"])
