"""The Excel annex read back equals the tidy tables; Vietnamese headers, formats, frozen headers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.estimation.tables import read_table
from sipas.publishing.excel import read_sheet, write_workbook

from .annex_project import published


@pytest.fixture(scope="module")
def book(demo, tmp_path_factory):
    root = published(demo, tmp_path_factory.getbasetemp())
    cfg = YearConfig(2023, paths(root))
    return cfg, write_workbook(cfg)


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_workbook_sheets_headers_formats(book):
    cfg, path = book
    assert path == cfg.paths.outputs(2023) / "phu-luc-2023.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames[:4] == ["Phụ lục I", "Phụ lục II", "Phụ lục III", "Phụ lục IV"]
    for name in wb.sheetnames[:5]:
        ws = wb[name]
        assert ws.freeze_panes == "A5", name
        assert ws["A1"].value.startswith(name), name
        assert ws["A4"].font.bold
    ws = wb["Phụ lục I"]
    headers = [c.value for c in ws[4]]
    assert headers[:5] == ["STT", "Hạng", "Đơn vị", "Mã đơn vị", "Chỉ số chung (SIPAS)"]
    assert headers[-3:] == ["Khoảng hạng", "Thay đổi thứ hạng so với năm trước", "Đạt từ 90,00% trở lên"]
    assert ws.cell(row=5, column=1).value == "I" and ws.cell(row=5, column=3).value == "Các sở, ban, ngành"
    assert ws.cell(row=6, column=1).value == 1 and ws.cell(row=6, column=5).number_format == "0.00%"
    assert "sở, ban, ngành" in ws["A1"].value and "UBND" in wb["Phụ lục II"]["A1"].value


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_rankings_equal_the_tidy_table(book):
    cfg, path = book
    indices = read_table(2023, "indices", cfg.paths)
    for sheet, unit_type in (("Phụ lục I", "department"), ("Phụ lục II", "district")):
        got = read_sheet(path, sheet)
        assert got["STT"].iloc[0] == sheet.split()[-1] and pd.isna(got["Mã đơn vị"].iloc[0])  # the group row
        got = got.iloc[1:].reset_index(drop=True)
        assert list(got["STT"]) == list(range(1, len(got) + 1))
        ids = [u.id for u in cfg.units if u.type == unit_type]
        want = indices[indices.unit_id.isin(ids) & (indices.item_id == "sipas")].set_index("unit_id")
        assert sorted(got["Mã đơn vị"]) == sorted(ids)
        assert (np.diff(got["Chỉ số chung (SIPAS)"].to_numpy()) <= 0).all()  # ranked
        assert got["Hạng"].iloc[0] == 1
        for uid, v, flag in zip(got["Mã đơn vị"], got["Chỉ số chung (SIPAS)"], got["Đạt từ 90,00% trở lên"]):
            assert v == want.loc[uid, "estimate"]  # exactly the same float
            assert (flag == "Đạt") == (v >= 0.9)
        e1 = indices[(indices.unit_id == got["Mã đơn vị"].iloc[0]) & (indices.item_id == "e1")].estimate.iloc[0]
        assert got[cfg.methodology.short_labels()["e1"]].iloc[0] == e1


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_criteria_sheet_equals_indices(book):
    cfg, path = book
    indices = read_table(2023, "indices", cfg.paths)
    got = read_sheet(path, "Phụ lục III")
    assert len(got) == len(indices)
    assert list(got["Mã đơn vị"]) == list(indices.unit_id)
    assert list(got["Mã chỉ số"]) == list(indices.item_id)
    np.testing.assert_array_equal(got["Tỷ lệ hài lòng"].to_numpy(dtype=float), indices.estimate.to_numpy(dtype=float))
    assert list(got["Số câu trả lời hợp lệ"]) == list(indices.n)
    if "ci_low" in indices:
        np.testing.assert_array_equal(got["Cận dưới KTC"].to_numpy(dtype=float), indices.ci_low.to_numpy(dtype=float))
    assert set(got["Cấp chỉ số"]) <= {"Chỉ số chung", "Khía cạnh", "Yếu tố", "Tiêu chí"}


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_sample_sheet_equals_sample_table(book):
    cfg, path = book
    sample = read_table(2023, "sample", cfg.paths)
    got = read_sheet(path, "Phụ lục IV")
    assert list(got["Mã đơn vị"]) == list(sample.unit_id)
    for col, tidy in (("Số lượt phục vụ (N)", "served"), ("Cỡ mẫu dự kiến", "target"), ("Số phiếu hợp lệ", "achieved")):
        assert list(got[col]) == list(sample[tidy]), col
    prof = read_sheet(path, "Phụ lục IV (tiếp)")
    tidy = read_table(2023, "profile", cfg.paths)
    assert len(prof) == len(tidy) and list(prof["Số người"]) == list(tidy.n)


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_workbook_is_deterministic(book):
    cfg, path = book
    first = pd.read_excel(path, sheet_name=None, header=3)
    again = write_workbook(cfg)
    second = pd.read_excel(again, sheet_name=None, header=3)
    assert first.keys() == second.keys()
    for k in first:
        pd.testing.assert_frame_equal(first[k], second[k])


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_workbook_is_byte_identical_across_saves(book):
    """openpyxl dates the zip entries and docProps/core.xml at save time; the writer
    fixes both, so a save two seconds later (zip times have 2 s resolution) is the same file."""
    import time
    import zipfile

    cfg, path = book
    first = path.read_bytes()
    time.sleep(2.1)
    assert write_workbook(cfg).read_bytes() == first
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2023-12-31T00:00:00Z" in core


def test_deterministic_zip_fixes_dates_and_keeps_content(tmp_path):
    import zipfile

    from sipas.base.io import deterministic_zip, fixed_core_dates

    f = tmp_path / "a.docx"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr(zipfile.ZipInfo("word/document.xml", (2026, 12, 2, 10, 0, 0)), "<w:document>Đoàn Kết</w:document>")
        z.writestr(zipfile.ZipInfo("docProps/core.xml", (2026, 12, 2, 10, 0, 0)),
                   '<cp><dcterms:created xsi:type="dcterms:W3CDTF">2026-12-02T10:00:00Z</dcterms:created>'
                   '<dcterms:modified xsi:type="dcterms:W3CDTF">2026-12-02T10:00:01Z</dcterms:modified></cp>')
    f.write_bytes(deterministic_zip(f.read_bytes(), fixed_core_dates("2023-12-29T00:00:00Z")))
    with zipfile.ZipFile(f) as z:
        assert [i.filename for i in z.infolist()] == ["word/document.xml", "docProps/core.xml"]
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.read("word/document.xml").decode() == "<w:document>Đoàn Kết</w:document>"
        core = z.read("docProps/core.xml").decode()
    assert core.count("2023-12-29T00:00:00Z") == 2 and "2026" not in core
