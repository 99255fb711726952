"""sipas.estimation.survey.distributions gives scipy.stats' numbers bit for bit (the
tables step no longer imports scipy.stats), on grids of arguments with the edge cases:
NaN, q = 0 and 1, q outside [0, 1], non-positive degrees of freedom, x at the support's
ends, infinite df, and the scalar calls the estimation code makes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from sipas.estimation.survey import distributions as dist

rng = np.random.default_rng(0)
Q = np.r_[0, 1, np.nan, 0.5, 1e-300, 1 - 1e-16, 0.025, 0.975, -0.1, 1.1, rng.random(100)]
DF = np.r_[np.nan, 0, -1, 0.5, 1, 2, 30, 1e6, np.inf, rng.integers(1, 500, 60).astype(float)]
X = np.r_[0.0, -0.0, np.nan, np.inf, -np.inf, -1, 1e-300, rng.normal(0, 3, 100)]
AB = np.r_[np.nan, 0, 1e-3, -0.5, rng.uniform(0.01, 300, 20)]


def same(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    return (got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want, equal_nan=True)
            and np.array_equal(np.signbit(got), np.signbit(want)))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_t():
    q, df = np.meshgrid(Q, DF)
    assert same(dist.t_ppf(q, df), stats.t.ppf(q, df))
    x, df = np.meshgrid(X, DF)
    assert same(dist.t_sf(x, df), stats.t.sf(x, df))


def test_f_and_beta():
    q, a, b = np.meshgrid(Q, AB, AB[::-1])
    assert same(dist.beta_ppf(q, a, b), stats.beta.ppf(q, a, b))
    assert same(dist.f_ppf(q, a, b), stats.f.ppf(q, a, b))
    x, a, b = np.meshgrid(np.abs(X), AB, AB[::-1])
    assert same(dist.f_sf(x, a, b), stats.f.sf(x, a, b))


def test_normal():
    assert same(dist.norm_ppf(Q), stats.norm.ppf(Q))


@pytest.mark.parametrize("fn, ours, args", [
    (stats.t.ppf, dist.t_ppf, (0.975, 30)), (stats.t.ppf, dist.t_ppf, (0.025, np.float64(5))),
    (stats.t.sf, dist.t_sf, (2.1, 12)), (stats.norm.ppf, dist.norm_ppf, (0.975,)),
    (stats.f.sf, dist.f_sf, (3.2, 4, 40.0)), (stats.f.ppf, dist.f_ppf, (0.025, 99, 396)),
    (stats.beta.ppf, dist.beta_ppf, (0.025, np.array([3.0, 0.0]), np.array([10.0, 5.0]))),
])
def test_scalar_calls_return_what_scipy_returns(fn, ours, args):
    got, want = ours(*args), fn(*args)
    assert type(got) is type(want) and same(got, want)
