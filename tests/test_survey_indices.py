"""SIPAS indices with design-based statistics against R's survey package.

Input: tests/reference/sipas_demo_2023.csv, six whole units of the demo 2023 data
(make_sipas_fixture.py). Reference: tests/reference/sipas_reference.csv, written by
make_sipas_reference.R (survey 4.1.1) from the same file. Tolerances: estimates and
interval limits 1e-9 relative, standard errors and design effects 1e-8 relative,
p-values 1e-9 absolute; counts and degrees of freedom exact. Logit intervals 1e-7: R
gets them from svyglm, fitted by IRLS to glm's convergence tolerance, ours are exact.
R names elements by their criteria's prefix (c1 ...), the methodology's ids are e1 ....
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.estimation.indices import (
    COLUMNS,
    FLAG_REVIEW,
    FLAG_SUPPRESS,
    compute_indices,
    flag_footnote,
    reliability_flag,
    survey_design,
)

REPO = Path(__file__).resolve().parents[1]
REF = Path(__file__).parent / "reference"
EST, SE, P, LOGIT = 1e-9, 1e-8, 1e-9, 1e-7
ELEMENT = {f"c{k}": f"e{k}" for k in range(1, 6)}  # R's element names -> ours


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "sipas_demo_2023.csv")


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "sipas_reference.csv", dtype={"value": float})
    return {(r.scope, r.item, r.stat): r.value for r in table.itertuples()}


@pytest.fixture(scope="module")
def cfg(data, tmp_path_factory) -> YearConfig:
    """A project holding the real methodology and a registry of the fixture's six units."""
    root = tmp_path_factory.mktemp("sipas")
    (root / "params" / "units").mkdir(parents=True)
    shutil.copytree(REPO / "params" / "methodology", root / "params" / "methodology")
    shutil.copy(REPO / "params" / "fields.yaml", root / "params" / "fields.yaml")
    (root / "params" / "settings.yaml").write_text('province: "Lai Châu"\n', encoding="utf-8")
    units = []
    for uid, g in data.groupby("unit_id", sort=False):
        unit = {"id": uid, "name": uid, "type": g.unit_type.iloc[0], "served": int(round(g.weight.sum()))}
        if unit["type"] == "district":
            unit["communes"] = sorted(g.psu.unique())
        units.append(unit)
    registry = {
        "year": 2023, "methodology": "sipas-2017",
        "survey_period": {"start": "2023-08-01", "end": "2023-10-31"},
        "design": {"psu": {"district": "commune", "department": "respondent_id"}, "fpc": True,
                   "lonely_psu": "adjust"},
        "unit_types": [{"id": "department", "label": "Sở", "label_plural": "Các sở"},
                       {"id": "district", "label": "Huyện", "label_plural": "Các huyện"}],
        "units": units,
    }
    (root / "params" / "units" / "2023.yaml").write_text(yaml.safe_dump(registry, allow_unicode=True),
                                                        encoding="utf-8")
    return YearConfig(2023, paths(root))


@pytest.fixture(scope="module")
def tables(data, cfg):
    return {how: compute_indices(data, cfg, how).set_index(["unit_id", "item_id"])
            for how in ("unit_mean", "respondent_weighted")}


def scopes(ref, suffix=""):
    return sorted({k[0] for k in ref if k[0].endswith(suffix) and ("@" in k[0]) == bool(suffix)})


def test_columns(tables):
    assert set(tables["unit_mean"].reset_index().columns) == set(COLUMNS)  # order: test_indices.py


def test_every_unit_and_weighted_scope_matches_r(ref, tables, data):
    t = tables["respondent_weighted"]
    checked = 0
    for scope in scopes(ref):
        for (s, item, stat), want in ref.items():
            if s != scope or stat not in ("estimate", "se", "n", "df") or item.startswith(("chisq", "peer")):
                continue
            got = t.loc[(scope, ELEMENT.get(item, item)), stat]
            if stat in ("n", "df"):
                assert got == want, (scope, item, stat)
            else:
                assert got == pytest.approx(want, rel=EST if stat == "estimate" else SE), (scope, item, stat)
            checked += 1
    # every unit, both peer groups and the province x (22 criteria + 5 elements + SIPAS) x 4 stats
    assert checked == (data.unit_id.nunique() + 2 + 1) * 28 * 4


