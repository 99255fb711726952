"""PDF annexes: A4, Vietnamese text with its diacritics, fonts embedded, the same SIPAS
figure as the tables; a clear reason when no browser is there."""

from __future__ import annotations

import shutil
import unicodedata

import pytest

from sipas.base import formats as fmt
from sipas.publishing import pdf
from sipas.publishing.report import Report

from .annex_project import DISTRICT, UNIT, published

pypdf = pytest.importorskip("pypdf")
needs_chromium = pytest.mark.skipif(
    not any(shutil.which(c) for c in pdf.CANDIDATES),
    reason="Chromium is not installed (run scripts/setup-system.sh; `make setup` does it)")


@pytest.fixture(scope="module")
def root(demo, tmp_path_factory):
    return published(demo, tmp_path_factory.getbasetemp())


def _text(path) -> str:
    reader = pypdf.PdfReader(path)
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


def _fonts(path) -> dict[str, bool]:
    out = {}
    for page in pypdf.PdfReader(path).pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            f = f.get_object()
            desc = f.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in f:
                desc = f["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            out[str(f["/BaseFont"])] = any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return out


@needs_chromium
@pytest.mark.parametrize("unit", [UNIT, DISTRICT])
def test_unit_pdf(root, unit, tmp_path):
    rep = Report(2023, root)
    html = root / "outputs" / "2023" / "units" / f"{unit}.html"
    out = pdf.render_pdf(html, tmp_path / f"{unit}.pdf")
    reader = pypdf.PdfReader(out)
    w, h = (float(x) for x in reader.pages[0].mediabox[2:])
    assert abs(w - 595) < 3 and abs(h - 842) < 3  # A4 in points
    assert 2 <= len(reader.pages) <= 20
    text = _text(out)
    assert rep.unit(unit).name in text  # with its diacritics (Sở Tư pháp, Huyện Tam Đường)
    assert fmt.pct(rep.value(unit)) in text
    assert "Tóm tắt" in text and "Trang 1/" in text
    fonts = _fonts(out)
    assert fonts and all(fonts.values()), fonts  # every font embedded
    assert any("DejaVu" in f for f in fonts)


@needs_chromium
def test_province_pdf(root, tmp_path):
    rep = Report(2023, root)
    out = pdf.render_pdf(root / "outputs" / "2023" / "province.html", tmp_path / "province.pdf")
    text = _text(out)
    assert f"tỉnh {rep.province}" in text and fmt.pct(rep.value("province")) in text
    assert "Kiến nghị" in text and "Hạn chế" in text


def test_no_browser_is_a_clear_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("SIPAS_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(pdf.PdfUnavailable) as err:
        pdf.find_chromium()
    assert "no-such-browser" in err.value.reason
    monkeypatch.delenv("SIPAS_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pdf.PdfUnavailable) as err:
        pdf.find_chromium()
    assert "setup-system.sh" in err.value.reason


@needs_chromium
def test_pdf_carries_no_creation_date(root, tmp_path):
    """Chromium stamps /CreationDate and /ModDate; render_pdf sets both to 1980, digit for
    digit, and the file stays valid. (Chromium's tagged-PDF structure tree is not always
    byte-stable between two prints under load, so PDFs are compared by text, not bytes.)"""
    html = root / "outputs" / "2023" / "units" / f"{UNIT}.html"
    pdf.render_pdf(html, tmp_path / "a.pdf")
    meta = pypdf.PdfReader(tmp_path / "a.pdf").metadata
    assert meta["/CreationDate"].startswith("D:19800101000000") and meta["/ModDate"].startswith("D:19800101")


def test_undated_keeps_length_and_replaces_only_dates():
    raw = b"%PDF-1.4\n<</Producer (Skia/PDF m150)\n/CreationDate (D:20261202204634+00'00')\n/ModDate (D:2026)>>"
    out = pdf.undated(raw)
    assert len(out) == len(raw)
    assert out == raw.replace(b"20261202204634", b"19800101000000").replace(b"(D:2026)", b"(D:1980)")
