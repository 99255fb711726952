"""PDF of the official documents, made from the Word files themselves with LibreOffice
headless (Debian's ``libreoffice-writer-nogui``), so the two never disagree.

Times New Roman is replaced by its metric-compatible Liberation Serif (``fonts-liberation``),
embedded in every PDF. One ``soffice`` process converts all the files of a call (a start
costs about 1.5 s), with a private profile folder, so parallel runs do not share one.
``SIPAS_SOFFICE`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sipas.base.errors import SipasError
from sipas.base.io import atomic_path

MISSING = ("LibreOffice is not installed (no `soffice`), so the official documents have no PDF: "
           "run `make setup` (scripts/setup-system.sh installs libreoffice-writer-nogui and fonts-liberation); "
           "the Word files are written all the same")


class NoLibreOffice(SipasError):
    pass


def soffice() -> str | None:
    env = os.environ.get("SIPAS_SOFFICE")
    if env:
        return env if shutil.which(env) else None
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(files: list[Path], timeout: float = 600) -> list[Path]:
    """Convert ``files`` (.docx) to PDF beside each; returns the PDFs."""
    exe = soffice()
    if exe is None:
        raise NoLibreOffice(MISSING)
    files = [Path(f) for f in files]
    if not files:
        return []
    names = [f.stem for f in files]
    if len(set(names)) != len(names):
        raise ValueError("two documents with the same name in one conversion")
    with tempfile.TemporaryDirectory(prefix="sipas-soffice-") as tmp:
        profile = Path(tmp) / "profile"
        out = Path(tmp) / "out"
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nologo",
               "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(out), *map(str, files)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": tmp, "SAL_USE_VCLPLUGIN": "svp"})
        pdfs = []
        for f in files:
            made = out / f"{f.stem}.pdf"
            if not made.is_file():
                raise RuntimeError(f"LibreOffice wrote no PDF for {f.name} (exit {proc.returncode}): "
                                   f"{(proc.stderr or proc.stdout).strip()[-400:]}")
            target = f.with_suffix(".pdf")
            with atomic_path(target) as t:
                shutil.copyfile(made, t)
            pdfs.append(target)
    return pdfs
