"""The 2025 pages and workbook under the publication policy: model-based commune figures
beside the direct ones (labelled, with the shrinkage factor and the policy footnote), none
for departments; bands instead of strict ranks where the rank intervals are wide (commune
level by default, ``publication.bands.unit_types``); the policy options checked with
clear errors. One 2025 demo project built in-process (intake, tables) for the module."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.base.errors import ConfigError, SipasError
from sipas.estimation.ranks import BANDS
from sipas.publishing.annex import ProvinceReport, UnitAnnex
from sipas.publishing.model_based import MODEL, SHRINK, shrink_text
from sipas.publishing.report import Report, displayed

REPO = Path(__file__).resolve().parents[1]
YEAR = 2025
POLICY = "publication.levels.commune = model_based"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from sipas.demo import write_demo_data
    from sipas.estimation.tables import write_tables
    from sipas.intake import run_intake

    root = tmp_path_factory.mktemp("sae") / "p"
    shutil.copytree(REPO / "params", root / "params")
    f = root / "params" / "settings.yaml"           # fewer bootstrap replicates: the bands, not their precision
    f.write_text(f.read_text(encoding="utf-8").replace("bootstrap_replicates: 500", "bootstrap_replicates: 100"),
                 encoding="utf-8")
    p = paths(root)
    write_demo_data(YEAR, paths=p)
    run_intake(YEAR, paths=p)
    with pytest.MonkeyPatch.context() as mp:        # the logistic models (most of the cost) are not shown here
        from sipas.estimation import tables
        from sipas.publishing.data import SCHEMA

        mp.setattr(tables, "drivers_table", lambda df, cfg, **_: pd.DataFrame(columns=list(SCHEMA["drivers"])))
        write_tables(YEAR, p)
    return root


@pytest.fixture(scope="module")
def rep(root) -> Report:
    return Report(YEAR, root)


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def _rows(table_html: str) -> list[str]:
    return [_text(r) for r in re.findall(r"<tr.*?</tr>", table_html, re.S)]


def _ranking_tables(html: str) -> list[str]:
    return re.findall(r'<table class="sipas-table ranking".*?</table>.*?</p>|<table class="sipas-table ranking".*?'
                      r'</table>', html, re.S)


def test_commune_annex_shows_model_based_figures_beside_direct(rep):
    unit = "xa-nam-so"
    html = UnitAnnex(YEAR, unit, rep=rep).html()
    row = rep.row(unit)
    assert MODEL in html and SHRINK in html and POLICY in html and "Fay–Herriot" in html
    # the unit's own published figures, as the table has them, in the page
    assert fmt.pct(float(row["estimate_sae"])) in html
    assert shrink_text(row["shrinkage"]) in html and 0 < row["shrinkage"] < 1
    assert fmt.pct(float(row["estimate"])) in html                        # the direct one stays
    # the model-based figure is never unlabelled: every sentence giving it says so
    text = _text(html)
    k = text.find(fmt.pct(float(row["estimate_sae"])))
    assert "mô hình" in text[max(0, k - 300):k]


def test_department_annex_has_no_model_columns(rep):
    html = UnitAnnex(YEAR, "so-tu-phap", rep=rep).html()
    assert MODEL not in html and SHRINK not in html and "publication.levels" not in html
    assert not any(b in html for b in BANDS.values())


def test_province_ranking_model_columns_for_communes_only(rep):
    html = ProvinceReport(YEAR, rep=rep).rankings()
    dept, commune = re.findall(r'<table class="sipas-table ranking.*?</table>', html, re.S)
    assert MODEL not in dept and SHRINK not in dept
    assert MODEL in commune and SHRINK in commune
    foot = html[html.find(commune) + len(commune):]
    assert POLICY in foot[:3000] and "publication.bands" in foot[:3000]


def test_bands_where_rank_intervals_are_wide(rep):
    r = rep.ranking("commune")
    wide, tight = r[~r.strict_rank.astype(bool)], r[r.strict_rank.astype(bool)]
    assert len(wide) > 0 and len(tight) > 0        # the demo has both
    assert ((wide.rank_high - wide.rank_low + 1) > 0.25 * len(r)).all()
    html = ProvinceReport(YEAR, rep=rep).rankings()
    commune = re.findall(r'<table class="sipas-table ranking.*?</table>', html, re.S)[1]
    rows = {name: row for row in _rows(commune) for name in r.unit_name if f" {name} " in f" {row} "}
    for x in wide.itertuples():
        assert BANDS[x.band] in rows[x.unit_name], x.unit_name
        assert f"{x.rank_low}–{x.rank_high}" in rows[x.unit_name]
    for x in tight.itertuples():
        assert not any(b in rows[x.unit_name] for b in BANDS.values()), x.unit_name
    # the narrative: a wide unit is placed in its band, never "xếp thứ k"
    w = wide.iloc[0]
    summary = _text(UnitAnnex(YEAR, w.unit_id, rep=rep).summary())
    assert f"thuộc {BANDS[w.band].lower()}" in summary and "xếp thứ" not in summary
    t = tight.iloc[0]
    assert f"xếp thứ {t['rank']}/{len(r)}" in _text(UnitAnnex(YEAR, t.unit_id, rep=rep).summary())
    prov = _text(ProvinceReport(YEAR, rep=rep).rankings())
    assert f"Khoảng hạng của {len(wide)}/{len(r)}" in prov and "nhóm giữa" in prov


def test_departments_keep_strict_ranks_unless_the_policy_lists_them(rep, monkeypatch):
    r = rep.ranking("department")
    wide = r[~r.strict_rank.astype(bool)]
    assert len(wide)                                         # wide intervals exist, the default keeps ranks
    u = wide.iloc[0]
    assert "xếp thứ" in _text(UnitAnnex(YEAR, u.unit_id, rep=rep).summary())
    bands = rep.cfg.settings.publication.bands.model_copy(update={"unit_types": ["commune", "department"]})
    pub = rep.cfg.settings.publication.model_copy(update={"bands": bands})
    monkeypatch.setattr(rep.cfg, "settings", rep.cfg.settings.model_copy(update={"publication": pub}))
    assert f"thuộc {BANDS[u.band].lower()}" in _text(UnitAnnex(YEAR, u.unit_id, rep=rep).summary())


def test_workbook_ranking_sheets(root, rep):
    from sipas.publishing.excel import read_sheet, write_workbook

    path = write_workbook(YearConfig(YEAR, paths(root)))
    dept, commune = read_sheet(path, "Phụ lục I"), read_sheet(path, "Phụ lục II")
    assert f"{MODEL} (SIPAS)" in commune.columns and SHRINK in commune.columns
    assert f"{MODEL} (SIPAS)" not in dept.columns and "Nhóm (khoảng hạng rộng)" not in dept.columns
    c = commune[commune["Mã đơn vị"].notna()].set_index("Mã đơn vị")
    r = rep.ranking("commune").set_index("unit_id")
    pd.testing.assert_series_equal(c[f"{MODEL} (SIPAS)"].astype(float), r.estimate_sae.reindex(c.index),
                                   check_names=False, atol=1e-12)
    wide = ~r.strict_rank.astype(bool)
    assert c.loc[wide[wide].index, "Hạng"].isna().all()                # no strict rank where it is a band
    assert (c.loc[wide[wide].index, "Nhóm (khoảng hạng rộng)"] == r.band[wide].map(BANDS)).all()
    assert c.loc[wide[~wide].index, "Hạng"].notna().all()
    note = pd.read_excel(path, "Phụ lục II", header=None).iloc[1, 0]
    assert POLICY in note and "Fay–Herriot" in note
    assert "Ước lượng theo mô hình" in read_sheet(path, "Phụ lục III").columns


def test_caution_policy_shows_the_figure_with_its_mark():
    t = pd.DataFrame({"unit_id": ["a", "b"], "flag": ["suppress", "suppress"],
                      "publication": ["caution", "suppressed"]})
    assert displayed(t)["flag"].tolist() == ["caution", "suppress"]
    from sipas.publishing.markup import table_html

    html = table_html(pd.DataFrame({"v": [0.5, 0.6], "flag": ["caution", "suppress"]}), {"v": "V"}, pct=("v",),
                      flags={"v": "flag"})
    assert "50,00%" in html and "§" in html and "60,00%" not in html


def test_a_table_without_the_model_columns_stops_the_page(rep):
    from sipas.publishing import data

    with pytest.raises(SipasError, match="estimate_sae"):
        data.require(rep.indices.drop(columns=["estimate_sae"]), "indices", data.SCHEMA["indices"])
    with pytest.raises(SipasError, match="band"):
        data.require(rep._ranks.drop(columns=["band"]), "ranks", data.SCHEMA["ranks"])


@pytest.mark.parametrize("old, new, key", [
    ("transform: arcsine", "transform: probit", "publication.sae.transform"),
    ("groups: 3", "groups: 9", "publication.bands.groups"),
    ("wide_share: 0.25", "wide_share: 2", "publication.bands.wide_share"),
    ("covariates: [urban, log_served, previous]", "covariates: [urban, income]", "publication.sae.covariates"),
    ("unit_types: [commune]       #", "unit_types: []       #", "model_based"),
])
def test_policy_options_are_checked(tmp_path, old, new, key):
    root = tmp_path / "p"
    shutil.copytree(REPO / "params", root / "params")
    f = root / "params" / "settings.yaml"
    text = f.read_text(encoding="utf-8")
    assert old in text
    f.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        YearConfig(YEAR, paths(root))
    msg = str(e.value)
    assert key in msg and "settings.yaml" in msg


def test_summary_cites_no_figure_that_is_not_published(rep):
    from sipas.publishing import narrative
    from sipas.publishing.text import is_suppressed

    elements = {x.id for x in rep.method.elements}
    i = rep.indices
    hidden = i[i.item_id.isin(elements) & i.flag.map(is_suppressed) & (i.unit_type == "commune")]
    assert len(hidden)                                       # the demo has suppressed element figures
    for x in hidden.drop_duplicates("unit_id").itertuples():
        text = _text(" ".join(narrative.unit_summary(rep, x.unit_id)))
        assert f"{x.item_label} ({fmt.pct(x.estimate)})" not in text, (x.unit_id, x.item_id)


def _pct2(v) -> str:
    # independent of sipas.base.formats: two decimals, decimal comma
    return f"{100 * float(v):.2f}".replace(".", ",") + "%"


def _doc_rows(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def test_word_annexes_show_the_model_based_columns(root, rep, tmp_path):
    """Phụ lục II (communes), Phụ lục III and a commune's own annex, read back with
    python-docx: the model-based figure (ᴹ where published in place of the direct one), its
    interval and the shrinkage beside the direct figures, as the HTML; the policy footnote;
    none of it for departments."""
    from docx import Document

    from sipas.publishing.official.documents import Context, criteria_annex, ranking_annex, unit_annex
    from sipas.publishing.official.settings import load_official

    ctx = Context(rep, load_official(paths(root)), None)
    model_head = [MODEL, f"KTC {rep.level_text} (mô hình)", SHRINK]
    doc = Document(ranking_annex(ctx, "commune", "II", tmp_path / "ii.docx"))
    rows = _doc_rows(doc.tables[1])                       # tables[0]: the header block
    assert rows[0][2:7] == ["Chỉ số hài lòng", f"KTC {rep.level_text}", *model_head]
    by_name = {r[1]: r for r in rows[1:]}
    ranking = rep.ranking("commune")
    assert (ranking.publication == "model_based").any() and (ranking.publication == "direct").any()
    for x in ranking.itertuples():
        cells = by_name[x.unit_name]
        assert cells[4] == _pct2(x.estimate_sae) + ("ᴹ" if x.publication == "model_based" else ""), x.unit_name
        assert cells[5] == f"{100 * x.ci_low_sae:.1f}–{100 * x.ci_high_sae:.1f}".replace(".", ","), x.unit_name
        assert cells[6] == f"{x.shrinkage:.2f}".replace(".", ","), x.unit_name
    notes = " ".join(p.text for p in doc.paragraphs)
    assert POLICY in notes and "Fay–Herriot" in notes and f"“{SHRINK}”" in notes
    dept = Document(ranking_annex(ctx, "department", "I", tmp_path / "i.docx"))
    assert MODEL not in _doc_rows(dept.tables[1])[0] and MODEL not in " ".join(p.text for p in dept.paragraphs)

    unit = "xa-nam-so"
    doc = Document(unit_annex(ctx, unit, tmp_path / "u.docx"))
    idx = rep.indices[rep.indices.unit_id == unit].set_index("item_id")
    sipas, elements, criteria = (_doc_rows(t) for t in doc.tables[1:4])
    assert sipas[0][2:5] == model_head and sipas[1][2] == _pct2(idx.loc["sipas", "estimate_sae"])
    assert elements[0][3:6] == model_head
    for r in elements[1:]:
        item = next(i for i, lab in rep.items() if lab == r[0])
        assert r[3] == _pct2(idx.loc[item, "estimate_sae"]) + ("ᴹ" if idx.loc[item, "publication"] == "model_based"
                                                               else ""), item
    assert criteria[0][3:6] == model_head
    crit = [r for r in criteria[1:] if len(set(r)) > 1]   # not the element rows (merged: one text)
    assert len(crit) == (idx.level == "criterion").sum()
    for r in crit:
        item = r[0].split(".", 1)[0]
        assert r[5] == f"{idx.loc[item, 'shrinkage']:.2f}".replace(".", ","), item
    assert POLICY in " ".join(p.text for p in doc.paragraphs)
    dept = Document(unit_annex(ctx, "so-tu-phap", tmp_path / "d.docx"))
    assert all(MODEL not in _doc_rows(t)[0] for t in dept.tables[1:])

    doc = Document(criteria_annex(ctx, "III", tmp_path / "iii.docx"))
    rows = _doc_rows(doc.tables[1])
    assert rows[0][4:7] == model_head
    name = {u.id: u.name for u in rep.cfg.units}
    commune_row = next(r for r in rows if r[1] == f"{name[unit]} — chỉ số chung")
    dept_row = next(r for r in rows if r[1] == f"{name['so-tu-phap']} — chỉ số chung")
    assert commune_row[4] == _pct2(idx.loc["sipas", "estimate_sae"]) and dept_row[4:7] == ["", "", ""]
    assert POLICY in " ".join(p.text for p in doc.paragraphs)
