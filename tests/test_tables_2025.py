"""The 2025 tables (household design) and what they say of the sample.

``build_tables`` builds the year's design once - reading the sampling frame and raking the
weights is the slow part of a 2025 run - and hands it to the index, test, rank and driver
tables, which get what each of them computes when it builds the design itself.

The planned sample of a commune is the households drawn in its draw file (counted here from
the csv with the csv module), not n = N/(1 + N·e²); each page showing it names the rule, and
the quality page does not give the communes the dossier design's weight N / n.
One 2025 demo project (demo data, intake, tables) for the module."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.base.designs import HOUSEHOLD_WEIGHTS, TARGET_RULES
from sipas.base.errors import SipasError
from sipas.base.microdata import estimation_frame
from sipas.estimation import indices
from sipas.estimation.drivers import drivers_table
from sipas.estimation.indices import compute_indices, survey_design
from sipas.estimation.ranks import ranks_table
from sipas.estimation.significance import significance_table
from sipas.estimation.tables import build_tables

REPO = Path(__file__).resolve().parents[1]
YEAR = 2025


@pytest.fixture(scope="module")
def cfg(tmp_path_factory) -> YearConfig:
    from sipas.demo import write_demo_data
    from sipas.intake import run_intake

    root = tmp_path_factory.mktemp("tables2025") / "p"
    shutil.copytree(REPO / "params", root / "params")
    f = root / "params" / "settings.yaml"           # fewer bootstrap replicates: sharing, not precision
    f.write_text(f.read_text(encoding="utf-8").replace("bootstrap_replicates: 500", "bootstrap_replicates: 50"),
                 encoding="utf-8")
    p = paths(root)
    write_demo_data(YEAR, paths=p)
    run_intake(YEAR, paths=p)
    cfg = YearConfig(YEAR, p)
    assert cfg.registry.design.households is not None
    return cfg


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """Rows of every household design built from now on."""
    calls: list[int] = []
    real = indices.household_design
    monkeypatch.setattr(indices, "household_design", lambda df, cfg: calls.append(len(df)) or real(df, cfg))
    return calls


def test_build_tables_builds_the_household_design_once(cfg, builds):
    df = estimation_frame(cfg)
    tables = build_tables(cfg, df)
    assert builds == [len(df)]
    # each consumer on its own builds the design (so the count above is the sharing) ...
    alone = {"tests": significance_table(df, cfg, tables["indices"], None, correction=cfg.settings.multiple_testing),
             "ranks": ranks_table(df, cfg), "drivers": drivers_table(df, cfg)}
    assert len(builds) == 1 + 2 + 1 + 1           # peer and association tests one each, ranks, drivers
    # ... and gets the same table
    for name, table in alone.items():
        pd.testing.assert_frame_equal(tables[name], table, check_exact=True, obj=name)


def test_a_design_of_other_rows_is_refused(cfg):
    df = estimation_frame(cfg)
    d = survey_design(df, cfg)
    with pytest.raises(SipasError, match=f"the design given has {len(df)} rows, the data 100"):
        compute_indices(df.iloc[:100], cfg, design=d)


# ------------------------------------------------------------------ planned sample


def _drawn_households(cfg: YearConfig) -> dict[str, int]:
    """Households drawn per commune, from the draw file read as plain csv: each village's
    households_drawn (repeated on its rows) counted once."""
    villages: dict[tuple[str, str], int] = {}
    with open(cfg.frame_path, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            villages[(r["unit_id"], r["village"])] = int(r["households_drawn"])
    out: dict[str, int] = {}
    for (unit, _), n in villages.items():
        out[unit] = out.get(unit, 0) + n
    return out


@pytest.fixture(scope="module")
def published(cfg) -> YearConfig:
    """The module's project with its tables written (the logistic models left out: not shown here)."""
    from sipas.estimation import tables
    from sipas.publishing.data import SCHEMA

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "drivers_table", lambda df, cfg, **_: pd.DataFrame(columns=list(SCHEMA["drivers"])))
        tables.write_tables(YEAR, cfg.paths)
    return cfg


