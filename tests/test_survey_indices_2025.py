"""The SIPAS indices of every unit of the demo 2025 year under its household design
(communes: village -> household -> one adult, non-response adjusted by village, raked to
the margins of params/margins/2025.yaml; departments: stratified SRS of dossiers),
through the whole estimation path (``survey_design`` -> ``household_design`` ->
``compute_indices``), against R's survey package.

Input: tests/reference/sipas_demo_2025_all.csv.gz (make_sipas_fixture_2025.py: the
processed microdata joined with the sampling frame). Reference:
tests/reference/sipas_reference_2025.csv, written by make_sipas_reference_2025.R
(survey 4.1.1), which builds the weights, the two-stage design and the raking itself.
Tolerances: estimates 1e-9 relative, standard errors 1e-8 relative; n and df exact.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.base.designs import load_margins
from sipas.base.errors import SipasError
from sipas.estimation.households import FRAME_COLUMNS
from sipas.estimation.indices import compute_indices, survey_design

REPO = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
EST, SE = 1e-9, 1e-8


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    df = pd.read_csv(REF / "sipas_demo_2025_all.csv.gz", dtype={"age_band": "string"})
    assert df.unit_id.nunique() == 50
    return df


@pytest.fixture(scope="module")
def cfg(data, tmp_path_factory) -> YearConfig:
    """The project's params, and the fixture's frame as the year's sampling frame file."""
    root = tmp_path_factory.mktemp("sipas")
    shutil.copytree(REPO / "params", root / "params")
    cfg = YearConfig(2025, paths(root))
    frame = data[data.village.notna()][["respondent_id", "unit_id", *FRAME_COLUMNS]]
    path = root / "data" / "raw" / "2025" / cfg.registry.design.households.frame.format(year=2025)
    path.parent.mkdir(parents=True)
    frame.astype({c: "int64" for c in FRAME_COLUMNS if c not in ("village", "household")}).to_csv(path, index=False)
    return cfg


@pytest.fixture(scope="module")
def processed(data) -> pd.DataFrame:
    crit = [c for c in data.columns if c[:1] in "ps" and c[1:2].isdigit()]
    return data.drop(columns=FRAME_COLUMNS).astype({c: "Int16" for c in crit})


@pytest.fixture(scope="module")
def ref():
    if not (REF / "sipas_reference_2025.csv").exists():   # pragma: no cover - until R has written it
        pytest.skip("tests/reference/sipas_reference_2025.csv not yet written by make_sipas_reference_2025.R")
    table = pd.read_csv(REF / "sipas_reference_2025.csv", dtype={"value": float})
    return {(r.scope, r.item, r.stat): r.value for r in table.itertuples()}


def test_every_unit_matches_r(ref, processed, cfg):
    t = compute_indices(processed, cfg, "respondent_weighted").set_index(["unit_id", "item_id"])
    checked = 0
    for (scope, item, stat), want in ref.items():
        if scope == "design":
            continue
        got = t.loc[(scope, item), stat]
        if stat in ("n", "df"):
            assert got == want, (scope, item, stat)
        else:
            assert got == pytest.approx(want, rel=EST if stat == "estimate" else SE), (scope, item, stat)
        checked += 1
    scopes = {k[0] for k in ref} - {"design"}
    assert scopes == set(processed.unit_id) | {"province"}                 # every unit, and the province
    assert checked >= 51 * 42 * 4         # each scope's 33 content + 9 overall items x (estimate, se, n, df), ...
    assert {("xa-muong-te", "sipas", "se"), ("province", "sipas", "estimate")} <= set(ref)   # ... combinations


def test_weights_match_r(ref, processed, cfg):
    w = survey_design(processed, cfg).weights
    assert w.sum() == pytest.approx(ref[("design", "weights", "sum")], rel=EST)
    assert (w ** 2).sum() == pytest.approx(ref[("design", "weights", "sum_squares")], rel=EST)


def test_weights_are_raked_to_the_margins(processed, cfg):
    d = survey_design(processed, cfg)
    w = d.weights
    home = (processed.unit_type == "commune").to_numpy()
    adults = pd.Series(w[home]).groupby(processed.unit_id[home].to_numpy()).sum()
    margins = load_margins(cfg.paths.params, "2025.yaml")
    assert adults.to_dict() == pytest.approx(margins.adults, rel=1e-3)   # raking stops at R's epsilon = 1
    sex = pd.Series(w[home]).groupby(processed.gender[home].to_numpy()).sum()
    assert sex.to_dict() == pytest.approx(margins.margins["gender"], rel=1e-3)
    # departments keep served / n
    assert np.allclose(w[~home], processed.weight[~home])
    assert d.n_stages == 2 and d.df == d.n_psu - d.n_strata


def test_missing_frame_row_is_a_clear_error(processed, cfg):
    bad = processed.copy()
    i = int(np.flatnonzero((bad.unit_type == "commune").to_numpy())[3])
    bad.loc[i, "respondent_id"] = "2025-NOT-IN-FRAME"
    with pytest.raises(SipasError, match="not in the sampling frame") as e:
        survey_design(bad, cfg)
    assert "2025-NOT-IN-FRAME" in str(e.value) and f"row {i + 1}" in str(e.value)