def test_unit_mean_scopes_match_r(ref, tables):
    t = tables["unit_mean"]
    for scope in scopes(ref, "@unit_mean"):
        sid = scope.split("@")[0]
        for item in ["c1", "c2", "c3", "c4", "c5", "sipas"]:
            row = t.loc[(sid, ELEMENT.get(item, item))]
            assert row.estimate == pytest.approx(ref[(scope, item, "estimate")], rel=EST), (scope, item)
            assert row.se == pytest.approx(ref[(scope, item, "se")], rel=SE), (scope, item)
            assert row.aggregation == "unit_mean"


def test_criterion_intervals_and_deff_match_r(ref, data, cfg, tables):
    beta = compute_indices(data, cfg, ci_method="beta").set_index(["unit_id", "item_id"])
    logit = tables["unit_mean"]
    crit = [c for c in data.columns if c[:1] == "c" and c[1].isdigit()]
    for unit in data.unit_id.unique():
        for c in crit:
            row = logit.loc[(unit, c)]
            assert row.deff == pytest.approx(ref[(unit, c, "deff")], rel=SE, nan_ok=True), (unit, c)
            if 0 < row.estimate < 1:
                assert row.ci_method == "logit"
                assert row.ci_low == pytest.approx(ref[(unit, c, "logit_ci_low")], rel=LOGIT), (unit, c)
                assert row.ci_high == pytest.approx(ref[(unit, c, "logit_ci_high")], rel=LOGIT), (unit, c)
            b = beta.loc[(unit, c)]
            assert b.ci_method == "beta"
            if 0 < b.estimate < 1:
                assert b.ci_low == pytest.approx(ref[(unit, c, "beta_ci_low")], rel=EST), (unit, c)
                assert b.ci_high == pytest.approx(ref[(unit, c, "beta_ci_high")], rel=EST), (unit, c)
            else:  # R: NaN (0/0 effective n); ours: effective n = n, as NCHS
                assert np.isnan(ref[(unit, c, "beta_ci_low")]) and b.estimate == 1
                assert b.ci_high == 1 and 0.9 < b.ci_low < 1
                assert (row.ci_method, row.ci_low, row.ci_high) == ("beta", b.ci_low, b.ci_high)


def test_rao_scott_per_unit_matches_r(ref, data, cfg):
    code = data["c2_5"]
    df = data.assign(c2_5_pos=np.where(code.isin([1, 2, 3, 4, 5]), code.isin([4, 5]).astype(float), np.nan))
    res = survey_design(df, cfg).chisq("c2_5_pos", "age_band", by="unit_id").set_index("unit_id")
    assert len(res) == data.unit_id.nunique()
    for unit, row in res.iterrows():
        key = "chisq_c2_5_age_band"
        for s in ("F", "ndf", "ddf"):
            assert row[s] == pytest.approx(ref[(unit, key, s)], rel=SE), (unit, s)
        assert row.p_value == pytest.approx(ref[(unit, key, "p")], abs=P), unit


def test_flags(tables):
    t = tables["unit_mean"]
    # 2017–2020 method (issue 13): districts sample dossiers, not 3-5 communes, so their
    # figures have hundreds of degrees of freedom and no design-made "review" flag
    assert (t.loc["tp-lai-chau", "df"] >= 100).all()
    assert FLAG_REVIEW not in set(t.loc["tp-lai-chau", "flag"])
    assert (t.loc["so-khcn", "df"] >= 8).all()


def test_reliability_rule():
    est = np.array([0.8, 0.8, 0.8, 0.5, 0.10, np.nan])
    se = np.array([0.01, 0.01, 0.2, 0.01, 0.04, np.nan])
    n = np.array([500, 500, 500, 20, 200, 0])
    df = np.array([100, 5, 100, 19, 100, 0])
    n_eff = np.array([500, 500, 500, 20, 60, np.nan])
    assert list(reliability_flag(est, se, n, df, n_eff)) == [
        "", FLAG_REVIEW, FLAG_SUPPRESS,  # wide interval
        FLAG_SUPPRESS,                   # effective n below 30
        FLAG_SUPPRESS,                   # interval wider than 130% of the estimate
        ""]                              # no estimate


def test_footnote_is_vietnamese_and_names_the_thresholds():
    text = flag_footnote([FLAG_SUPPRESS, ""])
    assert "cỡ mẫu hiệu dụng dưới 30" in text and "30 điểm phần trăm" in text
    assert "bậc tự do" not in text
    assert "dưới 8 bậc tự do" in flag_footnote([FLAG_REVIEW])
