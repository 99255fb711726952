"""Replicate-weight designs against R's survey package (as.svrepdesign JK1 and JKn),
and the bootstrap against the linearised variance.

Reference values: tests/reference/make_replicate_reference.R (survey 4.1.1); R is not
needed to run these tests. Tolerances: estimates, weights and interval limits 1e-9
relative, SEs 1e-8 relative; logit interval limits 2e-8 relative (R fits each
replicate's logit by iteratively reweighted least squares, stopped at a relative
deviance change of 1e-8; the limits here use the exact logits); degrees of freedom exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas.base.errors import SipasError
from sipas.estimation.survey import SurveyDesign

REF = Path(__file__).parent / "reference"
EST, SE = 1e-9, 1e-8
LOGIT = 2e-8   # logit intervals: R fits each replicate by svyglm (IRLS), converged to ~1e-9


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "replicate_reference.csv", keep_default_na=False, dtype={"value": float})

    def get(case, stat, domain="", many=False):
        hit = table[(table.case == case) & (table.stat == stat) & (table.domain == domain)]
        assert len(hit) >= 1 if many else len(hit) == 1, (case, stat, domain)
        return hit.value.to_numpy() if many else hit.value.item()
    return get


@pytest.fixture(scope="module")
def clus():
    return pd.read_csv(REF / "apiclus1.csv")


@pytest.fixture(scope="module")
def strat():
    return pd.read_csv(REF / "apistrat.csv")


def designs(clus, strat):
    return {
        "jk1": SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc").replicate("JK1"),
        "jk1_nofpc": SurveyDesign(clus, psu="dnum", weights="pw").replicate("JK1"),
        "jkn": SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc").replicate("JKn"),
        "jkn_clus": SurveyDesign(clus, strata="lstrat", psu="dnum", weights="pw", fpc="lfpc",
                                 lonely_psu="remove").replicate("JKn"),
    }


def close(row, ref, case, domain=""):
    assert row.estimate == pytest.approx(ref(case, "estimate", domain), rel=EST), case
    assert row.se == pytest.approx(ref(case, "se", domain), rel=SE), case


@pytest.mark.parametrize("name", ["jk1", "jk1_nofpc", "jkn", "jkn_clus"])
def test_jackknife_against_r(clus, strat, ref, name):
    d = designs(clus, strat)[name]
    rep = d.replicates
    assert rep.factors.shape[1] == ref(name, "replicates")
    assert rep.scale == pytest.approx(ref(name, "scale"), rel=EST)
    assert np.sort(rep.rscales) == pytest.approx(np.sort(ref(name, "rscales", many=True)), rel=EST)
    assert d.df == ref(name, "df")
    close(d.mean("api00").iloc[0], ref, f"{name}_mean_api00")
    close(d.total("enroll").iloc[0], ref, f"{name}_total_enroll")
    close(d.ratio("api.stu", "enroll").iloc[0], ref, f"{name}_ratio")
    p = d.proportion("sch.wide", value="Yes").iloc[0]
    close(p, ref, f"{name}_ciprop")
    assert (p.ci_low, p.ci_high) == pytest.approx((ref(f"{name}_ciprop", "ci_low"),
                                                   ref(f"{name}_ciprop", "ci_high")), rel=LOGIT)
    for _, row in d.mean("api00", by="awards").iterrows():
        close(row, ref, f"{name}_by_awards", row.awards)
    close(d.estimate({"api00": "api00"}, by="awards").difference("No", "Yes").iloc[0], ref,
          f"{name}_contrast_awards")
    for _, row in d.proportion("sch.wide", value="Yes", by="stype").iterrows():
        case = f"{name}_ciprop_by_stype"
        assert row.se == pytest.approx(ref(case, "se", row.stype), rel=SE)
        assert row.ci_low == pytest.approx(ref(case, "ci_low", row.stype), rel=LOGIT), (case, row.stype)
        assert row.df == ref(case, "df", row.stype)


def test_exported_replicate_weights(clus, strat, ref):
    """The exported weights are R's weights(design, "analysis"), in R's column order
    for JK1 (replicate j drops PSU j, PSUs in sorted order as R's first appearance is
    not: compare as sets of columns)."""
    d = designs(clus, strat)["jk1"]
    W = d.replicate_weights()
    assert W.shape == (len(clus), 15) and list(W.columns[:2]) == ["repw_01", "repw_02"]
    assert sorted(W.iloc[0].round(9)) == sorted(np.round(ref("jk1", "repw_row1", many=True), 9))
    # replicate estimates from the exported weights reproduce the replicate SE
    y = clus.api00.to_numpy()
    thetas = (W.to_numpy() * y[:, None]).sum(0) / W.to_numpy().sum(0)
    se = np.sqrt(d.replicates.scale * ((thetas - thetas.mean()) ** 2).sum())
    assert se == pytest.approx(d.mean("api00").se.item(), rel=1e-12)


def test_bootstrap_is_seeded_and_close_to_linearised(strat):
    base = SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc")
    a = base.replicate("bootstrap", replicates=2000, seed=7).mean("api00").se.item()
    b = base.replicate("bootstrap", replicates=2000, seed=7).mean("api00").se.item()
    c = base.replicate("bootstrap", replicates=2000, seed=8).mean("api00").se.item()
    lin = base.mean("api00").se.item()
    assert a == b and a != c
    assert a == pytest.approx(lin, rel=0.05)   # 2000 draws: Monte Carlo error ~ 1.6 %


def test_replicate_errors(clus, strat):
    with pytest.raises(SipasError, match="JK1 replicates are for unstratified"):
        SurveyDesign(strat, strata="stype", weights="pw").replicate("JK1")
    with pytest.raises(SipasError, match="unknown replicate type"):
        SurveyDesign(clus, psu="dnum", weights="pw").replicate("BRR")
    with pytest.raises(SipasError, match="no replicate weights"):
        SurveyDesign(clus, psu="dnum", weights="pw").replicate_weights()
    with pytest.raises(SipasError, match="calibrating a replicate design"):
        SurveyDesign(clus, psu="dnum", weights="pw").replicate("JK1").poststratify("stype", {"E": 1, "H": 1, "M": 1})
