"""Fay-Herriot small-area estimates (sipas.estimation.sae) against an independent REML
written here (direct maximisation of the restricted log-likelihood with SciPy, and the
Prasad-Rao MSE typed from Rao & Molina 2015, eq. 6.2.11 and 6.2.18), and a balanced case
with a closed form. (The Python package ``svy-sae`` that issue 15 names is not usable
here: the registry this project installs from offers only its 0.0.1, a placeholder with no
code, checked with ``pip download svy-sae`` on 3/12/2026; hence the REML written
separately below.) Tolerances: 1e-6 relative on A (the two optimisers stop at different
points of a flat likelihood), 1e-7 absolute on EBLUP and MSE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from sipas.base.errors import SipasError
from sipas.estimation.sae import back, fit_fay_herriot, small_area, transform


def _reml_reference(y, d, X):
    """Independent REML: minimise -l_R(A) = 0.5 [log|V| + log|X'V^-1 X| + y'Py] over A >= 0."""
    def negll(A):
        V = np.diag(A + d)
        Vi = np.linalg.inv(V)
        XtViX = X.T @ Vi @ X
        P = Vi - Vi @ X @ np.linalg.solve(XtViX, X.T @ Vi)
        return 0.5 * (np.linalg.slogdet(V)[1] + np.linalg.slogdet(XtViX)[1] + y @ P @ y)
    res = optimize.minimize_scalar(negll, bounds=(0.0, 10 * np.var(y) + 1), method="bounded",
                                   options={"xatol": 1e-13})
    A = res.x if negll(res.x) < negll(0.0) else 0.0
    Vi = np.diag(1 / (A + d))
    cov = np.linalg.inv(X.T @ Vi @ X)
    beta = cov @ X.T @ Vi @ y
    gam = A / (A + d)
    eblup = gam * y + (1 - gam) * (X @ beta)
    g1 = gam * d
    g2 = np.array([(1 - gam[i]) ** 2 * X[i] @ cov @ X[i] for i in range(len(y))])
    var_A = 2 / np.sum(1 / (A + d) ** 2)
    g3 = d ** 2 / (A + d) ** 3 * var_A
    return A, beta, eblup, g1 + g2 + 2 * g3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_against_independent_reml(seed):
    rng = np.random.default_rng(seed)
    m = 38
    X = np.column_stack([np.ones(m), rng.normal(size=m), rng.integers(0, 2, m)])
    d = rng.uniform(0.003, 0.02, m)
    y = X @ [1.0, 0.05, -0.1] + rng.normal(0, 0.08, m) + rng.normal(0, np.sqrt(d))
    fit = fit_fay_herriot(y, d, X)
    A, beta, eblup, mse = _reml_reference(y, d, X)
    assert fit.converged
    assert fit.A == pytest.approx(A, rel=1e-6)
    np.testing.assert_allclose(fit.beta, beta, atol=1e-7)
    np.testing.assert_allclose(fit.eblup, eblup, atol=1e-7)
    np.testing.assert_allclose(fit.mse, mse, atol=1e-7)


def test_balanced_closed_form():
    # Equal variances D, intercept only: REML A = s^2 - D (s^2 the sample variance),
    # gamma = A / (A + D), EBLUP = ybar + gamma (y - ybar); by hand for y = 0, 1, 2, 3, 4, D = 1:
    # s^2 = 2.5, A = 1.5, gamma = 0.6; EBLUP_1 = 2 + 0.6 (0 - 2) = 0.8.
    y = np.arange(5.0)
    d = np.ones(5)
    fit = fit_fay_herriot(y, d, np.ones((5, 1)))
    assert fit.A == pytest.approx(1.5, abs=1e-9)
    np.testing.assert_allclose(fit.gamma, 0.6)
    np.testing.assert_allclose(fit.eblup, [0.8, 1.4, 2.0, 2.6, 3.2])
    # g1 = gamma D = 0.6; g2 = (1 - gamma)^2 (A + D) / m = 0.16 * 2.5 / 5 = 0.08;
    # g3 = D^2 / (A + D)^3 * 2 (A + D)^2 / m = 2 / (5 * 2.5) = 0.16; MSE = 0.6 + 0.08 + 0.32
    np.testing.assert_allclose(fit.mse, 1.0)


def test_no_area_variance_gives_synthetic_estimates():
    # y exactly on a line: REML A = 0, every estimate is the regression fit, shrinkage 1
    X = np.column_stack([np.ones(12), np.arange(12.0)])
    y = X @ [0.5, 0.01]
    fit = fit_fay_herriot(y, np.full(12, 0.01), X)
    assert fit.A == 0.0
    np.testing.assert_allclose(fit.eblup, y, atol=1e-12)
    np.testing.assert_allclose(fit.gamma, 0.0)


def test_transform_round_trip_and_variance():
    p = np.array([0.2, 0.5, 0.9])
    th, d = transform(p, np.array([100, 100, 100]), "arcsine")
    np.testing.assert_allclose(back(th, "arcsine"), p)
    np.testing.assert_allclose(d, 1 / 400)


def test_small_area_benchmarks_and_shrinks():
    rng = np.random.default_rng(7)
    m = 38
    n = rng.integers(30, 150, m)
    truth = np.clip(rng.normal(0.83, 0.05, m), 0.6, 0.97)
    p = rng.binomial(n, truth) / n
    se = np.sqrt(p * (1 - p) / n)
    se[p == 1] = 0.0
    out = small_area(p, se, n, np.empty((m, 0)), benchmark=float(p.mean()))
    assert out["estimate_sae"].mean() == pytest.approx(p.mean(), abs=1e-12)
    assert ((out["shrinkage"] > 0) & (out["shrinkage"] < 1)).all()
    # smaller samples are shrunk more
    assert np.corrcoef(n, out["shrinkage"])[0, 1] < -0.5
    assert (out["ci_low_sae"] <= out["estimate_sae"]).all() and (out["estimate_sae"] <= out["ci_high_sae"]).all()
    # model-based intervals are narrower than the direct ones on average
    assert np.sqrt(out["mse_sae"]).mean() < se[se > 0].mean()


def test_too_few_areas_is_an_error():
    with pytest.raises(SipasError, match="areas"):
        fit_fay_herriot(np.ones(3), np.ones(3), np.ones((3, 3)))
