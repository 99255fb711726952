"""Trends across years (sipas.publishing.trends): a methodology change is never tested across,
comparable units are, crosswalk areas are formed from the right units, and the annex
says that comparisons are made only within a comparable method and unit.

The per-year index tables are written by hand (a few columns of the contract), so
every expected number is known; the real pipeline is exercised in test_methods_run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sipas.base.codebook import load_crosswalk, load_year
from sipas.base.config import paths as make_paths
from sipas.base.errors import SipasError
from sipas.publishing.trends import TrendsAnnex, parse_years, trends_table

REPO = Path(__file__).resolve().parents[1]
YEARS = (2022, 2023, 2025)


def fake_indices(root: Path, year: int) -> pd.DataFrame:
    """SIPAS rows for every unit and the province: estimate from a hash of the id."""
    cfg = load_year(year, root)
    rng = np.random.default_rng(year)
    rows = [{"unit_id": u.id, "estimate": 0.75 + 0.2 * rng.random(), "se": 0.01 + 0.01 * rng.random(),
             "df": 100, "n": 300} for u in cfg.units]
    rows.append({"unit_id": "province", "estimate": 0.84, "se": 0.003, "df": 2000, "n": 7000})
    df = pd.DataFrame(rows).assign(year=year, level="sipas", item_id="sipas")
    out = root / "outputs" / str(year) / "tables"
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "indices.parquet", index=False)
    return df.set_index("unit_id")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("trends") / "p"
    shutil.copytree(REPO / "params", root / "params")
    figures = {y: fake_indices(root, y) for y in YEARS}
    return root, figures


@pytest.fixture(scope="module")
def table(project):
    root, _ = project
    return trends_table("2022,2023,2025", root)


def row(t, series, year):
    r = t[(t.series_id == series) & (t.year == year)]
    assert len(r) == 1, (series, year)
    return r.iloc[0]


def test_method_break_is_never_tested_across(table):
    t = table
    after = t[(t.year == 2025) & t.previous_year.notna()]
    assert len(after) and after.break_before.all() and (after.previous_year == 2023).all()
    crossing = t[t.break_before]
    assert len(crossing) and not crossing.comparable.any()
    assert crossing[["change", "p_value", "p_adjusted"]].isna().all().all()
    assert crossing.significant.isna().all()
    assert (crossing.comparison_note.str.contains("khác phương pháp")).all()
    assert (t[t.year == 2025].segment > t[t.year == 2023].segment.max() - 1).all()
    # so-tu-phap is comparable in the crosswalk, yet not tested across the method change
    assert not row(t, "so-tu-phap", 2025).comparable


def test_comparable_units_tested_within_a_method(project, table):
    _, fig = project
    r = row(table, "so-tu-phap", 2023)
    a, b = fig[2023].loc["so-tu-phap"], fig[2022].loc["so-tu-phap"]
    assert r.comparable and r.previous_year == 2022 and not r.break_before
    assert r.change == pytest.approx(a.estimate - b.estimate)
    assert r.change_se == pytest.approx(np.hypot(a.se, b.se))
    assert 0 <= r.p_value <= r.p_adjusted <= 1 and r.significant in (True, False)
    p = row(table, "province", 2023)
    assert p.comparable and p.change == pytest.approx(0.0)
    tested = table[table.p_value.notna()]
    assert set(tested.year) == {2023} and len(tested) == len(table[table.year == 2023])


def test_areas_from_the_crosswalk(project, table):
    root, fig = project
    cw = load_crosswalk(2023, 2025, make_paths(root))
    area = next(a for a in cw.areas if len(a.to) > 2)
    r25, r23 = row(table, area.id, 2025), row(table, area.id, 2023)
    assert r25.units.split(";") == list(area.to) and r23.units.split(";") == list(area.from_)
    k = len(area.to)
    assert r25.estimate == pytest.approx(fig[2025].loc[list(area.to)].estimate.mean())
    assert r25.se == pytest.approx(np.sqrt((fig[2025].loc[list(area.to)].se ** 2).sum()) / k)
    assert r25.ci_low < r25.estimate < r25.ci_high
    merged = next(a for a in cw.areas if len(a.from_) > 1 and a.level == "department")
    assert row(table, merged.id, 2022).units.split(";") == list(merged.from_)
    # a unit no area covers is its own series, in the years it exists
    assert list(table[table.series_id == "so-dttg"].year) == [2025]


def test_same_method_across_a_crosswalk_tests_only_comparable_areas(tmp_path, project):
    """If 2025 had kept the first method, the crosswalk's `comparable` would decide."""
    src, _ = project
    root = tmp_path / "p"
    shutil.copytree(src / "params", root / "params")
    reg = yaml.safe_load((root / "params/units/2025.yaml").read_text("utf-8"))
    reg["methodology"] = load_year(2023, root).registry.methodology
    (root / "params/units/2025.yaml").write_text(yaml.safe_dump(reg, allow_unicode=True), "utf-8")
    for y in YEARS:
        fake_indices(root, y)
    t = trends_table([2023, 2025], root)
    cw = load_crosswalk(2023, 2025, make_paths(root))
    assert not t.break_before.any()
    for a in cw.areas:
        r = row(t, a.id, 2025)
        assert bool(r.comparable) == a.comparable, a.id
        assert pd.isna(r.p_value) != a.comparable
    assert not row(t, "province", 2025).comparable      # the units of the province changed