def test_planned_sample_of_communes_is_the_households_drawn(published):
    cfg = published
    drawn = _drawn_households(cfg)
    sample = pd.read_parquet(cfg.paths.tables(YEAR) / "sample.parquet").set_index("unit_id")
    communes = [u for u in cfg.units if u.type == "commune"]
    assert communes and set(drawn) == {u.id for u in communes}
    e2 = cfg.settings.margin_of_error ** 2
    for u in cfg.units:
        formula = math.ceil(u.served / (1 + u.served * e2))
        assert sample.loc[u.id, "target"] == (drawn[u.id] if u.type == "commune" else formula), u.id
    assert sample.loc["xa-nam-so", "target"] == 67                      # not the formula's 346
    assert math.ceil(cfg.registry.unit("xa-nam-so").served / (1 + cfg.registry.unit("xa-nam-so").served * e2)) == 346
    # the validation report (quality page) has the same targets
    report = json.loads((cfg.paths.processed(YEAR) / "validation.json").read_text(encoding="utf-8"))
    targets = {u["unit_id"]: u["target"] for u in report["units"]}
    assert {u: targets[u] for u in drawn} == drawn


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def test_pages_name_the_rule_of_the_planned_sample(published):
    from sipas.publishing.annex import UnitAnnex
    from sipas.publishing.province import ProvinceReport
    from sipas.publishing.report import Report

    rep = Report(YEAR, published.paths.root)
    commune = _text(UnitAnnex(YEAR, "xa-nam-so", rep=rep).html())
    assert f"cỡ mẫu {TARGET_RULES['households']}: 67;" in commune and "N/(1 + N·e²)" not in commune
    assert "cỡ mẫu dự kiến 67" in commune                               # the title tile
    dept = _text(UnitAnnex(YEAR, "so-noi-vu", rep=rep).html())
    assert f"cỡ mẫu {TARGET_RULES['formula']}: " in dept and "thiết kế chọn hộ" not in dept
    province = _text(ProvinceReport(YEAR, rep=rep).sample())
    assert ("Cỡ mẫu dự kiến của các sở, ban, ngành theo công thức n = N/(1 + N·e²) với e = 5%, N là số lượt phục "
            f"vụ trong kỳ; của UBND các xã, phường {TARGET_RULES['households']}.") in province
    html = ProvinceReport(YEAR, rep=rep).sample()
    row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if "Xã Nậm Sỏ" in r)
    assert [_text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)][:3] == [
        "Xã Nậm Sỏ", "2.550", "67"]


def test_workbook_and_word_annex_iv_notes(published):
    from docx import Document
    from openpyxl import load_workbook

    from sipas.publishing.excel import write_workbook
    from sipas.publishing.official.documents import Context, sample_annex
    from sipas.publishing.official.settings import load_official
    from sipas.publishing.report import Report

    cfg = published
    note = cfg.target_note
    assert TARGET_RULES["households"] in note and "Các sở, ban, ngành: theo công thức n = N/(1 + N·e²), e = 0.05" in note
    wb = load_workbook(write_workbook(cfg))
    ws = wb["Phụ lục IV"]
    assert ws["A2"].value.startswith(note + " ")
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    assert rows["xa-nam-so"][4] == 67
    rep = Report(YEAR, cfg.paths.root)
    doc = Document(sample_annex(Context(rep, load_official(cfg.paths), None), "IV", cfg.paths.root / "iv.docx"))
    assert "Ghi chú: " + note in [p.text for p in doc.paragraphs]
    cells = [[c.text for c in row.cells] for row in doc.tables[1].rows]   # 0: the header block
    assert [r[3] for r in cells if r[1] == "Xã Nậm Sỏ"] == ["67"]


def test_quality_page_gives_the_weights_of_each_design(published):
    cfg = published
    html = (cfg.paths.outputs(YEAR) / "quality.html").read_text(encoding="utf-8")
    note = re.search(r'<p class="muted">([^<]*Trọng số[^<]*)</p>', html).group(1)
    assert "Các sở, ban, ngành: cỡ mẫu mục tiêu n = N / (1 + N·e²)" in note
    assert f"UBND các xã, phường: cỡ mẫu mục tiêu {TARGET_RULES['households']}" in note
    assert HOUSEHOLD_WEIGHTS in note
    report = json.loads((cfg.paths.processed(YEAR) / "validation.json").read_text(encoding="utf-8"))
    weights = {u["unit_id"]: u["weight"] for u in report["units"]}
    dept = next(u for u in report["units"] if u["unit_id"] == "so-noi-vu")
    assert weights["so-noi-vu"] == pytest.approx(dept["served"] / dept["accepted"])
    assert all(weights[u.id] is None for u in cfg.units if u.type == "commune")
