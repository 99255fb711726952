"""Annex content: Vietnamese figures, escaping of free text, wording that follows the
tests, a table without a column it must have stops the page, front doors."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pytest

from sipas.base import formats as fmt
from sipas.base.errors import SipasError
from sipas.publishing.annex import UnitAnnex
from sipas.publishing.report import Report, redact, table_html

from .annex_project import DISTRICT, UNIT, published


@pytest.fixture(scope="module")
def root(demo, tmp_path_factory):
    return published(demo, tmp_path_factory.getbasetemp())


def test_table_html_escapes_formats_and_bands():
    df = pd.DataFrame({"g": ["A", "A", "B"], "name": ["<b>x</b>", "y & z", "w"], "v": [0.8266, 0.5, float("nan")],
                       "lo": [0.8, 0.4, None], "hi": [0.85, 0.6, None], "flag": ["", "review", "suppress"],
                       "n": [1234, 5, 0]})
    out = table_html(df, {"name": "Tên", "v": "Tỷ lệ", "n": "Số"}, pct=("v",), num=("n",), group="g",
                     ci={"v": ("lo", "hi")}, flags={"v": "flag"})
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x" not in out and "y &amp; z" in out
    assert "82,66%" in out and "80,0–85,0" in out and "1.234" in out
    assert out.count('class="band"') == 2
    assert "†" in out  # review: shown with a mark
    assert re.search(r"<td class=\"num\">–<sup[^>]*>‡</sup></td>", out)  # suppress: not published


def test_redact_masks_personal_data():
    text = redact("gọi 0912 345 678, 0912345678 hoặc an.nguyen@example.vn; CCCD 012345678901")
    assert "0912" not in text and "@" not in text and "012345678901" not in text
    assert text.count("đã ẩn") == 4


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_unit_annex_reads_like_the_tables(root):
    rep = Report(2023, root)
    html = (root / "outputs" / "2023" / "units" / f"{UNIT}.html").read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", html)
    name = rep.unit(UNIT).name
    assert f"<h1>{name}</h1>" in html
    assert fmt.pct(rep.value(UNIT)) in html
    for heading in ("Tóm tắt", "Chỉ số theo yếu tố", "Chỉ số theo tiêu chí", "Thay đổi so với năm trước",
                    "Vị trí trong", "Mẫu khảo sát và người trả lời", "Mong đợi", "Ý kiến khác"):
        assert heading in html, heading
    assert 'nav class="toc"' in html and "Mục lục" in html
    assert "So với năm 2022" in html  # the change since last year, from the 2022 tables
    assert not re.search(r"\d\.\d\d%", html)  # decimal commas only
    assert "<script" not in html.lower() and not re.search(r"""(src|href)=["']https?:""", html)
    assert html.count("data:image/png;base64") >= 2


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_free_text_is_escaped_and_personal_data_masked(root):
    html = (root / "outputs" / "2023" / "units" / f"{UNIT}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html and "<img src=x" not in html
    assert "0912 345 678" not in html and "an.nguyen@example.vn" not in html
    assert "[số điện thoại đã ẩn]" in html


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_intervals_and_flags_shown_when_the_statistics_provide_them(root):
    rep = Report(2023, root)
    if not rep.has_intervals:
        pytest.skip("the indices table has no ci_low/ci_high columns yet (statistics, issue 3)")
    html = (root / "outputs" / "2023" / "units" / f"{DISTRICT}.html").read_text(encoding="utf-8")
    lo, hi = rep.interval(DISTRICT)
    assert f"{fmt.number(100 * lo, 1)}–{fmt.number(100 * hi, 1)}" in html
    if rep.has_flags:
        assert '<sup class="flag"' in html and 'class="flagnote"' in html


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_a_table_without_a_column_it_must_have_stops_the_page(root):
    from sipas.publishing import data

    rep = Report(2023, root)
    assert 'class="ci"' in UnitAnnex(2023, UNIT, rep=rep).html()
    path = root / "outputs" / "2023" / "tables" / "indices.parquet"
    with pytest.raises(SipasError, match="lacks the column.*ci_low") as err:
        data.require(rep.indices.drop(columns=["ci_low"]), "indices", data.SCHEMA["indices"], file=path)
    assert "indices.parquet" in err.value.render()
    rep._tests_raw = rep._tests_raw.drop(columns=["p_adjusted"])   # tests: the same, no guessing of names
    rep.__dict__.pop("tests", None)
    with pytest.raises(SipasError, match="p_adjusted"):
        UnitAnnex(2023, UNIT, rep=rep).html()
    rep._tests_raw = _tests_table(rep, True).assign(test="anova")  # a kind of test sipas does not write
    rep.__dict__.pop("tests", None)
    with pytest.raises(SipasError, match="anova"):
        rep.test("change", UNIT)


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_without_tests_no_claim_of_significance(root):
    rep = Report(2023, root)
    rep._tests_raw = rep._tests_raw.iloc[0:0]
    rep.__dict__.pop("tests", None)
    html = UnitAnnex(2023, UNIT, rep=rep).html()
    assert "ý nghĩa thống kê" not in html
    assert fmt.pct(rep.value(UNIT)) in html


def _tests_table(rep: Report, significant: bool) -> pd.DataFrame:
    rows = [{"year": 2023, "test": "change", "family": "change/sipas", "unit_id": UNIT, "level": "sipas",
             "item_id": "sipas", "estimate": 0.01, "p_value": 0.001 if significant else 0.4,
             "p_adjusted": 0.004 if significant else 0.9, "significant": significant}]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("significant", [True, False])
@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_wording_follows_the_test_table(root, significant):
    from sipas.publishing import narrative

    rep = Report(2023, root)
    rep._tests_raw = _tests_table(rep, significant)
    rep.__dict__.pop("tests", None)
    text = " ".join(narrative.unit_summary(rep, UNIT))
    change = [s for s in narrative.unit_summary(rep, UNIT) if s.startswith("So với năm 2022")][0]
    if significant:
        assert "có ý nghĩa thống kê" in change and "không có ý nghĩa" not in change
    else:
        assert "khác biệt không có ý nghĩa thống kê" in change
    rep._tests_raw = None
    rep.__dict__.pop("tests", None)
    assert "ý nghĩa thống kê" not in " ".join(narrative.unit_summary(rep, UNIT)) or text


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_province_report_sections(root):
    html = (root / "outputs" / "2023" / "province.html").read_text(encoding="utf-8")
    for heading in ("Căn cứ và phương pháp", "Mẫu khảo sát", "Kết quả chung theo cấp", "Xếp hạng các sở, ban, ngành",
                    "Xếp hạng UBND các huyện, thành phố", "Thay đổi so với năm trước",
                    "Khác biệt giữa các nhóm người trả lời", "Mong đợi", "Ý kiến khác", "Hạn chế", "Kiến nghị"):
        assert heading in html, heading
    rep = Report(2023, root)
    assert fmt.pct(rep.value("province")) in html
    themes = rep.comment_themes("province")
    assert themes.n.sum() > 0 and themes.attrs["comments"] > 0
    top = themes.iloc[0]
    assert f"{top.theme}" in html and fmt.number(top.n) in html
    assert "<script" not in html.lower()


def test_the_year_page_does_not_change_with_the_size_of_the_run_log(tmp_path):
    """The front door is written mid-run, when the manifest holds the steps recorded so far
    and what a previous run left, with durations and worker ids: quoting its size made the
    page differ between a first run and a re-run of the same data and code."""
    from sipas.publishing.site import documents

    (tmp_path / "quality.html").write_text("x" * 5000, encoding="utf-8")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    small = documents(tmp_path, 2023)
    (tmp_path / "manifest.json").write_text("{}" + " " * 45_000, encoding="utf-8")
    assert documents(tmp_path, 2023) == small
    assert ("Nhật ký lần chạy", [("manifest.json", "manifest.json", "JSON")]) in small
    assert ("Chất lượng dữ liệu", [("HTML", "quality.html", "kiểm tra dữ liệu đầu vào, 5 KB")]) in small


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_front_doors_link_every_format(root):
    out = root / "outputs" / "2023"
    (out / "units" / f"{UNIT}.pdf").write_bytes(b"%PDF-1.4\n")
    (out / "phu-luc-2023.xlsx").write_bytes(b"x")
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.publishing.site import write_index, write_site_index

    write_index(YearConfig(2023, paths(root)))
    write_site_index(paths(root))
    index = (out / "index.html").read_text(encoding="utf-8")
    for href in (f"units/{UNIT}.html", f"units/{DISTRICT}.html", f"units/{UNIT}.pdf", "province.html",
                 "phu-luc-2023.xlsx", "manifest.json", "tables/indices.csv"):
        assert f'href="{href}"' in index, href
    if (out / "quality.html").is_file():
        assert 'href="quality.html"' in index
    site = (root / "outputs" / "index.html").read_text(encoding="utf-8")
    assert 'href="2023/index.html"' in site and 'href="2022/index.html"' in site
    assert site.index("Năm 2023") < site.index("Năm 2022")
    (out / "units" / f"{UNIT}.pdf").unlink()
    (out / "phu-luc-2023.xlsx").unlink()
