"""Tests of independence on complex samples: the Rao-Scott adjusted chi-square of
R's ``svychisq`` (default ``statistic="F"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sipas.estimation.survey.design import SurveyDesign

CHISQ_COLUMNS = ["row", "col", "n", "chisq", "F", "ndf", "ddf", "p_value"]
"""Columns of a Rao-Scott test table (after the domain columns)."""


def chisq(design: SurveyDesign, row, col, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Rao-Scott adjusted Pearson chi-square test of independence in a two-way table.

    R's ``svychisq(~row + col, design)`` with its default ``statistic="F"``: the
    Pearson X^2 of the weighted table (scaled to the ``n`` complete rows) divided by
    the mean generalised design effect, referred to F(d, d * nu) where ``d`` is the
    Satterthwaite (second-order) degrees of freedom and ``nu`` the design's PSUs -
    strata. Rows missing either variable are left out. With ``by``, one test per
    domain on the whole design (R: ``svychisq`` on ``subset(design, ...)``); a level
    absent from a domain is dropped from that domain's table.

    >>> d.chisq("sch.wide", "stype")   # doctest: +SKIP
       row    col    n      chisq         F       ndf      ddf   p_value
    0  sch.wide stype  183  11.9409  5.193370  1.494640  20.92496  0.021747
    """
    (row, rv), (col, cv) = (design._column(v) for v in (row, col))
    rv, cv = pd.Series(rv), pd.Series(cv)
    ok = rv.notna() & cv.notna()
    rlev, clev = sorted(rv[ok].unique()), sorted(cv[ok].unique())
    is_r, is_c = [(rv == r).to_numpy() for r in rlev], [(cv == c).to_numpy() for c in clev]
    comps = {}
    for j in range(len(clev)):
        for i in range(len(rlev)):
            comps[(i, j)] = np.where(ok, (is_r[i] & is_c[j]).astype(float), np.nan)
    lin = design.estimate(comps, by=by)
    dom, _ = design.domains(by)
    nu = _count_pairs(dom, design._psu) - _count_pairs(dom, design._stratum)
    out = []
    for d in range(len(lin.domains)):
        p = lin.estimate[d].reshape(len(clev), len(rlev)).T  # rows x cols
        keep_r, keep_c = p.sum(1) > 0, p.sum(0) > 0
        use = np.outer(keep_r, keep_c).T.ravel()  # column-major cell order, as estimate
        res = _rao_scott(p[np.ix_(keep_r, keep_c)], lin.vcov[d][np.ix_(use, use)],
                         int(lin.n[d, 0]), nu[d])
        out.append({"row": row, "col": col, "n": int(lin.n[d, 0]), **res})
    return pd.concat([lin.domains, pd.DataFrame(out, columns=CHISQ_COLUMNS)], axis=1)


def _rao_scott(p: np.ndarray, V: np.ndarray, N: int, nu: int) -> dict:
    """Second-order Rao-Scott F for an (r x c) table of cell proportions ``p`` whose
    column-major vectorisation has covariance ``V`` (R's ``svychisq``, statistic "F")."""
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    nr, nc = p.shape
    nan = {"chisq": np.nan, "F": np.nan, "ndf": np.nan, "ddf": np.nan, "p_value": np.nan}
    if nr < 2 or nc < 2:
        return nan
    pr, pc = p.sum(1), p.sum(0)
    expected = np.outer(pr, pc)
    chisq = N * ((p - expected) ** 2 / expected).sum()
    # design matrices of the saturated log-linear model, cells in column-major order
    ri, ci = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    ri, ci = ri.ravel(order="F"), ci.ravel(order="F")
    rows = (ri[:, None] == np.arange(1, nr)).astype(float)
    cols = (ci[:, None] == np.arange(1, nc)).astype(float)
    X1 = np.column_stack([np.ones(nr * nc), rows, cols])
    inter = (rows[:, :, None] * cols[:, None, :]).reshape(nr * nc, -1)
    C = inter - X1 @ np.linalg.lstsq(X1, inter, rcond=None)[0]
    pv = p.ravel(order="F")
    inv = np.where(pv > 0, 1 / np.where(pv > 0, pv, 1), 0.0)
    denom = C.T @ (C * (inv / N)[:, None])
    numer = (C * inv[:, None]).T @ V @ (C * inv[:, None])
    delta = np.linalg.solve(denom, numer)
    tr, tr2 = np.trace(delta), np.trace(delta @ delta)
    if not tr > 0:
        return {**nan, "chisq": chisq}
    d0 = tr ** 2 / tr2
    F = chisq / tr
    return {"chisq": chisq, "F": F, "ndf": d0, "ddf": d0 * nu,
            "p_value": float(stats.f.sf(F, d0, d0 * nu)) if nu > 0 else np.nan}


def _count_pairs(dom: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Number of distinct ``codes`` in each domain."""
    keep = dom >= 0
    m = int(codes.max()) + 1 if len(codes) else 1
    pairs = np.unique(dom[keep].astype(np.int64) * m + codes[keep])
    return np.bincount(pairs // m, minlength=dom.max() + 1)
