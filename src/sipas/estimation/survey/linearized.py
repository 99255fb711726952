"""Linearised estimates (R's influence functions): :class:`Linearized` holds the
estimates of T quantities in D domains with their variances, and the influence totals
per (finest unit, domain) cell from which aggregates and contrasts get their variance
on the whole design (R's ``svyby(covmat=TRUE)`` + ``svycontrast``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.estimation.survey._data import _check_level
from sipas.estimation.survey.calibration import correction, correction_from, cross_products
from sipas.estimation.survey.intervals import interval, t_tests
from sipas.estimation.survey.replicate import replicate_estimates
from sipas.estimation.survey.variance import Accumulator, recursive_variance

if TYPE_CHECKING:
    from sipas.estimation.survey.design import SurveyDesign

CHUNK = 1 << 17
"""Cells summed at a time by :meth:`Linearized.aggregate`."""

COLUMNS = ["estimate", "se", "ci_low", "ci_high", "ci_method", "deff", "n", "n_eff", "df"]
"""Statistics columns of every estimator's table, after the domain and variable columns."""


@dataclass
class Linearized:
    """Estimates of T quantities in each of D domains, with their linearisation.

    Arrays are (D x T). ``vcov`` (D x T x T) holds the covariances of the quantities
    within a domain (None for an :meth:`aggregate`). ``srs_var`` is the variance under
    simple random sampling without replacement (denominator of the design effect).
    ``cell_*`` hold influence values summed within each (finest unit, domain) cell, from which
    contrasts and aggregates across domains get their variance on the whole design.
    """

    design: SurveyDesign
    names: list[str]
    domains: pd.DataFrame
    estimate: np.ndarray
    var: np.ndarray
    vcov: np.ndarray | None
    n: np.ndarray
    df: np.ndarray
    srs_var: np.ndarray
    cell_unit: np.ndarray
    cell_domain: np.ndarray
    cell_z: np.ndarray
    cell_included: np.ndarray
    cal_beta: np.ndarray | None = None   # (D x G x T) calibration coefficients, if calibrated
    rep_est: np.ndarray | None = None    # (D x R x T) replicate estimates, for a replicate design

    @property
    def se(self) -> np.ndarray:
        return np.where(np.isnan(self.estimate), np.nan, np.sqrt(np.clip(self.var, 0, None)))

    @property
    def deff(self) -> np.ndarray:
        """Design effect against SRS without replacement (R's ``deff=TRUE``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isnan(self.estimate), np.nan, self.var / self.srs_var)

    @property
    def n_eff(self) -> np.ndarray:
        """Effective sample size n / max(deff, 1)."""
        return self.n / np.fmax(self.deff, 1.0)

    def table(self, method: str = "wald", level: float | None = None) -> pd.DataFrame:
        """The tidy table: domain columns, ``variable``, then :data:`COLUMNS`."""
        level = _check_level(level or self.design.level)
        logit_se = None
        if method == "logit" and self.rep_est is not None:
            # as R's svyciprop on a replicate design: the logit's own replicate variance
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.log(self.rep_est / (1 - self.rep_est))
            lg = np.where(np.isfinite(lg), lg, np.nan)
            logit_se = np.sqrt(np.stack([self.design._rep.var(lg[d]) for d in range(len(lg))]))
        low, high, used = interval(self.estimate, self.se, self.df, self.n, method, level, logit_se)
        D, T = self.estimate.shape
        out = self.domains.loc[np.repeat(np.arange(D), T)].reset_index(drop=True)
        out["variable"] = list(self.names) * D
        stats_ = {"estimate": self.estimate, "se": self.se, "ci_low": low, "ci_high": high,
                  "ci_method": used, "deff": self.deff, "n": self.n, "n_eff": self.n_eff, "df": self.df}
        for c in COLUMNS:
            out[c] = np.asarray(stats_[c]).ravel()
        return out.astype({"n": "int64", "df": "int64"})

    def aggregate(self, coefficients, labels: pd.DataFrame | None = None, keep_cells: bool = True) -> Linearized:
        """Linear combinations of the domains' estimates, as new "domains".

        ``coefficients``: (Q x D) weights of the D domains in each of Q aggregates, or
        (Q x D x T) to weight each quantity differently (e.g. a mean over the units that
        have an estimate). The variance comes from the whole design (domains sharing
        PSUs or strata get their covariance); degrees of freedom are PSUs - strata
        among the rows involved; ``n`` sums the domains' counts; the SRS variance of the
        design effect is sum a^2 * srs_var (simple random sampling within each domain).
        ``labels``: a Q-row frame naming the aggregates. ``keep_cells=False`` keeps no
        influence totals in the result (less memory; it then cannot be aggregated or
        contrasted further).
        """
        D, T = self.estimate.shape
        a = np.asarray(coefficients, dtype=float)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], T, axis=2)
        if a.ndim != 3 or a.shape[1:] != (D, T):
            raise SipasError(f"expected coefficients of shape (Q, {D}) or (Q, {D}, {T}), got {a.shape}")
        used = a != 0
        est = (a * np.where(used, self.estimate, 0.0)).sum(1)  # NaN if a used estimate is NaN
        est[~used.any(1)] = np.nan
        Q = len(a)
        var, df = np.zeros((Q, T)), np.zeros((Q, T))
        cells, betas, reps = [], [], []
        by_unit = np.argsort(self.cell_unit, kind="stable")  # the cells in unit order, sorted once
        for q in range(Q):
            # the cells of the domains this aggregate uses, in blocks of whole first-stage
            # PSUs (about CHUNK cells each): per block, totals per finest unit, their
            # variance parts and counts; memory is a block's, not the units x T totals
            acc = Accumulator(self.design._stages, T)
            C = 0.0 if self.cal_beta is not None else None
            n_psu, strata_met = np.zeros(T, dtype=np.int64), np.zeros((self.design.n_strata, T), dtype=bool)
            kept = []
            for unit_ids, totals, inc in self._blocks(a[q], by_unit):
                acc.add(unit_ids, totals)
                if C is not None:
                    C = C + cross_products(self.design, unit_ids, totals)
                by_psu, strata = _psus_and_strata(self.design, unit_ids, inc)
                n_psu += by_psu.sum(0)
                met, any_ = _any_by(strata, by_psu)
                strata_met[met] |= any_
                if keep_cells or self.rep_est is not None:
                    kept.append((unit_ids, totals if keep_cells else totals[:, :0], inc))
            var[q] = acc.variance()
            unit_ids, totals, inc = (np.concatenate(c) for c in zip(*kept)) if kept else (None, None, None)
            if self.cal_beta is not None:
                beta = np.einsum("dt,dgt->gt", a[q], self.cal_beta)
                var[q] += np.diagonal(correction_from(self.design, C, beta))
                betas.append(beta)
            if self.rep_est is not None:
                used_q = a[q] != 0                                      # D x T
                thetas = np.einsum("dt,drt->rt", a[q], np.where(used_q[:, None, :], self.rep_est, 0.0))
                missing = (np.isnan(self.rep_est) & used_q[:, None, :]).any(0)
                var[q] = self.design._rep.var(np.where(missing, np.nan, thetas))
                reps.append(thetas)
                psu_of = self.design._stages[0].unit[unit_ids]
                df[q] = [self.design._rep.degf(psu_of[inc[:, t]]) for t in range(T)]
            else:
                df[q] = n_psu - strata_met.sum(0)
            if keep_cells:
                cells.append((unit_ids, np.full(len(unit_ids), q), totals, inc))
            else:
                cells.append((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, T)),
                              np.zeros((0, T), dtype=bool)))
        cell_unit, cell_dom, cell_z, cell_inc = (np.concatenate(c) for c in zip(*cells))
        n = (used * self.n).sum(1)
        srs = (a ** 2 * self.srs_var).sum(1)
        labels = pd.DataFrame(index=range(Q)) if labels is None else labels.reset_index(drop=True)
        return Linearized(self.design, self.names, labels, est, var, None, n, df, srs,
                          cell_unit, cell_dom, cell_z, cell_inc, np.stack(betas) if betas else None,
                          np.stack(reps) if reps else None)

    def _blocks(self, coef: np.ndarray, by_unit: np.ndarray):
        """(sorted finest units, influence totals, included) of the cells that the
        (D x T) coefficients use, in blocks of whole first-stage PSUs of about CHUNK
        cells; totals are the cells' z times their domain's coefficients, summed per unit.
        ``by_unit``: every cell, stably sorted by unit."""
        sel = by_unit[(coef != 0).any(1)[self.cell_domain[by_unit]]]
        units = self.cell_unit[sel]
        psu = self.design._stages[0].unit[units]
        psu_starts = np.flatnonzero(np.r_[True, psu[1:] != psu[:-1]]) if len(sel) else np.zeros(0, dtype=np.int64)
        at = np.searchsorted(psu_starts, np.arange(0, len(sel), CHUNK))
        cuts = np.unique(psu_starts[at[at < len(psu_starts)]])
        for lo, hi in zip(cuts, np.r_[cuts[1:], len(sel)]):
            idx, u = sel[lo:hi], units[lo:hi]
            starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
            c = coef[self.cell_domain[idx]]
            totals, inc = self.cell_z[idx] * c, self.cell_included[idx] & (c != 0)
            if len(starts) != len(u):  # a unit in several domains (else each sum is one cell)
                totals, inc = np.add.reduceat(totals, starts), np.logical_or.reduceat(inc, starts)
            yield u[starts], totals, inc

    def contrast(self, coefficients, level: float | None = None) -> pd.DataFrame:
        """A linear combination of domain estimates, for every quantity (``svycontrast``),
        with a t test of "combination = 0".

        ``coefficients``: a mapping from domain label (the ``by`` value, a tuple for
        several ``by`` columns) to coefficient, or an array with one coefficient per
        domain. Variance and degrees of freedom as in :meth:`aggregate`. Returns one
        row per quantity with :data:`CONTRAST_COLUMNS`.

        >>> lin = d.estimate({"api00": "api00"}, by="stype")       # doctest: +SKIP
        >>> lin.contrast({"E": 1, "H": -1})                        # doctest: +SKIP
        """
        agg = self.aggregate(self._domain_coefficients(coefficients)[None, :])
        return t_tests(self.names, agg.estimate[0], agg.se[0], agg.df[0],
                       _check_level(level or self.design.level))

    def difference(self, a, b, level: float | None = None) -> pd.DataFrame:
        """Domain ``a`` minus domain ``b`` within one design: ``contrast({a: 1, b: -1})``."""
        return self.contrast({a: 1.0, b: -1.0}, level)

    def _domain_coefficients(self, coefficients) -> np.ndarray:
        D = len(self.domains)
        if not isinstance(coefficients, Mapping):
            a = np.asarray(coefficients, dtype=float)
            if a.shape != (D,):
                raise SipasError(f"expected {D} coefficients, one per domain, got shape {a.shape}")
            return a
        keys = [tuple(r) if len(r) > 1 else r[0] for r in self.domains.itertuples(index=False)]
        index = {k: i for i, k in enumerate(keys)}
        a = np.zeros(D)
        for k, v in coefficients.items():
            if k not in index:
                raise SipasError("no such domain", value=k, hint=f"domains: {keys[:20]}")
            a[index[k]] = v
        return a




# ---------------------------------------------------------------------- internals


def _linearize(design: SurveyDesign, y, x, included, coefs, names, dom, labels,
               totals: np.ndarray | None = None) -> Linearized:
    """Per domain: ratios ``sum w y / sum w x`` (or, where ``totals[k]``, the total
    ``sum w y``), their combinations, influence totals per finest unit, variances."""
    D, T = len(labels), coefs.shape[-1]
    K = y.shape[1]
    is_total = np.zeros(K, dtype=bool) if totals is None else np.asarray(totals, dtype=bool)
    rows_in = np.flatnonzero(dom >= 0)
    order = rows_in[np.lexsort((design._unit[rows_in], dom[rows_in]))]
    bounds = np.searchsorted(dom[order], np.arange(D + 1))
    est = np.full((D, T), np.nan)
    vcov = np.zeros((D, T, T))
    n = np.zeros((D, T))
    df = np.zeros((D, T))
    srs = np.full((D, T), np.nan)
    stages = design._stages
    cal, betas = design._cal, []
    rep, reps = getattr(design, "_rep", None), []
    # cells (finest unit x domain), allocated once: no copy when the domains are joined
    u_sorted, d_sorted = design._unit[order], dom[order]
    new = np.r_[True, (u_sorted[1:] != u_sorted[:-1]) | (d_sorted[1:] != d_sorted[:-1])] if len(order) else \
        np.zeros(0, dtype=bool)
    cell_bounds = np.r_[0, np.cumsum(np.bincount(d_sorted[new], minlength=D))]
    del u_sorted, d_sorted, new
    C = int(cell_bounds[-1])
    all_unit, all_dom = np.empty(C, dtype=np.int64), np.empty(C, dtype=np.int64)
    all_z, all_inc = np.empty((C, T)), np.empty((C, T), dtype=bool)
    for d in range(D):
        rows = order[bounds[d]:bounds[d + 1]]
        coef = coefs[d] if coefs.ndim == 3 else coefs
        uses = coef != 0
        w = design._w[rows]
        yd, xd = y[rows].astype(float), x[rows].astype(float)
        incd = included[rows]
        inc = incd.astype(float) @ uses > 0  # rows in each estimate's base
        Y, X = w @ yd, w @ xd
        X = np.where(is_total, 1.0, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            R = Y / X
        ok = np.isfinite(R)
        R0 = np.where(ok, R, 0.0)
        A = np.where(ok[:, None], coef / np.where(ok, X, 1.0)[:, None], 0.0)
        est[d] = np.where((uses & ~ok[:, None]).any(0) | ~uses.any(0), np.nan, R0 @ coef)
        u = yd - np.where(is_total, 0.0, R0) * xd           # y - R x, per row and ratio
        wu = u * w[:, None]
        unit = design._unit[rows]
        starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
        z = np.add.reduceat(wu, starts) @ A               # influence totals per finest unit
        cell_unit = unit[starts]
        vcov[d] = recursive_variance(stages, cell_unit, z, cross=True)
        if cal is not None:   # variance of the calibration residuals (R's svyrecvar)
            beta = cal.beta(cal.Phi[rows].T @ (wu @ A))
            vcov[d] += correction(design, cell_unit, z, beta)
            betas.append(beta)
        # counts, degrees of freedom, SRS variance for the design effect
        n[d] = inc.sum(0)
        cell_inc = np.add.reduceat(inc.astype(np.int32), starts) > 0
        df[d] = _psus_minus_strata(design, cell_unit, cell_inc)
        N = w @ inc
        if is_total.any():   # R's svytotal deff: N^2 times the SRS variance of the mean
            Nk = w @ incd.astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(Nk > 0, Y / Nk, 0.0)
            u = np.where(is_total, yd - mean * incd, u)
            wu = u * w[:, None]
            A = np.where(is_total[:, None], coef, A)
        sum_wr2 = np.einsum("kt,kl,lt->t", A, wu.T @ u, A)
        with np.errstate(divide="ignore", invalid="ignore"):
            srs[d] = np.where((N > n[d]) & (n[d] > 1), sum_wr2 * (N - n[d]) / (n[d] - 1), np.nan)
        if rep is not None:   # replicate-weight variance instead (R's svrVar)
            thetas = replicate_estimates(rep, design, rows, w, yd, xd, coef, is_total)
            vcov[d] = rep.vcov(thetas, np.isfinite(est[d]))
            reps.append(thetas)
            psu_of = stages[0].unit[cell_unit]
            df[d] = [rep.degf(psu_of[cell_inc[:, t]]) for t in range(T)]
        sl = slice(cell_bounds[d], cell_bounds[d + 1])
        all_unit[sl], all_dom[sl], all_z[sl], all_inc[sl] = cell_unit, d, z, cell_inc
    cell_unit, cell_dom, cell_z, cell_inc = all_unit, all_dom, all_z, all_inc
    var = np.diagonal(vcov, axis1=1, axis2=2).copy()
    return Linearized(design, names, labels, est, var, vcov, n, df, srs, cell_unit, cell_dom, cell_z, cell_inc,
                      np.stack(betas) if cal is not None else None, np.stack(reps) if rep is not None else None)


def _psus_minus_strata(design: SurveyDesign, cell_unit: np.ndarray, included: np.ndarray) -> np.ndarray:
    """Per column of ``included`` (cells x T): first-stage PSUs - strata among the
    included cells (R's ``degf`` of the subset design)."""
    by_psu, strata = _psus_and_strata(design, cell_unit, included)
    return by_psu.sum(0) - _any_by(strata, by_psu)[1].sum(0)


def _psus_and_strata(design: SurveyDesign, cell_unit: np.ndarray, included: np.ndarray):
    """(PSUs x T: the PSU has an included cell, the PSUs' first-stage strata)."""
    psu = design._stages[0].unit[cell_unit]
    if (np.diff(psu) < 0).any():
        order = np.argsort(psu, kind="stable")
        psu, included = psu[order], included[order]
    starts = np.flatnonzero(np.r_[True, psu[1:] != psu[:-1]])
    by_psu = np.logical_or.reduceat(included, starts, axis=0) if len(starts) != len(psu) else included
    return by_psu, design._psu_stratum[psu[starts]]


def _any_by(strata: np.ndarray, by_psu: np.ndarray) -> np.ndarray:
    """(strata met, per stratum and column: any of its PSUs included); ``strata`` are the
    sorted PSUs' strata."""
    starts = np.flatnonzero(np.r_[True, strata[1:] != strata[:-1]])
    return strata[starts], np.logical_or.reduceat(by_psu, starts, axis=0)


def _coefficients(components: list, combinations: Mapping | None) -> tuple[np.ndarray, list]:
    """(K x T) coefficients: every component itself, then each combination."""
    K = len(components)
    index = {c: k for k, c in enumerate(components)}
    cols, names = [np.eye(K)], list(components)
    for name, coefs in (combinations or {}).items():
        v = np.zeros((K, 1))
        for c, a in coefs.items():
            if c not in index:
                raise SipasError(f"combination '{name}' uses unknown component", value=c,
                                 hint=f"components: {list(index)[:20]}")
            v[index[c], 0] = a
        cols.append(v)
        names.append(name)
    return np.hstack(cols), names
