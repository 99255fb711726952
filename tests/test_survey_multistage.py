"""Multistage designs and totals against R's survey package (apiclus2).

Reference values: tests/reference/make_multistage_reference.R (survey 4.1.1), which also
exported tests/reference/apiclus2.csv; R is not needed to run these tests. Tolerances:
estimates and interval limits 1e-9 relative, SEs and design effects 1e-8 relative,
p-values 1e-8 absolute; degrees of freedom exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas.base.errors import SipasError
from sipas.estimation.survey import SurveyDesign

REF = Path(__file__).parent / "reference"
EST, SE, P = 1e-9, 1e-8, 1e-8
TOL = {"estimate": EST, "ci_low": EST, "ci_high": EST, "se": SE, "deff": SE}


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "multistage_reference.csv", keep_default_na=False, dtype={"value": float})

    def get(case, stat, domain=""):
        hit = table[(table.case == case) & (table.stat == stat) & (table.domain == domain)]
        assert len(hit) == 1, (case, stat, domain)
        return hit.value.item()
    return get


@pytest.fixture(scope="module")
def clus2():
    return pd.read_csv(REF / "apiclus2.csv")


@pytest.fixture(scope="module")
def d2(clus2):
    return SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])


def check(row, ref, case, domain="", stats=("estimate", "se", "df", "ci_low", "ci_high")):
    for s in stats:
        if s == "df":
            assert row[s] == ref(case, s, domain), (case, domain, s)
        else:
            assert row[s] == pytest.approx(ref(case, s, domain), rel=TOL[s]), (case, domain, s)


def test_weights_derived_from_fpc(d2, clus2, ref):
    """R's svydesign without weights: the product over stages of N/n (= apiclus2$pw)."""
    assert np.abs(d2.weights - clus2.pw).max() < 1e-9
    assert d2.n_stages == 2 and d2.n_psu == 40 and d2.df == 39


def test_two_stage_mean_total_ratio(d2, ref):
    check(d2.mean("api00").iloc[0], ref, "clus2_mean_api00", stats=("estimate", "se", "deff", "df", "ci_low", "ci_high"))
    check(d2.total("enroll").iloc[0], ref, "clus2_total_enroll", stats=("estimate", "se", "deff", "df"))
    check(d2.ratio("api.stu", "enroll").iloc[0], ref, "clus2_ratio", stats=("estimate", "se"))


def test_two_stage_is_not_the_ultimate_cluster(clus2, d2, ref):
    """The issue's point: ignoring the second stage gives a different (smaller) SE."""
    uc = SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"], ultimate_cluster=True)
    check(uc.mean("api00").iloc[0], ref, "clus2_uc_mean_api00")
    assert uc.mean("api00").se.item() < d2.mean("api00").se.item() * 0.999
    row = uc.chisq("sch.wide", "stype").iloc[0]
    assert row.F == pytest.approx(ref("clus2_uc_chisq_schwide_stype", "F"), rel=EST)
    assert row.p_value == pytest.approx(ref("clus2_uc_chisq_schwide_stype", "p"), abs=P)


def test_two_stage_proportion_intervals(d2, ref):
    for method, prefix in (("logit", "logit"), ("beta", "beta"), ("wald", "mean")):
        row = d2.proportion("sch.wide", value="Yes", method=method).iloc[0]
        assert row.estimate == pytest.approx(ref("clus2_prop_schwide", "estimate"), rel=EST)
        assert row.se == pytest.approx(ref("clus2_prop_schwide", "se"), rel=SE)
        assert row.ci_low == pytest.approx(ref("clus2_prop_schwide", f"{prefix}_ci_low"), rel=EST)
        assert row.ci_high == pytest.approx(ref("clus2_prop_schwide", f"{prefix}_ci_high"), rel=EST)


def test_two_stage_domains(d2, ref):
    """svyby over a variable that cuts across PSUs and second-stage units."""
    for _, row in d2.mean("api00", by="stype").iterrows():
        check(row, ref, "clus2_mean_api00_by_stype", row.stype, ("estimate", "se", "deff", "df"))
    for _, row in d2.total("enroll", by="stype").iterrows():
        check(row, ref, "clus2_total_enroll_by_stype", row.stype, ("estimate", "se", "df"))
    for _, row in d2.proportion("sch.wide", value="Yes", by="stype").iterrows():
        case = "clus2_prop_schwide_by_stype"
        assert row.se == pytest.approx(ref(case, "se", row.stype), rel=SE)
        assert row.ci_low == pytest.approx(ref(case, "logit_ci_low", row.stype), rel=EST)


