"""The official documents (sipas.publishing.official): the table model against figures
recomputed here from the tidy tables; the Word files read back with python-docx (page,
fonts, header block, titles, draft marks, every table value); byte-identical rebuilds."""

from __future__ import annotations

import unicodedata
import zipfile

import pandas as pd
import pytest
from docx import Document
from docx.shared import Mm

from sipas.base.config import paths
from sipas.estimation.tables import read_table
from sipas.publishing.official import tables as ot
from sipas.publishing.official.documents import build_year, official_dir, plain
from sipas.publishing.report import Report, ci_text, flag_note

from .annex_project import UNIT, published

REF_2023 = "(Kèm theo Quyết định số …/QĐ-UBND ngày …/…/2023 của Ủy ban nhân dân tỉnh Lai Châu)"


@pytest.fixture(scope="module")
def root(demo, tmp_path_factory):
    return published(demo, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def docs(root):
    return build_year(paths(root), 2023)


def _pct(v) -> str:
    # independent of sipas.base.formats: two decimals, decimal comma
    return f"{100 * v:.2f}".replace(".", ",") + "%"


def test_words_and_percentages():
    assert [ot.change_text(d) for d in (3, -1, 0, None)] == ["tăng 3 bậc", "giảm 1 bậc", "giữ nguyên", ""]
    assert ot.pct_text(0.8266) == "82,66%" and ot.pct_text(0.9) == "90,00%" and ot.pct_text(float("nan")) == "–"
    assert [ot.roman(i) for i in (1, 2, 4)] == ["I", "II", "IV"]


def test_ranking_model_against_the_tables(root):
    rep = Report(2023, root)
    idx = read_table(2023, "indices", paths(root))
    old = read_table(2022, "indices", paths(root))
    t = ot.ranking_table(rep, threshold=0.9)
    groups = t[t.kind == "group"]
    assert list(groups.stt) == ["I", "II"]
    assert list(groups.unit_name) == ["Các sở, ban, ngành", "UBND các huyện, thành phố"]
    for utype in ("department", "district"):
        units = t[(t.kind == "unit") & (t.unit_type == utype)]
        ids = [u.id for u in rep.cfg.units if u.type == utype]
        assert sorted(units.unit_id) == sorted(ids)
        assert list(units.stt) == list(range(1, len(ids) + 1))
        s = idx[(idx.item_id == "sipas") & idx.unit_id.isin(ids)].set_index("unit_id").estimate
        s_old = old[(old.item_id == "sipas") & old.unit_id.isin(ids)].set_index("unit_id").estimate
        for r in units.itertuples():
            assert r.rank == 1 + int((s > s[r.unit_id]).sum())           # ties share the better rank
            prev = 1 + int((s_old > s_old[r.unit_id]).sum())
            assert r.rank_change == prev - r.rank
            assert r.change_text == ot.change_text(prev - r.rank)
            assert r.sipas_text == _pct(s[r.unit_id]) or r.flag
            assert bool(r.at_or_above) == (s[r.unit_id] >= 0.9)
        assert list(units.sipas) == sorted(units.sipas, reverse=True)
    above = ot.at_or_above(rep, "department", 0.9)
    sent = ot.threshold_sentence(rep, "department", 0.9)
    assert sent.startswith(f"Có {len(above)}/16 sở, ban, ngành đạt chỉ số từ 90,00% trở lên") or not above


def test_no_rank_change_across_methodologies(root):
    rep = Report(2023, root)
    rep.__dict__["previous"] = None  # as for 2025 against 2023 (another methodology)
    t = ot.unit_rows(rep, "department")
    assert t.rank_change.isna().all() and (t.change_text == "").all()


def test_page_fonts_header_block_and_titles(docs):
    names = [f.name for f in docs]
    assert names[:5] == ["bao-cao-2023.docx", "phu-luc-i-2023.docx", "phu-luc-ii-2023.docx",
                         "phu-luc-iii-2023.docx", "phu-luc-iv-2023.docx"]
    assert len(docs) == 5 + 24
    for f in docs[:5] + [d for d in docs if d.stem == UNIT]:
        doc = Document(str(f))
        sec = doc.sections[0]
        w, h = sorted((sec.page_width, sec.page_height))
        assert abs(w - Mm(210)) < Mm(1) and abs(h - Mm(297)) < Mm(1), f.name
        for got, lo, hi in ((sec.top_margin, 20, 25), (sec.bottom_margin, 20, 25), (sec.left_margin, 30, 35),
                            (sec.right_margin, 15, 20)):  # Word stores twips: 15 mm is 14.99 mm
            assert Mm(lo - 0.05) <= got <= Mm(hi + 0.05), (f.name, got.mm, lo, hi)
        normal = doc.styles["Normal"].font
        assert normal.name == "Times New Roman" and 13 <= normal.size.pt <= 14
        table_font = doc.styles["Bảng - chữ"].font
        assert table_font.name == "Times New Roman" and 12 <= table_font.size.pt <= 13
        block = "\n".join(c.text for row in doc.tables[0].rows for c in row.cells)
        for line in ("ỦY BAN NHÂN DÂN", "TỈNH LAI CHÂU", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "Lai Châu, ngày … tháng … năm 2023"):
            assert line in block, (f.name, line)
        texts = [p.text for p in doc.paragraphs]
        assert REF_2023 in texts, f.name
        for t in [t for t in doc.tables if t.style is not None and t.style.name == "Table Grid"]:
            # header row repeated, no row split across pages
            trs = t._tbl.findall("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tr")
            assert all(tr.trPr is not None and tr.trPr.find(
                "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}cantSplit") is not None for tr in trs)
            assert "tblHeader" in trs[0].xml
        # page number centred at the top from page 2; the first page has none; both say DỰ THẢO
        assert sec.different_first_page_header_footer
        assert "PAGE" in sec.header._element.xml and "PAGE" not in sec.first_page_header._element.xml
        for hdr in (sec.header, sec.first_page_header):
            assert "DỰ THẢO" in "".join(p.text for p in hdr.paragraphs)
            assert 'string="DỰ THẢO"' in hdr._element.xml  # the watermark
    titles = [p.text for p in Document(str(docs[1])).paragraphs]
    assert "Phụ lục I" in titles and "KẾT QUẢ XẾP HẠNG CHỈ SỐ HÀI LÒNG CỦA CÁC SỞ, BAN, NGÀNH NĂM 2023" in titles
    assert "BÁO CÁO" in [p.text for p in Document(str(docs[0])).paragraphs]


def test_ranking_annex_values_equal_the_tables(root, docs):
    idx = read_table(2023, "indices", paths(root)).set_index(["unit_id", "item_id"])
    rep = Report(2023, root)
    byname = {u.name: u.id for u in rep.cfg.units}
    for f, utype in ((docs[1], "department"), (docs[2], "district")):
        t = Document(str(f)).tables[1]
        head = [c.text for c in t.rows[0].cells]
        assert head[:7] == ["STT", "Đơn vị", "Chỉ số hài lòng", "KTC 95%", "Xếp hạng", "Khoảng hạng",
                            "Thay đổi so với năm 2022"]
        rows = [[c.text for c in r.cells] for r in t.rows[1:]]
        assert rows[0][0] == ("I. Các sở, ban, ngành" if utype == "department" else "II. UBND các huyện, thành phố")
        units = rows[1:-1]
        assert len(units) == len(rep.unit_ids(utype))
        tops = [k for k, _ in rep.top_items]
        for r in units:
            uid = byname[r[1]]
            row = idx.loc[(uid, "sipas")]
            assert r[2].rstrip("†‡*") == _pct(row.estimate)
            assert r[3] == ci_text(row.ci_low, row.ci_high)
            assert [c for c in r[7:]] == [_pct(idx.loc[(uid, k)].estimate) for k in tops]
        assert rows[-1][1] == "Bình quân"


def test_criteria_annex_has_every_figure(root, docs):
    rep = Report(2023, root)
    idx = read_table(2023, "indices", paths(root))
    t = Document(str(docs[3])).tables[1]
    byname = {u.name: u.id for u in rep.cfg.units}
    element_of = {e.label: e.id for e in rep.method.elements}
    seen, unit = 0, None
    for r in t.rows[1:]:
        cells = [c.text for c in r.cells]
        label = cells[1]
        if label.endswith(" — chỉ số chung"):
            unit, item = byname[label.removesuffix(" — chỉ số chung")], "sipas"
        elif label.startswith("Yếu tố: "):
            item = element_of[label.removeprefix("Yếu tố: ")]
        elif label.startswith("  "):
            item = label.strip().split(".")[0]
        else:
            continue  # a group row
        row = idx[(idx.unit_id == unit) & (idx.item_id == item)].iloc[0]
        assert cells[2].rstrip("†‡*") == _pct(row.estimate) or cells[2].startswith("–"), (unit, item)
        assert cells[4] == f"{int(row.n):,}".replace(",", "."), (unit, item)
        seen += 1
    units = idx[idx.unit_id.isin(byname.values())]
    assert seen == len(units[units.level.isin(["criterion", "element", "sipas"])])


def test_same_figures_and_footnote_as_the_html(root, docs):
    rep = Report(2023, root)
    html = (paths(root).outputs(2023) / "units" / f"{UNIT}.html").read_text(encoding="utf-8")
    doc = Document(str(next(d for d in docs if d.stem == UNIT)))
    key = [c.text for c in doc.tables[1].rows[1].cells]
    assert key[0].rstrip("†‡*") in html and key[1] in html          # figure and its interval
    assert plain(flag_note(rep)).split(".")[0] in pd.Series([html]).str.replace("<[^>]+>", "", regex=True)[0]
    notes = [p.text for p in doc.paragraphs if p.text.startswith("Ghi chú: ")]
    assert notes and plain(flag_note(rep)) in notes[0]


def test_national_benchmark_sentence(docs):
    text = "\n".join(p.text for p in Document(str(docs[0])).paragraphs)
    assert "SIPAS) năm 2022 của tỉnh Lai Châu đạt 79,34%, xếp thứ 35/63 tỉnh, thành phố" in text
    assert "Sơn La năm 2023" in text and "95,39 %" in text


def test_text_is_nfc_and_files_are_byte_identical(root, docs, tmp_path):
    again = build_year(paths(root), 2023, out_dir=tmp_path / "again")
    for a, b in zip(docs, again):
        assert a.read_bytes() == b.read_bytes(), a.name
    with zipfile.ZipFile(docs[0]) as z:
        xml = z.read("word/document.xml").decode("utf-8")
        core = z.read("docProps/core.xml").decode("utf-8")
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    assert unicodedata.normalize("NFC", xml) == xml and "Ủy ban nhân dân" in xml
    assert "dcterms:created" not in core and "dcterms:modified" not in core
    assert official_dir(paths(root), 2023) == docs[0].parent


def test_html_ranking_table_has_the_official_columns(root):
    from sipas.publishing.annex import ranking_table

    rep = Report(2023, root)
    r = rep.ranking("district")
    html = ranking_table(rep, r)
    assert '<th scope="col">STT</th>' in html and "Thay đổi hạng so với năm 2022" in html
    rows = ot.unit_rows(rep, "district")
    trs = html.split("<tr")
    for name, change in zip(rows.unit_name, rows.change_text):
        row = next(t for t in trs if f"<td>{name}</td>" in t)
        assert f"<td>{change or '–'}</td>" in row, name


def test_run_says_why_there_is_no_pdf_without_libreoffice(monkeypatch):
    from sipas.publishing.official import steps

    monkeypatch.setenv("SIPAS_SOFFICE", "/nonexistent/soffice")
    assert "LibreOffice is not installed" in steps.pdf_unavailable() and "make setup" in steps.pdf_unavailable()
    from sipas.publishing.official.convert import NoLibreOffice, to_pdf

    with pytest.raises(NoLibreOffice, match="libreoffice-writer-nogui"):
        to_pdf([])


@pytest.mark.slow  # two builds of the year's 29 documents
def test_docx_step_is_incremental(root, tmp_path):
    import shutil

    from sipas.base.codebook import YearConfig
    from sipas.running.year import YearJob

    r = tmp_path / "p"
    shutil.copytree(root, r, ignore=lambda d, names: [n for n in names if n in ("official", "release", "manifest.json")])
    cfg = YearConfig(2023, paths(r))

    def job():
        return YearJob(cfg, [], ("html", "docx"), False, "code", {"python-docx": "x"}, 60)

    first = job().official()
    assert [(o.step, o.ok, o.rebuilt) for o in first] == [("docx", True, True)]
    assert (paths(r).outputs(2023) / "official" / "units" / f"{UNIT}.docx").is_file()
    assert [(o.step, o.rebuilt) for o in job().official()] == [("docx", False)]
    tpl = r / "params" / "templates" / "phu-luc.docx"
    tpl.write_bytes(tpl.read_bytes())  # same bytes: still up to date
    assert not job().official()[0].rebuilt
    (r / "params" / "official.yaml").write_text(
        (r / "params" / "official.yaml").read_text(encoding="utf-8").replace("threshold: 0.90", "threshold: 0.85"),
        encoding="utf-8")
    again = job().official()[0]
    assert again.rebuilt and again.ok
