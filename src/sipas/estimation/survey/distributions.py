"""Quantiles and tail probabilities of the t, F, beta and normal distributions, as
``scipy.stats`` computes them, bit for bit, without importing it.

``scipy.stats`` costs 0.8 s of CPU to import (it builds every distribution's docstring),
a sixth of a year's tables step, which needs only these six functions: each calls the
``scipy.special`` function that ``scipy.stats`` calls (``stdtrit``, ``stdtr``, the beta
quantile, ``fdtri``, ``fdtrc``, ``ndtri``) and treats bad arguments (NaN), q = 0 or 1
and the support's ends as ``scipy.stats`` does (tests/test_distributions.py compares the
two on grids of arguments, edge cases included). Imported where used: a kernel that only
renders imports no SciPy at all.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.special import _ufuncs


def _ppf(values, q, ok, lower, upper):
    q = np.asarray(q)
    with np.errstate(all="ignore"):
        out = np.where(ok & (0 < q) & (q < 1), values * 1.0 + 0, np.nan)  # + 0: no -0.0, as scipy.stats
    out = np.where(ok & (q == 0), lower, out)
    out = np.where(ok & (q == 1), upper, out)
    return out[()] if out.ndim == 0 else out


def _sf(values, x, ok, lower, upper):
    x = np.asarray(x, dtype=np.promote_types(np.asarray(x).dtype, np.float64))
    out = np.where(ok & (lower < x) & (x < upper), values,
                   np.where(ok & (x <= lower), 1.0, np.where(~ok | np.isnan(x), np.nan, 0.0)))
    return out[()] if out.ndim == 0 else out


def _positive(*args):
    ok = np.asarray(True)
    for a in args:
        ok = ok & (np.asarray(a) > 0)
    return ok


def t_ppf(q, df):
    """``scipy.stats.t.ppf(q, df)``."""
    with np.errstate(all="ignore"):
        return _ppf(special.stdtrit(df, q), q, _positive(df), -np.inf, np.inf)


def t_sf(x, df):
    """``scipy.stats.t.sf(x, df)``."""
    with np.errstate(all="ignore"):
        return _sf(special.stdtr(df, -np.asarray(x)), x, _positive(df), -np.inf, np.inf)


def beta_ppf(q, a, b):
    """``scipy.stats.beta.ppf(q, a, b)``."""
    with np.errstate(all="ignore"):
        return _ppf(_ufuncs._beta_ppf(q, a, b), q, _positive(a, b), 0.0, 1.0)


def f_ppf(q, dfn, dfd):
    """``scipy.stats.f.ppf(q, dfn, dfd)``."""
    with np.errstate(all="ignore"):
        return _ppf(special.fdtri(dfn, dfd, q), q, _positive(dfn, dfd), 0.0, np.inf)


def f_sf(x, dfn, dfd):
    """``scipy.stats.f.sf(x, dfn, dfd)``."""
    with np.errstate(all="ignore"):
        return _sf(special.fdtrc(dfn, dfd, x), x, _positive(dfn, dfd), 0.0, np.inf)


def norm_ppf(q):
    """``scipy.stats.norm.ppf(q)``."""
    with np.errstate(all="ignore"):
        return _ppf(special.ndtri(q), q, np.asarray(True), -np.inf, np.inf)
