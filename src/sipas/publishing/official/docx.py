"""Word writing for the official documents: the layout of Decree 30/2020/NĐ-CP.

The page, the styles, the letterhead (issuing body and national motto) and the signer
block live in the templates ``params/templates/*.docx`` (a province edits them in Word;
``params/templates/make_templates.py`` regenerates the shipped ones). This module fills a
template's ``{placeholders}``, puts the content where ``{noi_dung}`` stands, and adds
what the layout asks of every document: page numbers centred in the top margin from the
second page, table header rows repeated on every page, rows never split across pages,
and, for a draft, "DỰ THẢO" in the header and as a watermark.

Files are byte-deterministic: fixed zip entry times and order, no dates in
``docProps/core.xml`` (:func:`save`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from sipas.base.io import write_office

FONT = "Times New Roman"
TABLE_STYLE = "Bảng - chữ"  # paragraph style of table text (12 pt), defined in the templates
BODY_MARK = "{noi_dung}"
DRAFT = "DỰ THẢO"
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")

_WATERMARK = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
    '<w:pict><v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" adj="10800" '
    'path="m@7,l@8,m@5,21600l@6,21600e"><v:path textpathok="t" o:connecttype="custom"/>'
    '<v:textpath on="t" fitshape="t"/></v:shapetype>'
    '<v:shape id="PowerPlusWaterMarkObject{n}" o:spid="_x0000_s20{n}" type="#_x0000_t136" '
    'style="position:absolute;margin-left:0;margin-top:0;width:430pt;height:110pt;rotation:315;'
    'z-index:-251654144;mso-position-horizontal:center;mso-position-horizontal-relative:margin;'
    'mso-position-vertical:center;mso-position-vertical-relative:margin" o:allowincell="f" '
    'fillcolor="#d9d9d9" stroked="f"><v:fill opacity=".5"/>'
    '<v:textpath style="font-family:&quot;Times New Roman&quot;;font-size:1pt;font-weight:bold" '
    'string="DỰ THẢO"/></v:shape></w:pict></w:r>')


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", str(text))


# ------------------------------------------------------------------ runs, paragraphs


def font_all_scripts(rpr) -> None:
    """Set :data:`FONT` for every script of a run's or style's properties (``w:rPr``), so
    Word does not fall back to another font for Vietnamese or East Asian text."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for a in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(a), FONT)


def set_run(run, size: float | None = None, bold: bool | None = None, italic: bool | None = None) -> None:
    run.font.name = FONT
    font_all_scripts(run._r.get_or_add_rPr())
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.font.bold = bold
    if italic is not None:
        run.font.italic = italic


def _fill_paragraph(p, values: dict[str, str]) -> None:
    """Replace ``{name}`` placeholders inside the runs of a paragraph (a placeholder is
    kept in one run by the templates; the run keeps its formatting)."""
    for run in p.runs:
        if "{" in run.text:
            run.text = _PLACEHOLDER.sub(lambda m: nfc(values.get(m.group(0)[1:-1], m.group(0))), run.text)


def _paragraphs(doc):
    yield from doc.paragraphs
    for t in doc.tables:
        for row in t.rows:
            for cell in row.cells:
                yield from cell.paragraphs


def _no_split(row, header: bool = False) -> None:
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))
    if header:
        trpr.append(OxmlElement("w:tblHeader"))


def _shade(cell, fill: str) -> None:
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.append(shd)


