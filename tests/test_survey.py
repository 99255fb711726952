"""sipas.estimation.survey against R's survey package (reference values: tests/reference/).

The numbers come from tests/reference/make_reference.R (survey 4.1.1), which also
exported the data read here; R is not needed to run these tests. Tolerances: point
estimates and interval limits 1e-9 relative, standard errors and design effects 1e-8
relative, p-values 1e-9 absolute; degrees of freedom and counts exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sipas.base.errors import SipasError
from sipas.estimation.survey import COLUMNS, SurveyDesign, difference, interval

REF = Path(__file__).parent / "reference"
EST, SE, P = 1e-9, 1e-8, 1e-9


@pytest.fixture(scope="module")
def ref():
    table = pd.read_csv(REF / "api_reference.csv", keep_default_na=False, dtype={"value": float})

    def get(case, stat, domain=""):
        hit = table[(table.case == case) & (table.stat == stat) & (table.domain == domain)]
        assert len(hit) == 1, (case, stat, domain)
        return hit.value.item()
    return get


@pytest.fixture(scope="module")
def strat():
    return pd.read_csv(REF / "apistrat.csv")


@pytest.fixture(scope="module")
def clus():
    return pd.read_csv(REF / "apiclus1.csv")


@pytest.fixture(scope="module")
def dstrat(strat):
    return SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc")


@pytest.fixture(scope="module")
def dclus1(clus):
    return SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")


def check_row(row, ref, case, domain="", stats=("estimate", "se", "deff", "df", "ci_low", "ci_high")):
    tol = {"estimate": EST, "ci_low": EST, "ci_high": EST, "se": SE, "deff": SE}
    for s in stats:
        if s in ("df", "n"):
            assert row[s] == ref(case, s, domain), (case, domain, s)
        else:
            assert row[s] == pytest.approx(ref(case, s, domain), rel=tol[s]), (case, domain, s)


# --------------------------------------------------------------------- means


def test_issue_figures(dstrat, dclus1):
    """The figures quoted in issue 3, at the precision R prints them."""
    s = dstrat.mean("api00").iloc[0]
    assert (round(s.estimate, 2), round(s.se, 4)) == (662.29, 9.4089)
    c = dclus1.mean("api00").iloc[0]
    assert (round(c.estimate, 3), round(c.se, 3), round(c.deff, 4)) == (644.169, 23.542, 9.3459)
    assert dclus1.df == 14


def test_table_columns(dclus1):
    t = dclus1.mean("api00", by="stype")
    assert list(t.columns) == ["stype", "variable", *COLUMNS]
    assert list(t.stype) == ["E", "H", "M"]


@pytest.mark.parametrize("design, case", [("dstrat", "strat_mean_api00"), ("dclus1", "clus1_mean_api00")])
def test_mean(request, ref, design, case):
    d = request.getfixturevalue(design)
    check_row(d.mean("api00").iloc[0], ref, case)
    for _, row in d.mean("api00", by="stype").iterrows():
        check_row(row, ref, f"{case}_by_stype", row.stype)


def test_domain_uses_whole_design_not_a_subset(clus, dclus1):
    """Subsetting rows before designing drops PSUs and gives another (wrong) SE."""
    by = dclus1.mean("api00", by="stype").set_index("stype")
    sub = SurveyDesign(clus[clus.stype == "M"], psu="dnum", weights="pw", fpc="fpc").mean("api00")
    assert by.loc["M", "estimate"] == pytest.approx(sub.estimate.item(), rel=EST)
    assert abs(by.loc["M", "se"] / sub.se.item() - 1) > 1e-3


def test_row_order_does_not_matter(clus, dclus1):
    shuffled = clus.sample(frac=1, random_state=3).reset_index(drop=True)
    d = SurveyDesign(shuffled, psu="dnum", weights="pw", fpc="fpc")
    a = dclus1.combination({"e": {"y1": .5, "y2": .5}}, by="stype")
    b = d.combination({"e": {"y1": .5, "y2": .5}}, by="stype")
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


# --------------------------------------------------------------- proportions


def test_proportion_intervals(ref, dclus1):
    for method in ("logit", "beta", "wald"):
        row = dclus1.proportion("sch.wide", value="Yes", method=method).iloc[0]
        r = "mean" if method == "wald" else method
        assert row.ci_method == method
        assert row.ci_low == pytest.approx(ref("clus1_prop_schwide", f"{r}_ci_low"), rel=EST)
        assert row.ci_high == pytest.approx(ref("clus1_prop_schwide", f"{r}_ci_high"), rel=EST)
    check_row(row, ref, "clus1_prop_schwide", stats=("estimate", "se", "df", "n"))
    assert (round(row.estimate, 3), round(row.ci_low, 3), round(row.ci_high, 3)) != (0, 0, 0)
    logit = dclus1.proportion("sch.wide", value="Yes").iloc[0]
    assert (round(logit.estimate, 3), round(logit.ci_low, 3), round(logit.ci_high, 3)) == (0.874, 0.824, 0.912)


def test_proportion_by_domain(ref, dclus1):
    for method in ("logit", "beta"):
        table = dclus1.proportion("sch.wide", value="Yes", by="stype", method=method)
        for _, row in table.iterrows():
            case = "clus1_prop_schwide_by_stype"
            check_row(row, ref, case, row.stype, stats=("estimate", "se", "deff", "df", "n"))
            assert row.ci_low == pytest.approx(ref(case, f"{method}_ci_low", row.stype), rel=EST)
            assert row.ci_high == pytest.approx(ref(case, f"{method}_ci_high", row.stype), rel=EST)
    se = table.set_index("stype").se
    assert [round(se[s], 8) for s in "EHM"] == [0.02098428, 0.09146191, 0.10950225]


def test_proportion_among_valid_answers(ref, dclus1):
    """A criterion share: missing answers leave the base (R: subset(design, !is.na(y)))."""
    row = dclus1.proportion("y2").iloc[0]
    check_row(row, ref, "clus1_prop_y2", stats=("estimate", "se", "deff", "df", "n"))
    assert row.ci_low == pytest.approx(ref("clus1_prop_y2", "logit_ci_low"), rel=EST)


def test_proportion_of_a_series(ref, clus, dclus1):
    row = dclus1.proportion(clus["sch.wide"] == "Yes").iloc[0]
    assert row.estimate == pytest.approx(ref("clus1_prop_schwide", "estimate"), rel=EST)


def test_stratified_proportion(ref, dstrat):
    row = dstrat.proportion("sch.wide", value="Yes", method="beta").iloc[0]
    check_row(row, ref, "strat_prop_schwide", stats=("estimate", "se", "df", "n"))
    assert row.ci_low == pytest.approx(ref("strat_prop_schwide", "beta_ci_low"), rel=EST)


def test_interval_at_zero_and_one():
    low, high, used = interval([0.0, 1.0], [0.0, 0.0], [10, 10], [20, 20], "logit", 0.95)
    assert list(used) == ["beta", "beta"]
    assert low[0] == 0 and high[1] == 1
    n_eff = 20 * (stats.t.ppf(0.025, 19) / stats.t.ppf(0.025, 10)) ** 2  # n, df-adjusted as R
    assert high[0] == pytest.approx(1 - 0.025 ** (1 / n_eff), rel=1e-12)  # Clopper-Pearson


# -------------------------------------------------------------------- ratios


def test_ratio(ref, dclus1):
    row = dclus1.ratio("api.stu", "enroll").iloc[0]
    check_row(row, ref, "clus1_ratio", stats=("estimate", "se", "deff", "df"))
    for _, row in dclus1.ratio("api.stu", "enroll", by="stype").iterrows():
        check_row(row, ref, "clus1_ratio_by_stype", row.stype, stats=("estimate", "se", "deff"))


def test_linear_combination_of_ratios(ref, dclus1):
    """Element and index = means of criterion shares with different bases (svycontrast)."""
    combos = {"ea": {"y1": .5, "y2": .5}, "eb": {"y3": 1}, "index": {"y1": .25, "y2": .25, "y3": .5},
              "ea_minus_eb": {"y1": .5, "y2": .5, "y3": -1}}
    names = {"y1": "r1", "y2": "r2", "y3": "r3"}
    for by in (None, "stype"):
        table = dclus1.combination(combos, by=by)
        for _, row in table.iterrows():
            dom = row.get("stype", "")
            key = names.get(row.variable, row.variable)
            assert row.estimate == pytest.approx(ref("clus1_lincom", f"{key}_estimate", dom), rel=EST)
            assert row.se == pytest.approx(ref("clus1_lincom", f"{key}_se", dom), rel=SE)
            if key == "index":
                assert row.df == ref("clus1_lincom", "index_df", dom)
                assert row.n == ref("clus1_lincom", "index_n", dom)


def test_linearize_arrays_match_estimate(clus, dclus1):
    y = clus[["y1", "y2", "y3"]].to_numpy()
    ok = ~np.isnan(y)
    coef = np.array([[1, .5], [0, .5], [0, 0]])
    a = dclus1.linearize(np.where(ok, y, 0) > 0, ok, ok, coef, ["y1", "e"], by="stype").table()
    b = dclus1.combination({"e": {"y1": .5, "y2": .5}}, by="stype")
    b = b[b.variable.isin(["y1", "e"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


# ---------------------------------------------------------------- differences


def test_contrast_within_design(ref, dclus1):
    lin = dclus1.estimate({"api00": "api00"}, by="stype")
    d = lin.difference("E", "H").iloc[0]
    assert d.estimate == pytest.approx(ref("clus1_contrast_E_minus_H", "estimate"), rel=EST)
    assert d.se == pytest.approx(ref("clus1_contrast_E_minus_H", "se"), rel=SE)
    assert d.df == 14
    m = lin.contrast({"E": 1 / 3, "H": 1 / 3, "M": 1 / 3}).iloc[0]
    assert m.estimate == pytest.approx(ref("clus1_contrast_mean_of_domains", "estimate"), rel=EST)
    assert m.se == pytest.approx(ref("clus1_contrast_mean_of_domains", "se"), rel=SE)


def test_contrast_of_one_domain_is_its_estimate(dclus1):
    lin = dclus1.estimate({"api00": "api00"}, by="stype")
    one = lin.contrast({"H": 1}).iloc[0]
    row = lin.table().iloc[1]
    assert (one.estimate, one.se, one.df) == pytest.approx((row.estimate, row.se, row.df), rel=1e-12)


def test_difference_of_independent_samples(ref, dstrat, dclus1):
    d = difference(dclus1.mean("api00").iloc[0], dstrat.mean("api00").iloc[0]).iloc[0]
    case = "independent_clus_minus_strat"
    assert d.estimate == pytest.approx(ref(case, "estimate"), rel=EST)
    assert d.se == pytest.approx(ref(case, "se"), rel=SE)
    assert d.df == ref(case, "df")
    assert d.p_value == pytest.approx(ref(case, "p"), abs=P)


def test_difference_pairs_tables_row_by_row(dclus1):
    a = dclus1.mean("api00", by="stype")
    d = difference(a, a)
    assert len(d) == 3 and (d.estimate == 0).all()
    assert list(d.df) == list(2 * a.df) and np.allclose(d.se, np.sqrt(2) * a.se)


# ----------------------------------------------------------------- Rao-Scott


@pytest.mark.parametrize("design, row, col, case, by", [
    ("dclus1", "sch.wide", "stype", "clus1_chisq_schwide_stype", None),
    ("dstrat", "stype", "band", "strat_chisq_stype_band", None),
    ("dclus1", "sch.wide", "band", "clus1_chisq_schwide_band_E", "stype"),
])
def test_chisq(request, ref, design, row, col, case, by):
    t = request.getfixturevalue(design).chisq(row, col, by=by)
    res = t.iloc[0]
    dom = res.get("stype", "")
    for s in ("chisq", "F", "ndf", "ddf"):
        assert res[s] == pytest.approx(ref(case, s, dom), rel=SE), s
    assert res.p_value == pytest.approx(ref(case, "p", dom), abs=P)


def test_chisq_issue_figures(dclus1):
    t = dclus1.chisq("sch.wide", "stype").iloc[0]
    assert (round(t.F, 4), round(t.ndf, 4), round(t.ddf, 3), round(t.p_value, 5)) == (5.1934, 1.4946, 20.925, 0.02175)


# ---------------------------------------------------------------- lonely PSU


@pytest.mark.parametrize("option", ["adjust", "remove", "certainty"])
@pytest.mark.parametrize("fpc", ["nofpc", "fpc"])
def test_lonely_psu(ref, clus, option, fpc):
    d = SurveyDesign(clus, strata="lstrat", psu="dnum", weights="pw", lonely_psu=option,
                     fpc="lfpc" if fpc == "fpc" else None)
    case = f"lonely_{option}_{fpc}"
    stats_ = ("estimate", "se", "df", "ci_low", "ci_high")
    check_row(d.mean("api00").iloc[0], ref, case, stats=stats_)
    for _, row in d.mean("api00", by="stype").iterrows():
        check_row(row, ref, case, row.stype, stats=stats_)


def test_lonely_psu_fails_by_default(clus):
    with pytest.raises(SipasError, match="single PSU.*'A'"):
        SurveyDesign(clus, strata="lstrat", psu="dnum", weights="pw")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": "nope"}, "column 'nope'"),
    ({"strata": "stype", "fpc": "lfpc"}, "fpc differs within a stratum"),
    ({"strata": "lstrat", "psu": "dnum", "fpc": "few", "lonely_psu": "adjust"}, "smaller than the 7 PSUs"),
    ({"weights": "band"}, "expected numbers"),
    ({"psu": "dnum", "lonely_psu": "average"}, "unknown lonely_psu"),
])
def test_design_errors(clus, kwargs, message):
    with pytest.raises(SipasError, match=message):
        SurveyDesign(clus.assign(few=3), **kwargs)


def test_bad_weights_name_the_row(clus):
    bad = clus.assign(pw=clus.pw.where(clus.index != 4, -1.0))
    with pytest.raises(SipasError, match="row 5.*column 'pw'"):
        SurveyDesign(bad, psu="dnum", weights="pw")


def test_estimator_errors(dclus1):
    with pytest.raises(SipasError, match="0/1"):
        dclus1.proportion("api00")
    with pytest.raises(SipasError, match="unknown interval method"):
        dclus1.proportion("y1", method="exact")
    with pytest.raises(SipasError, match="estimates in \\[0, 1\\]"):
        dclus1.mean("api00").pipe(lambda t: interval(t.estimate, t.se, t.df, t.n, "logit", .95))
    with pytest.raises(SipasError, match="unknown component"):
        dclus1.estimate({"y1": "y1"}, {"e": {"y9": 1}})
    with pytest.raises(SipasError, match="no such domain"):
        dclus1.estimate({"y1": "y1"}, by="stype").contrast({"X": 1})
