"""Cronbach's alpha (sipas.estimation.reliability) and design-based logistic regression
(sipas.estimation.drivers) against R.

Reference: tests/reference/stats_reference.csv, written by make_stats_reference.R
(psych 2.2.9 ``alpha``; survey 4.1 ``svyglm(family=quasibinomial)``) from the committed
api and demo-subset files. Tolerances: alpha, Feldt limits, item-rest correlations
1e-10 relative (closed forms); regression coefficients 1e-8 relative, standard errors
and odds-ratio limits 1e-7 relative (both sides iterate to 1e-13), p-values 1e-9
absolute; degrees of freedom and counts exact.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from sipas.base.errors import SipasError
from sipas.estimation.drivers import DRIVER_COLUMNS, drivers_table, logistic
from sipas.estimation.reliability import RELIABILITY_COLUMNS, cronbach_alpha, feldt_interval, reliability_table
from sipas.estimation.significance import satisfied_overall
from sipas.estimation.survey import SurveyDesign

from .test_survey_indices import REF, cfg, data  # noqa: F401  (shared fixtures)

ALPHA, COEF, SE, P = 1e-10, 1e-8, 1e-7, 1e-9
ELEMENT = {f"c{k}": f"e{k}" for k in range(1, 6)}  # R's element names -> ours


@pytest.fixture(scope="module")
def sref():
    t = pd.read_csv(REF / "stats_reference.csv", keep_default_na=False, dtype={"value": float})
    return {(r.case, r.term, r.stat): r.value for r in t.itertuples()}


def r_term(term: str) -> str:
    """Our term names -> R's: ``stype[H]`` -> ``stypeH``; element ``e1`` -> ``e1_per10``."""
    m = re.fullmatch(r"(.+)\[(.+)\]", term)
    return m[1] + m[2] if m else {"e1": "e1_per10"}.get(term, term)


def check_model(t: pd.DataFrame, sref, case: str):
    terms = {k[1] for k in sref if k[0] == case and k[1]}
    assert {r_term(x) for x in t.term} == terms
    for r in t.itertuples():
        term = r_term(r.term)
        assert r.coef == pytest.approx(sref[(case, term, "coef")], rel=COEF), term
        assert r.se == pytest.approx(sref[(case, term, "se")], rel=SE), term
        assert r.p_value == pytest.approx(sref[(case, term, "p")], abs=P), term
        assert r.ci_low == pytest.approx(sref[(case, term, "or_low")], rel=SE), term
        assert r.ci_high == pytest.approx(sref[(case, term, "or_high")], rel=SE), term
        assert r.odds_ratio == pytest.approx(np.exp(r.coef))
    assert (t.df == sref[(case, "", "df")]).all() and (t.n == sref[(case, "", "n")]).all()
    assert t.converged.all()


# ---------------------------------------------------------------- reliability


def test_alpha_by_hand():
    # three items, four respondents: item variances 1, 1, 1/3 (ddof=1); total scores
    # 3, 6, 9, 8 -> variance 7; alpha = 3/2 (1 - (7/3)/7) = 1
    x = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3], [2, 3, 3]], dtype=float)
    item_var = x.var(0, ddof=1).sum()
    total_var = x.sum(1).var(ddof=1)
    want = 3 / 2 * (1 - item_var / total_var)
    r = cronbach_alpha(x)
    assert r["alpha"] == pytest.approx(want, rel=1e-12) and r["n"] == 4
    # item-rest correlation of item 0 = Pearson r with the sum of items 1 and 2
    assert r["item_rest"][0] == pytest.approx(np.corrcoef(x[:, 0], x[:, 1:].sum(1))[0, 1], rel=1e-12)


def test_feldt_textbook():
    # Feldt (1965) by its definition: (1 - alpha) / (1 - A) ~ F(n - 1, (n - 1)(k - 1))
    lo, hi = feldt_interval(0.8, 101, 5, 0.95)
    from scipy import stats
    assert (1 - 0.8) / (1 - lo) == pytest.approx(1 / stats.f.ppf(0.975, 100, 400))
    assert (1 - 0.8) / (1 - hi) == pytest.approx(1 / stats.f.ppf(0.025, 100, 400))
    assert lo < 0.8 < hi


def test_alpha_matches_psych(sref, data):
    for e_r, e in ELEMENT.items():
        cols = [c for c in data.columns if c.startswith(e_r + "_")]
        x = data[cols].where(data[cols].isin([1, 2, 3, 4, 5]))
        r = cronbach_alpha(x)
        case = f"alpha_{e_r}"
        assert r["n"] == sref[(case, "", "n")]
        for ours, theirs in (("alpha", "alpha"), ("std_alpha", "std_alpha"), ("ci_low", "feldt_low"),
                             ("ci_high", "feldt_high")):
            assert r[ours] == pytest.approx(sref[(case, "", theirs)], rel=ALPHA), (case, ours)
        for j, c in enumerate(cols):
            assert r["item_rest"][j] == pytest.approx(sref[(case, c, "item_rest")], rel=ALPHA)
            assert r["alpha_if_deleted"][j] == pytest.approx(sref[(case, c, "alpha_if_deleted")], rel=ALPHA)


