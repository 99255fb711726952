"""HTML annex -> A4 PDF, printed by headless Chromium (:mod:`sipas.publishing.chromium`).

Skia embeds the subset of every font it draws with, so the Vietnamese glyphs travel
inside the PDF; the house CSS (``assets/sipas.css``, ``@media print``) sets A4, keeps
table rows, figures and headings from being cut, and repeats table headers on each
page. Each page is printed with the same footer (title, page x/y) and its metadata
dates fixed (:func:`undated`), so the same page prints to the same bytes. A batch of
annexes shares one browser per process: each PDF costs a few tenths of a second.

When no browser is found :func:`render_pdf` raises :class:`PdfUnavailable` with the
reason, so a run can say why and still deliver HTML and Excel.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from sipas.publishing.chromium import CANDIDATES, Browser, BrowserError, PageLog, PdfUnavailable, browser, find_chromium

A4_INCHES = (8.27, 11.69)
FOOTER = ('<div style="font-family:\'DejaVu Sans\',sans-serif;font-size:7pt;color:#5d6d7e;width:100%;'
          'padding:0 15mm;display:flex;justify-content:space-between">'
          '<span class="title"></span><span>Trang <span class="pageNumber"></span>/'
          '<span class="totalPages"></span></span></div>')


def print_params(title: str = "") -> dict:
    """The ``Page.printToPDF`` parameters of every page: A4, margins, the footer with ``title``."""
    footer = FOOTER.replace('<span class="title"></span>', f"<span>{html.escape(title)}</span>")
    return {"paperWidth": A4_INCHES[0], "paperHeight": A4_INCHES[1], "preferCSSPageSize": True,
            "printBackground": True, "displayHeaderFooter": True, "headerTemplate": "<span></span>",
            "footerTemplate": footer, "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6,
            "marginRight": 0.6, "generateDocumentOutline": True, "generateTaggedPDF": True}


def render_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print an HTML annex to an A4 PDF (fonts embedded); returns ``pdf_path``.

    Raises :class:`PdfUnavailable` when no browser can be started. The PDF is written
    atomically; its metadata carry no date, so a re-run gives the same text.
    """
    from sipas.base.io import atomic_path

    html_path = Path(html_path)
    if not html_path.is_file():
        raise FileNotFoundError(html_path)
    b = browser()
    try:
        with b.open(html_path) as tab:
            title = tab.evaluate("document.title") or ""
            data = tab.print_pdf(print_params(title))
    except BrowserError as exc:
        raise PdfUnavailable(f"Chromium failed to print {html_path.name}: {exc}") from None
    with atomic_path(pdf_path) as tmp:
        tmp.write_bytes(undated(data))
    return Path(pdf_path)


_PDF_DATE = re.compile(rb"(/(?:CreationDate|ModDate)\s*\(D:)(\d{4,14})")


def undated(pdf: bytes) -> bytes:
    """The PDF with its creation and modification dates set to 1980-01-01 00:00:00, so
    that the same page prints to the same bytes. Digits are replaced one for one: the
    file keeps its length and its cross-reference offsets stay valid."""
    return _PDF_DATE.sub(lambda m: m.group(1) + b"19800101000000"[: len(m.group(2))], pdf)


def available() -> str | None:
    """``None`` when PDFs can be made here, else the reason they cannot."""
    try:
        browser()
    except PdfUnavailable as exc:
        return exc.reason
    return None


__all__ = ["CANDIDATES", "Browser", "BrowserError", "PageLog", "PdfUnavailable", "available", "browser",
           "find_chromium", "print_params", "render_pdf", "undated"]
