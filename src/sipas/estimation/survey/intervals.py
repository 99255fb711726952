"""Confidence intervals (Wald, logit, Korn-Graubard), t tests and the difference of
estimates from independent samples: R's ``confint``, ``svyciprop`` and ``svycontrast``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.estimation.survey._data import _check_level

CONTRAST_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "ci_method", "df", "t", "p_value"]
"""Columns of a difference or contrast table."""

CI_METHODS = ("logit", "beta", "wald")


def difference(a: pd.DataFrame | pd.Series, b: pd.DataFrame | pd.Series,
               level: float = 0.95) -> pd.DataFrame:
    """Difference ``a - b`` of estimates from independent samples (e.g. two years).

    ``a`` and ``b`` are rows of estimator tables (Series) or tables of equal length,
    paired row by row; they need ``estimate``, ``se`` and ``df``. SE =
    sqrt(se_a^2 + se_b^2); degrees of freedom df_a + df_b (those of the two samples
    stacked as one design with disjoint strata, where R's ``svycontrast`` gives the
    same SE). Returns :data:`CONTRAST_COLUMNS` (t-based interval and two-sided p).

    When the two samples share PSUs (the same communes surveyed in both years) they are
    not independent: the covariance is usually positive and this SE is then too large
    (a conservative test). With both years' microdata, stack them as one design with
    the shared PSUs and use :meth:`Linearized.difference` on a ``by="year"`` estimate,
    which includes the covariance (docs/assumptions.md, A15).

    >>> difference(t2023.set_index("unit_id"), t2022.set_index("unit_id"))   # doctest: +SKIP
    """
    frames = [x.to_frame().T if isinstance(x, pd.Series) else x for x in (a, b)]
    for name, f in zip("ab", frames):
        lack = [c for c in ("estimate", "se", "df") if c not in f.columns]
        if lack:
            raise SipasError(f"estimate table '{name}' lacks columns {lack}")
    if len(frames[0]) != len(frames[1]):
        raise SipasError(f"cannot pair {len(frames[0])} estimates with {len(frames[1])}")
    fa, fb = (f[["estimate", "se", "df"]].astype(float).to_numpy() for f in frames)
    est = fa[:, 0] - fb[:, 0]
    se = np.hypot(fa[:, 1], fb[:, 1])
    out = t_tests(["difference"] * len(est), est, se, fa[:, 2] + fb[:, 2], _check_level(level))
    out.index = frames[0].index
    return out.drop(columns="variable")


def interval(estimate, se, df, n, method: str, level: float, logit_se=None):
    """Confidence limits and the method used per estimate (arrays broadcast together).

    ``logit_se``: the SE on the logit scale when it is estimated directly (replicate
    designs, as R's ``svyglm``), instead of the delta method ``se/(p(1-p))``.

    ``"wald"``: estimate +/- t(df) se. ``"logit"``: expit(logit(p) +/- t(df) se/(p(1-p))).
    ``"beta"``: Korn-Graubard, R's ``svyciprop(method="beta")``: effective n
    p(1-p)/se^2 times (t(n-1)/t(df))^2, Clopper-Pearson limits at that n; with zero
    variance the effective n is n. Logit rows at p = 0 or 1 fall back to ``"beta"``.
    """
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    if method not in CI_METHODS:
        raise SipasError("unknown interval method", value=method, hint=f"use one of {', '.join(CI_METHODS)}")
    p, se, df, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (estimate, se, df, n)))
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(1 - alpha / 2, np.where(df > 0, df, np.nan))
        if method == "wald":
            return p - t * se, p + t * se, np.full(p.shape, "wald", dtype=object)
        if np.any((p < 0) | (p > 1)):
            raise SipasError(f"a '{method}' interval needs estimates in [0, 1]",
                             value=float(p[(p < 0) | (p > 1)][0]), hint="use method='wald'")
        # Korn-Graubard
        n_eff = np.where(se > 0, p * (1 - p) / se ** 2, n)
        n_eff = n_eff * (stats.t.ppf(alpha / 2, n - 1) / stats.t.ppf(alpha / 2, np.where(df > 0, df, np.nan))) ** 2
        kg_low = np.where(p > 0, stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1), 0.0)
        kg_high = np.where(p < 1, stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)), 1.0)
        if method == "beta":
            return kg_low, kg_high, np.full(p.shape, "beta", dtype=object)
        inner = (p > 0) & (p < 1) & (se > 0)
        half = t * (se / (p * (1 - p)) if logit_se is None else np.asarray(logit_se, dtype=float))
        logit = np.log(p / (1 - p))
        low = np.where(inner, _expit(logit - half), kg_low)
        high = np.where(inner, _expit(logit + half), kg_high)
    used = np.where(inner | np.isnan(p), "logit", "beta").astype(object)
    return low, high, used


# ---------------------------------------------------------------------- internals


def t_tests(names, est, se, df, level: float = 0.95) -> pd.DataFrame:
    """Table of :data:`CONTRAST_COLUMNS` (with ``variable`` = ``names``): t-based
    intervals and two-sided tests of "= 0" for estimates with SEs and degrees of freedom."""
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    est, se, df = (np.asarray(v, dtype=float) for v in (est, se, df))
    low, high, used = interval(est, se, df, np.ones_like(est), "wald", level)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
        p = 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    return pd.DataFrame({"variable": names, "estimate": est, "se": se, "ci_low": low, "ci_high": high,
                         "ci_method": used, "df": np.asarray(df, dtype=np.int64), "t": t, "p_value": p})



def _expit(v):
    return 1 / (1 + np.exp(-v))
