"""One pipeline for both methods: the 2017–2020 method (2023, districts) and the
2023–2026 method (2025, departments and commune-level units) go through demo data,
intake, estimation and `sipas run` on a two-unit subset of each year, with no code
that knows which method it runs. Aspect indices and their standard errors are checked
against a hand computation from the microdata."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sipas.base.codebook import YearConfig
from sipas.base.config import paths as make_paths

from .demo_project import REPO, sipas

SUBSET = {2023: ["so-tu-phap", "tam-duong"], 2025: ["so-tu-phap", "xa-muong-te"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose registries hold two units per year; demo data, intake and tables
    built in process (the command line runs the annexes)."""
    root = tmp_path_factory.mktemp("methods") / "p"
    shutil.copytree(REPO / "params", root / "params")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.rmtree(root / "params" / "crosswalk")      # its units are not all in the subset
    for year, keep in SUBSET.items():
        path = root / "params" / "units" / f"{year}.yaml"
        reg = yaml.safe_load(path.read_text("utf-8"))
        reg["units"] = [u for u in reg["units"] if u["id"] in keep]
        reg["previous_year"] = None
        if reg["design"].get("households"):     # the margins count all 38 communes: not raked here
            reg["design"]["households"].pop("margins", None)
        path.write_text(yaml.safe_dump(reg, allow_unicode=True, sort_keys=False), "utf-8")
    from sipas.demo import write_demo_data
    from sipas.estimation.tables import write_tables
    from sipas.intake import run_intake

    p = make_paths(root)
    for year in SUBSET:
        write_demo_data(year, paths=p)
        res = run_intake(year, paths=p)
        assert res.accepted + res.quarantined == res.rows_read
        write_tables(year, p)
    return root


def test_indices_have_aspects_only_for_the_second_method(project):
    for year, aspects in ((2023, set()), (2025, {"chinh_sach", "dich_vu"})):
        t = pd.read_parquet(project / f"outputs/{year}/tables/indices.parquet")
        assert set(t[t.level == "aspect"].item_id) == aspects
        unit = t[t.unit_id == "so-tu-phap"].set_index("item_id")
        cfg = YearConfig(year, make_paths(project))
        m = cfg.methodology
        tops = [a.id for a in m.aspects] or [e.id for e in m.elements]
        assert unit.loc["sipas", "estimate"] == pytest.approx(unit.loc[tops, "estimate"].mean())
        for a in m.aspects:
            els = [e.id for e in m.elements if e.aspect == a.id]
            assert unit.loc[a.id, "estimate"] == pytest.approx(unit.loc[els, "estimate"].mean())
            assert unit.loc[a.id, "parent_id"] == "" or pd.isna(unit.loc[a.id, "parent_id"])
            assert (unit.loc[els, "parent_id"] == a.id).all()
        assert (t.loc[t.unit_id == "so-tu-phap", "se"] > 0).all()


def test_aspect_se_is_the_linearised_se_of_its_criteria(project):
    """A department samples respondents (PSU = respondent, fpc = N): the SE of an aspect
    index by hand, from the influence values of its items' ratios."""
    cfg = YearConfig(2025, make_paths(project))
    m = cfg.methodology
    df = pd.read_parquet(project / "data/processed/2025/responses.parquet")
    d = df[df.unit_id == "so-tu-phap"]
    t = pd.read_parquet(project / "outputs/2025/tables/indices.parquet")
    got = t[t.unit_id == "so-tu-phap"].set_index("item_id")
    w = d["weight"].to_numpy()
    n, N = len(d), float(d["fpc"].iloc[0])
    for target in [m.aspects[0].id, "sipas"]:
        z = np.zeros(n)
        for e in m.elements:
            if target != "sipas" and e.aspect != target:
                continue
            # the element's index: its overall item's (aggregation.element: overall_item) or
            # the mean of its content criteria
            members = [e.overall] if m.aggregation.element == "overall_item" else e.criteria
            c_e = (1 / len(members)) * (1 / sum(x.aspect == e.aspect for x in m.elements))
            if target == "sipas":
                c_e /= len(m.aspects)
            for c in members:
                y = d[c.id].astype("float")
                x = y.isin(m.scale_of(c).valid_codes).to_numpy(float)
                pos = y.isin(m.scale_of(c).positive).to_numpy(float)
                r = (w * pos).sum() / (w * x).sum()
                z += c_e * w * (pos - r * x) / (w * x).sum()
        var = (1 - n / N) * n / (n - 1) * ((z - z.mean()) ** 2).sum()
        assert got.loc[target, "se"] == pytest.approx(np.sqrt(var), rel=1e-6), target


def test_run_each_method_with_its_sections(project):
    proc = sipas(project, "run", "--year", "2023,2025", "--jobs", "2")
    assert "failed" in proc.stderr and ", 0 failed" in proc.stderr, proc.stderr[-2000:]
    for year in SUBSET:
        out = project / "outputs" / str(year)
        cfg = YearConfig(year, make_paths(project))
        for u in SUBSET[year]:
            text = (out / "units" / f"{u}.html").read_text("utf-8")
            unit = cfg.registry.unit(u)
            assert unit.name in text and cfg.registry.unit_type(unit.type).label_plural in text
            has_perceptions = bool(cfg.methodology.perceptions)
            assert ("Nhận thức của người dân, tổ chức" in text) == has_perceptions
            assert ("Chỉ số chung của khía cạnh" in text) == bool(cfg.methodology.aspects)
            assert ("Rất nhiều" in text) == bool(cfg.methodology.expectations.rated)
            assert "<script" not in text and "import " not in text
        prov = (out / "province.html").read_text("utf-8")
        assert ("Nhận thức của người dân, tổ chức" in prov) == bool(cfg.methodology.perceptions)
    assert "UBND các xã, phường" in (project / "outputs/2025/units/xa-muong-te.html").read_text("utf-8")
