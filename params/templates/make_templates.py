"""Generate the shipped Word templates of the official documents (run from the project root):

    .venv/bin/python params/templates/make_templates.py

Writes ``bao-cao.docx`` (the report: portrait, with the signer block), ``phu-luc.docx``
(Phụ lục I–III: landscape, wide tables) and ``phu-luc-doc.docx`` (Phụ lục IV and the
unit annexes: portrait). A province then edits these files in Word — letterhead,
signer block, recipients, fonts, wording — and never needs this script again; it is kept
so the shipped templates can be regenerated and reviewed as code.

Layout: Decree 30/2020/NĐ-CP, Appendix I (thể thức và kỹ thuật trình bày văn bản hành
chính): A4; margins top 20 mm, bottom 20 mm, left 30 mm, right 15 mm; Times New Roman,
text 14 pt, tables 12 pt; the issuing body (upper case, bold, 13 pt) top left, the
national motto top right ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" upper case bold 13 pt,
"Độc lập - Tự do - Hạnh phúc" bold 14 pt), each with a short rule under it.

Placeholders, filled by ``sipas.publishing.official.documents``: ``{so_hieu}`` (number
line), ``{dia_danh_ngay}`` (place and date), ``{loai}`` ("BÁO CÁO", "Phụ lục I"),
``{tieu_de}`` (title), ``{kem_theo}`` ("(Kèm theo Quyết định số …)"), ``{noi_dung}``
(where the text and tables go), ``{ky_thay}``, ``{ky_chuc_vu}``, ``{ky_ten}`` (signer).
Keep each placeholder in one piece of formatting when editing (retype it whole).
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
from sipas.publishing.official.docx import FONT, TABLE_STYLE, font_all_scripts, save, set_run  # noqa: E402

ISSUER = ["ỦY BAN NHÂN DÂN", "TỈNH LAI CHÂU"]
MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
RECIPIENTS = ["- Như Điều 3 Quyết định;", "- Vụ CCHC Bộ Nội vụ (b/c);", "- Thường trực Tỉnh ủy (b/c);",
              "- Chủ tịch, các Phó Chủ tịch UBND tỉnh;", "- Các sở, ban, ngành tỉnh;",
              "- UBND các huyện, thành phố;", "- Lưu: VT, KS."]


def _style_fonts(style, size: float) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    font_all_scripts(style.element.get_or_add_rPr())


def _no_borders(table) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        b = OxmlElement(f"w:{side}")
        b.set(qn("w:val"), "nil")
        borders.append(b)
    tblpr.append(borders)


def _rule(after, indent_mm: float) -> None:
    """A short horizontal rule under a paragraph: an empty 2-pt paragraph with a bottom
    border, indented both sides, added to the same cell or document."""
    p = after._parent.add_paragraph()
    p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.space_before = Pt(0)
    p.paragraph_format.line_spacing = Pt(2)
    ppr = p._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(k), v)
    bdr.append(bottom)
    ppr.append(bdr)
    p.paragraph_format.left_indent = Mm(indent_mm)
    p.paragraph_format.right_indent = Mm(indent_mm)


def _line(cell_or_doc, text: str, size: float, bold=False, italic=False, first=False, align="center"):
    p = cell_or_doc.paragraphs[0] if first else cell_or_doc.add_paragraph()
    p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "left": WD_ALIGN_PARAGRAPH.LEFT}[align]
    p.paragraph_format.space_after = Pt(0)
    if text:
        set_run(p.add_run(text), size=size, bold=bold or None, italic=italic or None)
    return p


def build(name: str, landscape: bool, signer: bool) -> Path:
    doc = Document()
    normal = doc.styles["Normal"]
    _style_fonts(normal, 14)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.MULTIPLE
    normal.paragraph_format.line_spacing = 1.1
    ts = doc.styles.add_style(TABLE_STYLE, 1)  # paragraph style
    ts.base_style = normal
    _style_fonts(ts, 12)
    ts.paragraph_format.space_after = Pt(0)
    ts.paragraph_format.space_before = Pt(0)
    ts.paragraph_format.line_spacing = 1.0
    for s in ("Header", "Footer"):
        _style_fonts(doc.styles[s], 13)

    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    sec.header_distance, sec.footer_distance = Mm(10), Mm(10)
    width = (297 if landscape else 210) - 45

    head = doc.add_table(rows=2, cols=2)
    _no_borders(head)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    left_w, right_w = Mm(width * 0.38), Mm(width * 0.62)
    head.autofit = False
    head.columns[0].width, head.columns[1].width = left_w, right_w
    for row in head.rows:
        row.cells[0].width, row.cells[1].width = left_w, right_w
    c = head.cell(0, 0)
    _line(c, ISSUER[0], 13, bold=True, first=True)
    _rule(_line(c, ISSUER[1], 13, bold=True), width * 0.38 * 0.3)
    c = head.cell(0, 1)
    _line(c, MOTTO, 13, bold=True, first=True)
    _rule(_line(c, MOTTO_2, 14, bold=True), width * 0.62 * 0.22)
    _line(head.cell(1, 0), "{so_hieu}", 13, first=True)
    _line(head.cell(1, 1), "{dia_danh_ngay}", 14, italic=True, first=True)

    doc.add_paragraph()
    _line(doc, "{loai}", 14, bold=True)
    _line(doc, "{tieu_de}", 14, bold=True)
    _line(doc, "{kem_theo}", 14, italic=True)
    _rule(_line(doc, "", 14), width * 0.42)
    doc.add_paragraph()
    doc.add_paragraph("{noi_dung}")
    if signer:
        doc.add_paragraph()
        sig = doc.add_table(rows=1, cols=2)
        _no_borders(sig)
        sig.autofit = False
        sig.columns[0].width = sig.columns[1].width = Mm(width * 0.5)
        sig.rows[0].cells[0].width, sig.rows[0].cells[1].width = Mm(width * 0.5), Mm(width * 0.5)
        c = sig.cell(0, 0)
        _line(c, "Nơi nhận:", 12, bold=True, italic=True, first=True, align="left")
        for r in RECIPIENTS:
            _line(c, r, 11, align="left")
        c = sig.cell(0, 1)
        _line(c, "{ky_thay}", 14, bold=True, first=True)
        _line(c, "{ky_chuc_vu}", 14, bold=True)
        for _ in range(4):
            _line(c, "", 14)
        _line(c, "{ky_ten}", 14, bold=True)
    cp = doc.core_properties
    cp.author = cp.last_modified_by = "sipas"
    cp.title = name
    return save(doc, HERE / name)


def main() -> None:
    for name, landscape, signer in (("bao-cao.docx", False, True), ("phu-luc.docx", True, False),
                                    ("phu-luc-doc.docx", False, False)):
        print(build(name, landscape, signer))


if __name__ == "__main__":
    main()