class Builder:
    """One document from a template: ``fill`` the placeholders, append content at
    ``{noi_dung}``, ``save`` deterministically."""

    def __init__(self, template: Path, values: dict[str, str], draft: bool):
        self.doc = Document(str(template))
        for p in list(_paragraphs(self.doc)):
            _fill_paragraph(p, values)
        self.marker = next((p for p in self.doc.paragraphs if BODY_MARK in p.text), None)
        if self.marker is None:
            from sipas.base.errors import ConfigError

            raise ConfigError(f"the template has no paragraph '{BODY_MARK}' for the content", file=template,
                              hint="put a paragraph holding {noi_dung} where the tables and text go")
        self.draft = draft
        self._page_numbers()
        if draft:
            self._mark_draft()

    # -- content, inserted before the marker
    def _place(self, element) -> None:
        self.marker._p.addprevious(element)

    def paragraph(self, text: str = "", style: str | None = None, bold: bool = False, italic: bool = False,
                  align: str | None = None, size: float | None = None, indent: bool = False, keep_next: bool = False):
        p = self.doc.add_paragraph(style=style)
        self._place(p._p)
        if text:
            set_run(p.add_run(nfc(text)), size=size, bold=bold or None, italic=italic or None)
        if align:
            p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
                           "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}[align]
        if indent:
            p.paragraph_format.first_line_indent = Mm(12.7)
        if keep_next:
            p.paragraph_format.keep_with_next = True
        return p

    def heading(self, text: str) -> None:
        self.paragraph(text, bold=True, keep_next=True)

    def text(self, sentences: list[str]) -> None:
        for s in sentences:
            self.paragraph(s, align="justify", indent=True)

    def page_break(self) -> None:
        from docx.enum.text import WD_BREAK

        self.paragraph().add_run().add_break(WD_BREAK.PAGE)

    def table(self, header: list[str], rows: list[list[str]], widths_mm: list[float], right: set[int] = frozenset(),
              groups: set[int] = frozenset(), bold_rows: set[int] = frozenset(), center: set[int] = frozenset()):
        """A bordered table in the table style: ``header`` repeated on every page, no row
        split; rows in ``groups`` span all columns (group rows, bold); ``right`` and
        ``center`` are column indexes."""
        t = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        self._place(t._tbl)
        t.style = self.doc.styles["Table Grid"]
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        t.autofit = False
        for j, w in enumerate(widths_mm):
            t.columns[j].width = Mm(w)
        style_id = self.doc.styles[TABLE_STYLE].style_id
        all_rows = [header] + rows
        for i, (row, values) in enumerate(zip(t.rows, all_rows)):
            _no_split(row, header=i == 0)
            cells = row.cells
            if i - 1 in groups and i > 0:
                merged = cells[0].merge(cells[-1])
                cells = [merged]
                values = [values[0]]
            for j, (cell, v) in enumerate(zip(cells, values)):
                cell.width = Mm(sum(widths_mm) if len(cells) == 1 and len(header) > 1 else widths_mm[j])
                p = cell.paragraphs[0]
                p._p.style = style_id  # (the style object's lookup is slow: 1 ms a cell)
                run = p.add_run(nfc(v))  # font and size from the table style
                if i == 0 or i - 1 in groups or i - 1 in bold_rows:
                    run.bold = True
                if len(cells) == 1 and len(header) > 1:
                    pass  # a group row: left, bold
                elif i == 0 or j in center:
                    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                elif j in right and len(cells) > 1:
                    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                if i == 0:
                    _shade(cell, "F2F2F2")
        return t

    # -- page furniture
    def _page_numbers(self) -> None:
        """Page number centred at the top from the second page (the first page's header stays empty)."""
        for section in self.doc.sections:
            section.different_first_page_header_footer = True
            header = section.header
            header.is_linked_to_previous = False
            p = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "2"), ("end", None)):
                r = p.add_run()
                set_run(r, size=13)
                if kind:
                    fc = OxmlElement("w:fldChar")
                    fc.set(qn("w:fldCharType"), kind)
                    r._r.append(fc)
                elif text.strip() == "PAGE":
                    it = OxmlElement("w:instrText")
                    it.set(qn("xml:space"), "preserve")
                    it.text = text
                    r._r.append(it)
                else:
                    r.text = text

    def _mark_draft(self) -> None:
        n = 0
        for section in self.doc.sections:
            for header in (section.first_page_header, section.header):
                header.is_linked_to_previous = False
                p = header.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                set_run(p.add_run(DRAFT), size=13, bold=True)
                n += 1
                p._p.append(parse_xml(_WATERMARK.replace("{n}", f"{n:02d}")))

    def save(self, path: Path) -> Path:
        self.marker._p.getparent().remove(self.marker._p)
        return save(self.doc, path)


def _no_dates(name: str, data: bytes) -> bytes:
    if name != "docProps/core.xml":
        return data
    data = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", data)
    return re.sub(rb"<dcterms:(created|modified)[^>]*/>", b"", data)


def save(doc, path: Path) -> Path:
    """Write ``doc`` byte-deterministically: fixed entry times (:func:`sipas.base.io.deterministic_zip`),
    no dates in core.xml."""
    doc.core_properties.revision = 1
    return write_office(path, doc, fix=_no_dates)
