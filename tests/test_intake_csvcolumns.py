"""The CSV fast path (:mod:`sipas.intake.csvcolumns`): where it is taken, a file reads
exactly as the row reader (Python's csv module) reads it — cells, line numbers, header —
and where equivalence cannot be shown (a blank line, a shifted row, stray quotes, a lone
carriage return, another encoding, a title row above the header) the row reader is used."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from sipas.base.codebook import load_year
from sipas.intake import readers, run_intake, samples
from sipas.intake.csvcolumns import ColumnRows
from sipas.intake.mapping import Codebook
from sipas.intake.normalize import clean_text
from sipas.intake.validate import header_score

REPO = Path(__file__).resolve().parents[1]
YEAR = 2023


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


@pytest.fixture(scope="module")
def cb(cfg):
    return Codebook.from_config(cfg)


@pytest.fixture(scope="module")
def base(cfg) -> bytes:
    """A questionnaire file as offices export it (BOM, CRLF), 12 rows."""
    rows = samples.sample_rows(cfg, per_unit=3, units=["tp-lai-chau", "muong-te", "so-tu-phap", "ban-qlkkt"],
                               seed=5)
    return samples.to_csv(cfg, rows)


def read(path: Path, cb):
    return readers.read_file(path, header_score(cb.match_header), cb.match_header)[0]


def outcome(path: Path, cb):
    """The table read, or the message of the error raised."""
    try:
        return read(path, cb)
    except readers.IntakeError as exc:
        return exc.message


def row_reader(path: Path, cb, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(readers, "_columnar", lambda *a: None)
        return read(path, cb)


def same_table(a, b) -> None:
    assert a.headers == b.headers and a.header_row == b.header_row and a.notes == b.notes
    assert a.row_numbers == b.row_numbers
    assert [list(r) for r in a.rows] == [list(r) for r in b.rows]


def lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def write(tmp_path: Path, data: bytes, name: str = "phieu.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def comment_at(data: bytes, k: int, text: str) -> bytes:
    """Line ``k`` (1 = header) with its last cell (the comment) set to ``text``."""
    ls = lines(data)
    cells = next(csv.reader([ls[k - 1].decode("utf-8-sig")]))
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells[:-1])
    ls[k - 1] = (out.getvalue() + "," + text).encode("utf-8")
    return b"\r\n".join(ls)


def test_plain_file_fast_and_identical(tmp_path, cb, base, monkeypatch):
    f = write(tmp_path, base)
    fast, slow = read(f, cb), row_reader(f, cb, monkeypatch)
    assert isinstance(fast.rows, ColumnRows) and not isinstance(slow.rows, ColumnRows)
    same_table(fast, slow)
    assert fast.row_numbers == list(range(2, 14))


def test_multiline_quoted_comment_shifts_the_next_line_numbers(tmp_path, cb, base, monkeypatch):
    data = comment_at(base, 3, '"Cán bộ ""nhiệt tình"",\r\nmột dòng nữa\nvà một dòng, nữa"')
    f = write(tmp_path, data)
    fast, slow = read(f, cb), row_reader(f, cb, monkeypatch)
    assert isinstance(fast.rows, ColumnRows)
    same_table(fast, slow)
    assert fast.row_numbers[:4] == [2, 3, 6, 7]          # the record of line 3 spans lines 3-5
    assert fast.rows[1][-1] == 'Cán bộ "nhiệt tình",\r\nmột dòng nữa\nvà một dòng, nữa'


def test_rows_of_empty_cells_dropped_as_by_the_row_reader(tmp_path, cb, base, monkeypatch):
    ls = lines(base)
    width = len(next(csv.reader([ls[0].decode("utf-8-sig")]))) - 1     # commas of a row
    data = b"\r\n".join([*ls[:4], b"," * width, b" " + b"," * width, *ls[4:]])
    f = write(tmp_path, data)
    fast, slow = read(f, cb), row_reader(f, cb, monkeypatch)
    assert isinstance(fast.rows, ColumnRows)
    same_table(fast, slow)
    assert fast.row_numbers[2:4] == [4, 7]


@pytest.mark.parametrize("case", ["blank line", "blank line at the end", "shifted row", "short row", "stray quote",
                                  "text after a closing quote", "lone CR", "NUL", "title row", "Windows-1258",
                                  "mojibake"])
def test_fallback_to_the_row_reader(tmp_path, cb, base, monkeypatch, case):
    ls = lines(base)
    data = {
        "blank line": lambda: b"\r\n".join([*ls[:5], b"", *ls[5:]]),
        "blank line at the end": lambda: base + b"\r\n\r\n",
        "shifted row": lambda: b"\r\n".join([*ls[:5], ls[5] + b",extra", *ls[6:]]),
        "short row": lambda: b"\r\n".join([*ls[:5], ls[5][: ls[5].rfind(b",")], *ls[6:]]),
        "stray quote": lambda: comment_at(base, 4, 'cán bộ nói "tốt"'),
        "text after a closing quote": lambda: comment_at(base, 4, '"tốt" lắm'),
        "lone CR": lambda: comment_at(base, 4, '"một\rhai"'),
        "NUL": lambda: comment_at(base, 4, "a\x00b"),
        "title row": lambda: "KẾT QUẢ KHẢO SÁT\r\n".encode() + base,
        "Windows-1258": lambda: (REPO / "tests/intake_corpus/cp1258.csv").read_bytes(),
        "mojibake": lambda: base[3:].decode("utf-8").encode("utf-8").decode("cp1252", errors="ignore")
                                                .encode("utf-8"),
    }[case]()
    f = write(tmp_path, data)
    fast = outcome(f, cb)
    with monkeypatch.context() as m:
        m.setattr(readers, "_columnar", lambda *a: None)
        slow = outcome(f, cb)
    if isinstance(slow, str):           # refused by the row reader: refused alike
        assert fast == slow
        return
    assert not isinstance(fast.rows, ColumnRows)
    same_table(fast, slow)
    if case == "blank line":
        assert fast.row_numbers[3:5] == [5, 7]           # line 6 is blank


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_delimiters_and_no_bom(tmp_path, cfg, cb, monkeypatch, delim):
    rows = samples.sample_rows(cfg, per_unit=2, units=["tp-lai-chau", "so-tu-phap"], seed=9)
    rows[0]["comment"] = 'có dấu; phẩy, tab\tvà "ngoặc"'
    f = write(tmp_path, samples.to_csv(cfg, rows, delimiter=delim, bom=False))
    fast = read(f, cb)
    assert isinstance(fast.rows, ColumnRows)
    same_table(fast, row_reader(f, cb, monkeypatch))


def test_header_and_delimiter_from_the_first_lines_only(tmp_path, cfg, cb, monkeypatch):
    """A file larger than what the fast path decodes for its header: same table."""
    rows = samples.sample_rows(cfg, per_unit=200, units=["tp-lai-chau", "muong-te", "so-tu-phap", "ban-qlkkt"],
                               seed=3)
    rows[350]["comment"] = "dòng một\r\ndòng hai"
    f = write(tmp_path, samples.to_csv(cfg, rows))
    size = f.stat().st_size
    monkeypatch.setattr(readers, "HEAD_BYTES", size * 2 // 3)    # more than 300 records, not all
    assert f.read_bytes()[: size * 2 // 3].count(b"\r\n") > 320
    fast = read(f, cb)
    assert isinstance(fast.rows, ColumnRows)
    same_table(fast, row_reader(f, cb, monkeypatch))


def test_nfc_of_cells(tmp_path, cb, base, monkeypatch):
    decomposed = "Cán bộ tận tình".replace("á", "a\u0301").replace("ậ", "a\u0323\u0302")
    f = write(tmp_path, comment_at(base, 2, decomposed))
    fast = read(f, cb)
    assert isinstance(fast.rows, ColumnRows)
    assert fast.rows[0][-1] == "Cán bộ tận tình"
    same_table(fast, row_reader(f, cb, monkeypatch))


def test_run_intake_identical_outputs(tmp_path, cfg, monkeypatch):
    """Quarantined rows (a shifted answer, a multi-line comment with a phone number above
    them) give the same files through both readers."""
    rows = samples.sample_rows(cfg, per_unit=4, units=["tp-lai-chau", "muong-te", "so-tu-phap", "ban-qlkkt"], seed=2)
    rows[1]["comment"] = "gọi tôi\r\n0912 345 678\nnhé"
    rows[4]["c1_1"] = "7"
    rows[6]["interview_date"] = "31/02/2023"
    data = samples.to_csv(cfg, rows)
    out = {}
    for how in ("fast", "rows"):
        root = tmp_path / how
        shutil.copytree(REPO / "params", root / "params")
        f = write(root, data)
        with monkeypatch.context() as m:
            if how == "rows":
                m.setattr(readers, "_columnar", lambda *a: None)
            res = run_intake(YEAR, [str(f)], root=root)
        assert res.quarantined == 2
        d = root / "data/processed/2023"
        out[how] = {n: (d / n).read_bytes() for n in ("responses.parquet", "quarantine.xlsx", "validation.json")}
    assert out["fast"] == out["rows"]
    report = json.loads(out["fast"]["validation.json"])
    assert [q["row"] for q in report["quarantined"]] == [8, 10]   # lines after the 3-line comment


def test_clean_text_spaces_as_before():
    """``clean_text`` of text by ``str.split``: the same as the regular expression it replaced
    for every kind of space (and none other)."""
    spaces = re.compile(r"\s+")
    chars = "".join(chr(c) for c in range(0x3000 + 1) if chr(c).isspace() or re.fullmatch(r"\s", chr(c)))
    assert all(c.isspace() and re.fullmatch(r"\s", c) for c in chars)
    for s in ["", " ", "a", f"{chars}a{chars}b{chars}", "\u00a0x\u00a0 y\u2009", "\u200bz", "x\ufeff y", "Mã  phiếu\t"]:
        old = spaces.sub(" ", s.replace("\u00a0", " ")).strip() or None
        assert clean_text(s) == old, repr(s)
