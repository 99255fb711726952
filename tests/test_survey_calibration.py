"""Calibrated designs against R's survey package: postStratify, rake, calibrate.

Reference values: tests/reference/make_calibration_reference.R (survey 4.1.1, MASS), on
apiclus1 and apiclus2 with the population figures of R's help pages; R is not needed
to run these tests. Tolerances: estimates and weights 1e-9 relative, SEs 1e-8
relative, p-values 1e-8 absolute. Where calibration makes an SE zero (a share raked to
its own margin), the residual variance is a difference of terms of the uncalibrated
size, exact to about 1e-8 of the uncalibrated SE: those SEs are compared to within 1e-9
of the estimate, and their intervals to 1e-8.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sipas.base.errors import SipasError
from sipas.estimation.survey import SurveyDesign

REF = Path(__file__).parent / "reference"
EST, SE, P = 1e-9, 1e-8, 1e-8
TYPES = {"E": 4421, "H": 755, "M": 1018}
SCHWIDE = {"No": 1072, "Yes": 5122}
TOTALS = {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018}
API99 = {**TOTALS, "api99": 3914069}


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "calibration_reference.csv", keep_default_na=False, dtype={"value": float})

    def get(case, stat, domain="", many=False):
        hit = table[(table.case == case) & (table.stat == stat) & (table.domain == domain)]
        assert len(hit) >= 1 if many else len(hit) == 1, (case, stat, domain)
        return hit.value.to_numpy() if many else hit.value.item()
    return get


@pytest.fixture(scope="module")
def dclus1():
    clus = pd.read_csv(REF / "apiclus1.csv")
    clus["schwide_yes"] = (clus["sch.wide"] == "Yes").astype(float)
    return SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")


CASES = {
    "post": lambda d: d.poststratify("stype", TYPES),
    "rake": lambda d: d.rake({"stype": TYPES, "sch.wide": SCHWIDE}),
    "greg": lambda d: d.calibrate(["stype"], TOTALS),
    "greg_api99": lambda d: d.calibrate(["stype", "api99"], API99),
    "raking_bounded": lambda d: d.calibrate(["stype", "api99"], API99, calfun="raking", bounds=(0.6, 1.6)),
    "raking": lambda d: d.calibrate(["stype", "api99"], API99, calfun="raking"),
    "logit": lambda d: d.calibrate(["stype", "api99"], API99, calfun="logit", bounds=(0.5, 2.5)),
    "linear_bounded": lambda d: d.calibrate(["stype", "api99"], API99, calfun="linear", bounds=(0.6, 1.6)),
    "post_then_greg": lambda d: d.poststratify("stype", TYPES).calibrate(
        ["api99"], {"(Intercept)": 6194, "api99": 3914069}),
}


def close(row, ref, case, domain=""):
    assert row.estimate == pytest.approx(ref(case, "estimate", domain), rel=EST), case
    # an SE below 1e-9 of its estimate is zero up to rounding (e.g. a raked-to margin)
    assert row.se == pytest.approx(ref(case, "se", domain), rel=SE, abs=1e-9 * abs(row.estimate)), case


@pytest.mark.parametrize("name", list(CASES))
def test_calibrated_estimates(dclus1, ref, name):
    d = CASES[name](dclus1)
    assert d.weights.sum() == pytest.approx(ref(f"{name}_weights", "sum"), rel=EST)
    assert d.weights[:5] == pytest.approx(ref(f"{name}_weights", "first", many=True), rel=EST)
    close(d.total("enroll").iloc[0], ref, f"{name}_total_enroll")
    close(d.mean("api00").iloc[0], ref, f"{name}_mean_api00")
    close(d.mean("schwide_yes").iloc[0], ref, f"{name}_mean_schwide")
    p = d.proportion("sch.wide", value="Yes").iloc[0]
    assert (p.ci_low, p.ci_high) == pytest.approx((ref(f"{name}_ciprop", "ci_low"),
                                                   ref(f"{name}_ciprop", "ci_high")), rel=EST, abs=1e-8)
    for _, row in d.mean("api00", by="awards").iterrows():
        close(row, ref, f"{name}_mean_api00_by_awards", row.awards)
    lin = d.estimate({"api00": "api00"}, by="awards")
    c = lin.difference("No", "Yes").iloc[0]
    close(c, ref, f"{name}_contrast_awards")
    t = d.chisq("sch.wide", "awards").iloc[0]
    assert t.F == pytest.approx(ref(f"{name}_chisq", "F"), rel=EST)
    assert t.p_value == pytest.approx(ref(f"{name}_chisq", "p"), abs=P)


def test_calibration_changes_the_variance(dclus1):
    """Post-stratifying on stype removes the between-type part of the total's variance."""
    before = dclus1.total("enroll").se.item()
    after = dclus1.poststratify("stype", TYPES).total("enroll").se.item()
    assert after < before * 0.9


def test_bounds_bind(dclus1):
    g = CASES["raking_bounded"](dclus1).weights / dclus1.weights
    assert g.min() >= 0.6 - 1e-9 and g.max() <= 1.6 + 1e-9
    free = CASES["raking"](dclus1).weights / dclus1.weights
    assert free.max() > 1.6 or free.min() < 0.6


def test_raked_two_stage(ref):
    clus2 = pd.read_csv(REF / "apiclus2.csv")
    d = SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]).rake({"stype": TYPES, "sch.wide": SCHWIDE})
    close(d.mean("api00").iloc[0], ref, "clus2_rake_mean_api00")
    close(d.total("enroll").iloc[0], ref, "clus2_rake_total_enroll")


def test_calibration_errors(dclus1):
    with pytest.raises(SipasError, match="column 'stype'.*no population count"):
        dclus1.poststratify("stype", {"E": 4421, "H": 755})
    with pytest.raises(SipasError, match="do not match the model matrix"):
        dclus1.calibrate(["stype"], {"(Intercept)": 6194, "stypeH": 755})
    with pytest.raises(SipasError, match="logit calibration needs finite bounds"):
        dclus1.calibrate(["stype"], TOTALS, calfun="logit")
    with pytest.raises(SipasError, match="unknown calibration function"):
        dclus1.calibrate(["stype"], TOTALS, calfun="probit")


def test_nonresponse_adjustment_by_weighting_class():
    """Hand calculation: class a has weights 2, 2, 4 (the 4 did not respond): the
    respondents carry 8/4 = 2 times their weight; class b all responded."""
    from sipas.estimation.survey import nonresponse_adjustment
    df = pd.DataFrame({"w": [2.0, 2, 4, 3, 3], "r": [True, True, False, True, True],
                       "cls": ["a", "a", "a", "b", "b"]})
    out = nonresponse_adjustment(df, "w", "r", "cls")
    assert out.tolist() == [4.0, 4.0, 0.0, 3.0, 3.0]
    assert out.sum() == df.w.sum()
    with pytest.raises(SipasError, match="row 3.*no respondents"):
        nonresponse_adjustment(df.assign(cls=["a", "a", "c", "b", "b"]), "w", "r", "cls")