@pytest.mark.parametrize("row_var, case", [("sch.wide", "clus2_chisq_schwide_stype"),
                                           ("awards", "clus2_chisq_awards_stype")])
def test_two_stage_chisq(d2, ref, row_var, case):
    row = d2.chisq(row_var, "stype").iloc[0]
    assert row.F == pytest.approx(ref(case, "F"), rel=EST)
    assert row.ndf == pytest.approx(ref(case, "ndf"), rel=EST)
    assert row.ddf == pytest.approx(ref(case, "ddf"), rel=EST)
    assert row.p_value == pytest.approx(ref(case, "p"), abs=P)


def test_fpc_as_sampling_fractions(clus2, ref):
    d = SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["frac1", "frac2"])
    check(d.mean("api00").iloc[0], ref, "clus2_frac_mean_api00")


def test_stratified_two_stage(clus2, ref):
    d = SurveyDesign(clus2, strata="str1", psu=["dnum", "snum"], fpc=["sfpc1", "fpc2"])
    assert d.weights.sum() == pytest.approx(ref("clus2_strat_weights", "sum"), rel=1e-12)
    check(d.mean("api00").iloc[0], ref, "clus2_strat_mean_api00")
    check(d.total("enroll").iloc[0], ref, "clus2_strat_total_enroll")
    for _, row in d.mean("api00", by="stype").iterrows():
        check(row, ref, "clus2_strat_mean_api00_by_stype", row.stype)


@pytest.mark.parametrize("option", ["adjust", "remove", "certainty"])
def test_lonely_second_stage_units(clus2, ref, option):
    d = SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "lfpc2"], weights="pw", lonely_psu=option)
    check(d.mean("api00").iloc[0], ref, f"clus2_lonely_{option}_mean")
    check(d.total("enroll").iloc[0], ref, f"clus2_lonely_{option}_total")


def test_lonely_second_stage_fails_by_default(clus2):
    with pytest.raises(SipasError, match="single sampled unit at stage 2"):
        SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "lfpc2"], weights="pw")


def test_multistage_errors(clus2):
    with pytest.raises(SipasError, match="3 fpc columns for a design of 2 stage"):
        SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2", "fpc2"])
    with pytest.raises(SipasError, match="mixes sampling fractions"):
        bad = np.where(clus2.dnum == clus2.dnum.iloc[0], 0.5, clus2.fpc2)
        SurveyDesign(clus2.assign(bad=bad), psu=["dnum", "snum"], fpc=["fpc1", "bad"], weights="pw")
    with pytest.raises(SipasError, match="weights cannot be derived"):
        SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1"])


def test_change_with_shared_psus():
    """Two 'years' surveying the same districts: the stacked design's contrast carries
    the (positive) covariance, so its SE is below the independent-samples SE; with the
    PSUs relabelled as disjoint the two agree (as R's svycontrast on stacked designs)."""
    from sipas.estimation.survey import difference
    clus = pd.read_csv(REF.parent / "reference" / "apiclus1.csv")
    a = clus.assign(year=2023, y=clus.api99)
    b = clus.assign(year=2025, y=clus.api00)
    shared = pd.concat([a, b], ignore_index=True)
    d = SurveyDesign(shared, psu="dnum", weights="pw")
    joint = d.estimate({"y": "y"}, by="year").difference(2025, 2023).iloc[0]
    indep = difference(SurveyDesign(b, psu="dnum", weights="pw").mean("y").iloc[0],
                       SurveyDesign(a, psu="dnum", weights="pw").mean("y").iloc[0])
    assert joint.estimate == pytest.approx(indep.estimate.item(), rel=1e-12)
    assert joint.se < 0.5 * indep.se.item()
    disjoint = shared.assign(psu=shared.dnum.astype(str) + "_" + shared.year.astype(str),
                             stratum=shared.year)
    d2 = SurveyDesign(disjoint, strata="stratum", psu="psu", weights="pw")
    sep = d2.estimate({"y": "y"}, by="year").difference(2025, 2023).iloc[0]
    assert sep.se == pytest.approx(indep.se.item(), rel=1e-12)