def test_annex_says_comparisons_only_within_method_and_unit(project):
    root, _ = project
    import matplotlib

    matplotlib.use("Agg")
    html = TrendsAnnex([2022, 2023, 2025], root).html()
    assert "chỉ được thực hiện giữa hai năm cùng phương pháp đo lường và cùng đơn vị" in html
    assert "Giữa năm 2023 và năm 2025, phương pháp đo lường thay đổi" in html
    assert "khác phương pháp đo lường: không so sánh" in html
    assert html.count("data:image/png;base64") == 3          # province, departments, former districts
    assert "<script" not in html
    a = TrendsAnnex("2022,2023,2025,2024", root)             # a year without tables is named, not fatal
    assert a.missing == [2024] and "2024" in a.method()


def test_parse_years_and_missing_table(project, tmp_path):
    assert parse_years("2025, 2022,2023") == [2022, 2023, 2025] and parse_years(2023) == [2023]
    with pytest.raises(SipasError):
        parse_years("hai nghìn")
    root = tmp_path / "empty"
    shutil.copytree(project[0] / "params", root / "params")
    with pytest.raises(SipasError, match="result table of 2022"):
        trends_table([2022, 2023], root)


def test_batch_trends_step_is_incremental(project):
    """A multi-year `sipas run` builds outputs/trends.html once, then only when inputs
    change, and records it in outputs/manifest.json like every artefact."""
    import json

    from sipas.running import cache
    from sipas.running.site_steps import build_site, site_ledger, trends_step

    root, _ = project
    shutil.copytree(REPO / "notebooks", root / "notebooks", dirs_exist_ok=True)
    p = make_paths(root)
    code, libs = cache.source_hash(), cache.versions()
    first = build_site(p, list(YEARS), code, libs, force=False, trends=True)
    assert [(o.step, o.ok, o.rebuilt) for o in first] == [("trends", True, True), ("site", True, True)], first
    html = (root / "outputs" / "trends.html").read_text(encoding="utf-8")
    assert "Xu hướng" in html and "<script" not in html
    m = json.loads((root / "outputs" / "manifest.json").read_text(encoding="utf-8"))
    entry = next(a for a in m["artefacts"] if a["id"] == "trends")
    assert entry["key"] == cache.key_of(entry["inputs"]) and entry["status"] == "ok"
    assert {o["path"]: o["sha256"] for o in entry["outputs"]}["trends.html"] == cache.file_sha(root / "outputs" / "trends.html")
    assert {"tables/trends.csv", "tables/trends.parquet", "notebooks/trends.ipynb"} <= {o["path"] for o in entry["outputs"]}
    assert not (root / "outputs" / "notebooks" / "trends.key").exists()
    again = build_site(p, list(YEARS), code, libs, force=False, trends=True)
    assert [(o.step, o.rebuilt) for o in again] == [("trends", False), ("site", False)]
    with site_ledger(p, max(YEARS), force=False) as ledger:
        assert ledger.decide(trends_step(p, list(YEARS), "other code", libs)) == "sipas code changed"
