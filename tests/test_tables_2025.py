"""The 2025 tables (household design): ``build_tables`` builds the year's design once -
reading the sampling frame and raking the weights is the slow part of a 2025 run - and
hands it to the index, test, rank and driver tables, which get what each of them computes
when it builds the design itself. One 2025 demo project (demo data, intake) for the module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
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
