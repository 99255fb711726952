"""PDF of the official documents through LibreOffice: A4 pages, Liberation Serif
embedded, Vietnamese text (NFC, every diacritic) and the Word file's figures in the text,
page numbers from page 2; one PNG per document kind left in outputs/screenshots/."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest
from docx import Document

from sipas.base.config import paths
from sipas.publishing.official.convert import soffice, to_pdf
from sipas.publishing.official.documents import build_year

from .annex_project import SCREENSHOTS, UNIT, published

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed (scripts/setup-system.sh installs "
                                                 "libreoffice-writer-nogui; `make setup` does it)"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed"),
]
KINDS = {"bao-cao-2023": "report", "phu-luc-i-2023": "ranking", "phu-luc-iii-2023": "criteria",
         "phu-luc-iv-2023": "sample", UNIT: "unit"}


@pytest.fixture(scope="module")
def pdfs(demo, tmp_path_factory):
    root = published(demo, tmp_path_factory.getbasetemp())
    out = tmp_path_factory.mktemp("official-pdf")
    docs = [d for d in build_year(paths(root), 2023, out_dir=out) if d.stem in KINDS]
    return dict(zip(docs, to_pdf(docs)))


def _run(*cmd) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_pages_fonts_text(pdfs):
    for docx_file, pdf in pdfs.items():
        info = _run("pdfinfo", str(pdf))
        pages = int(next(x for x in info.splitlines() if x.startswith("Pages:")).split()[1])
        size = next(x for x in info.splitlines() if x.startswith("Page size:"))
        assert "(A4)" in size, size
        assert pages >= 2, pdf.name
        fonts = _run("pdffonts", str(pdf))
        assert "LiberationSerif" in fonts and all(" yes " in x for x in fonts.splitlines()[2:]), fonts
        text = " ".join(unicodedata.normalize("NFC", _run("pdftotext", str(pdf), "-")).split())
        assert _run("pdftotext", str(pdf), "-") == unicodedata.normalize("NFC", _run("pdftotext", str(pdf), "-"))
        for line in ("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "DỰ THẢO", "Ủy ban nhân dân tỉnh Lai Châu"):
            assert line in text, (pdf.name, line)
        doc = Document(str(docx_file))
        grid = [t for t in doc.tables if t.style is not None and t.style.name == "Table Grid"]
        first = [c.text for c in grid[0].rows[2 if KINDS[pdf.stem] != "unit" else 1].cells]
        for v in filter(None, first):
            assert v.split()[0] in text, (pdf.name, v)
        page2 = _run("pdftotext", "-f", "2", "-l", "2", "-layout", str(pdf), "-").strip().splitlines()
        assert page2[0].split()[0] == "2", (pdf.name, page2[:2])   # page number at the top from page 2
        page1 = _run("pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-").strip().splitlines()
        assert page1[0].split() == ["DỰ", "THẢO"], page1[:2]


def test_screenshots(pdfs):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for pdf in pdfs.values():
        target = SCREENSHOTS / f"official-{KINDS[pdf.stem]}"
        _run("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(target))
        assert target.with_suffix(".png").stat().st_size > 20_000
