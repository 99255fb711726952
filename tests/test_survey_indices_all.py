"""The R comparison of tests/test_survey_indices.py on EVERY unit of the demo 2023 year.

Input: tests/reference/sipas_demo_2023_all.csv.gz (all 24 units, 7,474 questionnaires,
make_sipas_fixture.py --all); reference: tests/reference/sipas_reference_all.csv, written
by ``Rscript make_sipas_reference.R sipas_demo_2023_all.csv.gz sipas_reference_all.csv``
(survey 4.1.1). Same tests and tolerances as the six-unit file: every criterion,
element and SIPAS estimate, SE, n and df per unit, peer group and province under both
aggregations, the intervals and design effects, and one Rao-Scott test per unit.
"""

from __future__ import annotations

import pandas as pd
import pytest

from .test_survey_indices import (  # noqa: F401  (fixtures, resolved against this module's data)
    REF,
    cfg,
    tables,
    test_criterion_intervals_and_deff_match_r,
    test_every_unit_and_weighted_scope_matches_r,
    test_rao_scott_per_unit_matches_r,
    test_unit_mean_scopes_match_r,
)

__all__ = ["test_criterion_intervals_and_deff_match_r", "test_every_unit_and_weighted_scope_matches_r",
           "test_rao_scott_per_unit_matches_r", "test_unit_mean_scopes_match_r"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    df = pd.read_csv(REF / "sipas_demo_2023_all.csv.gz")
    assert df.unit_id.nunique() == 24
    return df


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "sipas_reference_all.csv", dtype={"value": float})
    return {(r.scope, r.item, r.stat): r.value for r in table.itertuples()}