def test_reliability_table(sref, data, cfg):
    t = reliability_table(data, cfg)
    assert list(t.columns) == RELIABILITY_COLUMNS
    el = t[(t.unit_id == "province") & (t.level == "element")].set_index("element_id")
    assert el.loc["e3", "alpha"] == pytest.approx(sref[("alpha_c3", "", "alpha")], rel=ALPHA)
    assert set(t.unit_id) == {"province", "group:department", "group:district"}
    crit = t[(t.unit_id == "province") & (t.level == "criterion")]
    assert len(crit) == len(cfg.methodology.criteria) and crit.item_rest.between(-1, 1).all()
    # flags follow the rules
    assert ((el.alpha < 0.7) == (el.flag == "low")).all()
    assert ((crit.item_rest < 0.3) == (crit.flag == "weak_item")).all()
    by_unit = reliability_table(data, cfg, by_unit=True)
    assert set(data.unit_id) <= set(by_unit.unit_id)


def test_alpha_few_cases_not_computed(data, cfg):
    t = reliability_table(data.iloc[:20], cfg)
    el = t[t.level == "element"]
    assert (el.flag == "few").all() and el.alpha.isna().all()


def test_alpha_needs_two_items():
    with pytest.raises(SipasError, match="at least two items"):
        cronbach_alpha(np.ones((5, 1)))


# ---------------------------------------------------------------- logistic regression


def test_logistic_clus1_matches_svyglm(sref):
    clus = pd.read_csv(REF / "apiclus1.csv")
    d = SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")
    t = logistic(d, clus["sch.wide"].eq("Yes"), ["meals", "stype"])
    check_model(t, sref, "api_clus1_logit")


def test_logistic_strat_matches_svyglm(sref):
    strat = pd.read_csv(REF / "apistrat.csv")
    d = SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc")
    t = logistic(d, strat["sch.wide"].eq("Yes").astype(float), ["meals", "api99"])
    check_model(t, sref, "api_strat_logit")


def test_logistic_point_estimates_are_weighted_glm():
    """Same coefficients as statsmodels' weighted GLM; only the SEs differ (design)."""
    clus = pd.read_csv(REF / "apiclus1.csv")
    d = SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")
    t = logistic(d, clus["sch.wide"].eq("Yes"), ["meals"])
    X = sm.add_constant(clus[["meals"]].to_numpy(float))
    fit = sm.GLM(clus["sch.wide"].eq("Yes").astype(float), X, family=sm.families.Binomial(),
                 freq_weights=clus.pw).fit()
    np.testing.assert_allclose(t.coef, fit.params, rtol=1e-6)
    assert not np.allclose(t.se, fit.bse, rtol=0.1)  # the iid SEs are not the design's


def test_logistic_errors():
    clus = pd.read_csv(REF / "apiclus1.csv")
    d = SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")
    with pytest.raises(SipasError, match="0/1"):
        logistic(d, "meals", ["api99"])
    with pytest.raises(SipasError, match="reference level"):
        logistic(d, clus["sch.wide"].eq("Yes"), ["stype"], reference={"stype": "X"})


def test_drivers_match_svyglm(sref, data, cfg):
    t = drivers_table(data, cfg, ["gender", "age_band"])
    assert list(t.columns) == DRIVER_COLUMNS
    check_model(t[t.model == "profile"], sref, "sipas_profile")
    check_model(t[t.model == "element:e1"], sref, "sipas_element_e1")
    assert set(t.model) == {"profile"} | {f"element:{e}" for e in ELEMENT.values()}
    assert t.loc[t.term == "gender[nu]", "label"].iloc[0] == "Nữ"


def test_drivers_outcome_is_satisfied_overall(data, cfg):
    from sipas.estimation.drivers import _satisfied
    from sipas.estimation.significance import element_counts
    np.testing.assert_array_equal(_satisfied(element_counts(data, cfg), 0.5),
                                  satisfied_overall(data, cfg).to_numpy())


def test_small_categories_pooled(data, cfg):
    t = drivers_table(data, cfg, ["age_band"], min_category=200)
    prof = t[t.model == "profile"]
    # 18_24 (154) and 60_plus (130) fall under 200: pooled; reference = first category left
    assert set(prof.term) == {"(Intercept)", "age_band[35_49]", "age_band[50_60]", "age_band[nhom_nho]",
                              "unit_type[district]"}
    assert (prof.loc[prof.variable == "age_band", "reference"] == "25_34").all()


def test_logistic_separation_is_reported_not_raised():
    # group "b" is always 1: the maximum-likelihood coefficient is infinite
    rng = np.random.default_rng(3)
    n = 200
    g = np.where(np.arange(n) < 40, "b", "a")
    y = np.where(g == "b", 1.0, (rng.random(n) < 0.5).astype(float))
    df = pd.DataFrame({"y": y, "g": g, "w": 1.0, "id": np.arange(n)})
    d = SurveyDesign(df, psu="id", weights="w")
    out = logistic(d, "y", ["g"], reference={"g": "a"})
    assert not out["converged"].any()
    assert len(out) == 2
