"""The fast paths of the intake (issue 12, speed) give exactly what the plain ones gave:
the quarantine sheet written without openpyxl cells is openpyxl's XML byte for byte, and
CSV lines read a chunk at a time are the lines (NFC) of the whole text."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import pytest

from sipas.base.codebook import load_year
from sipas.intake import output
from sipas.intake.mapping import Codebook
from sipas.intake.readers import _lines

REPO = Path(__file__).resolve().parents[1]
TRICKY = ["", " lead", "trail ", "a & b < c > d", "dòng 1\r\ndòng 2\nba\rbốn", "=SUM(A1:A3)", "Phường Đoàn Kết",
          "emoji 😀 ok", '"quoted" \'x\'', "\t tab", "ﬁ ligature", "x" * 300]


def _sheet(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml")


@pytest.fixture(scope="module")
def cb():
    return Codebook.from_config(load_year(2023, REPO))


def test_quarantine_sheet_is_openpyxl_xml_byte_for_byte(cb, monkeypatch):
    cids = [c.id for c in cb.columns if c.kind != "personal"]
    rows = []
    for k, text in enumerate(TRICKY * 3):
        r = {"source_file": "f.csv", "source_sheet": "" if k % 2 else "Sở Y tế", "source_row": k + 2,
             "reason": "invalid_answer", "value": text, "detail": None if k % 3 else text}
        for j, cid in enumerate(cids):
            r[cid] = [text, k, k * 1.5, None, -3, 1e20, 0.1][(j + k) % 7]
        rows.append(r)
    fast = output.quarantine_xlsx(rows, cb)
    monkeypatch.setattr(output, "_plain", lambda v: False)     # every cell through openpyxl
    slow = output.quarantine_xlsx(rows, cb)
    assert _sheet(fast) == _sheet(slow)
    assert fast == slow       # small sheets: same deflate level, same bytes


def test_quarantine_with_a_date_cell_goes_through_openpyxl(cb):
    import datetime as dt

    assert not output._plain(dt.date(2023, 8, 1)) and not output._plain(True) and not output._plain("a\x01")
    assert output._plain("a\tb\n") and output._plain(3) and output._plain(2.5) and not output._plain(float("nan"))


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_lines_by_chunks_are_the_lines_of_the_whole_text(chunk):
    nfd = unicodedata.normalize("NFD", "Phường Đoàn Kết, Thành phố Lai Châu")
    text = f"a,b\r\n{nfd},2\n\"x\ry\",3\rlast,{nfd}" * 5
    want = [unicodedata.normalize("NFC", line) for line in io.StringIO(text, newline="")]
    assert list(_lines(text, chunk)) == want
    assert "".join(_lines(text, chunk)) == unicodedata.normalize("NFC", text)
    assert list(_lines(text + "\n", chunk))[-1].endswith("\n")
