"""The province report's statistics section (reliability, drivers, rank certainty) and
rank intervals in the ranking tables, on the published demo year."""

from __future__ import annotations

import html as htmllib
import re

import pandas as pd
import pytest

from sipas.base import formats as fmt
from sipas.estimation.tables import read_table
from sipas.publishing import annex, stat_sections
from sipas.publishing.annex import ProvinceReport
from sipas.publishing.report import Report

from .annex_project import UNIT, published


@pytest.fixture(scope="module")
def root(demo, tmp_path_factory):
    return published(demo, tmp_path_factory.getbasetemp())


def _text(h: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", h)))


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_province_report_shows_the_statistics(root):
    page = (root / "outputs" / "2023" / "province.html").read_text(encoding="utf-8")
    text = _text(page)
    for h in ("Độ tin cậy của thang đo (Cronbach's alpha)", "Các yếu tố gắn với sự hài lòng chung",
              "Độ chắc chắn của thứ hạng"):
        assert h in text, h
    from sipas.base.config import paths
    p = paths(root)
    rel = read_table(2023, "reliability", p)
    e1 = rel[(rel.unit_id == "province") & (rel.item_id == "e1")].iloc[0]
    assert f"{fmt.number(e1.alpha, 2)} {fmt.number(e1.ci_low, 2)}–{fmt.number(e1.ci_high, 2)}" in text
    drv = read_table(2023, "drivers", p)
    nu = drv[(drv.model == "profile") & (drv.term == "gender[nu]")].iloc[0]
    assert f"Nữ {fmt.number(nu.odds_ratio, 2)} {fmt.number(nu.ci_low, 2)}–{fmt.number(nu.ci_high, 2)}" in text
    ranks = read_table(2023, "ranks", p)
    me = ranks[(ranks.unit_id == UNIT) & (ranks.item_id == "sipas")].iloc[0]
    # the ranking table: rank with its interval under it
    assert f'{me["rank"]}<span class="ci">{me.rank_low}–{me.rank_high}</span>' in page


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_rank_intervals_are_the_sipas_rows(root):
    rep = Report(2023, root)
    r = rep._ranks
    assert set(r.item_id) > {"sipas"}
    rep._ranks = r.iloc[::-1]                    # element rows first: still the SIPAS interval
    got = rep.rank_intervals().set_index("unit_id")
    want = r[r.item_id == "sipas"].set_index("unit_id")
    assert (got.loc[want.index, "rank_low"] == want.rank_low).all()
    assert (got.loc[want.index, "rank_high"] == want.rank_high).all()
    ranking = rep.ranking("department")
    assert ((ranking["rank"] >= ranking.rank_low) & (ranking["rank"] <= ranking.rank_high)).all()


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_distinguishable_pairs_counted(root):
    rep = Report(2023, root)
    text = _text(annex.rank_certainty_html(rep))
    r = rep._ranks
    r = r[(r.item_id == "sipas") & (r.unit_type == "department")]
    pairs = sum(int((r.rank_low > h).sum()) for h in r.rank_high)
    n = len(r)
    assert f"{pairs}/{n * (n - 1) // 2} cặp đơn vị" in text


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_section_absent_without_the_tables(root, monkeypatch):
    rep = Report(2023, root)
    rep._ranks = None
    monkeypatch.setattr(stat_sections, "_stat_table", lambda rep, name: None)
    assert ProvinceReport(2023, rep=rep).statistics() == ""
    rep._ranks = pd.DataFrame(columns=["unit_id", "rank_low", "rank_high"])
    assert annex.rank_certainty_html(rep) == ""
