"""Small-area estimates for commune-level units: an area-level Fay–Herriot model of the
direct (design-based) estimates, shown beside them, always labelled as model-based.

Model (Fay & Herriot 1979; Rao & Molina 2015, ch. 6), for the m units of a level and one
index (SIPAS, an aspect, an element or a criterion):

* ``θ_i = g(p_i)``, the direct estimate ``p_i`` on a variance-stabilising scale:
  ``arcsine`` (default) ``g(p) = asin(sqrt(p))`` with sampling variance
  ``d_i = 1 / (4 n_eff_i)``, or ``logit`` ``g(p) = log(p / (1 - p))`` with
  ``d_i = v_i / (p_i (1 - p_i))²`` (delta method); ``v_i`` is the design variance of
  the direct estimate (``se²`` in the index table) and ``n_eff_i = p(1 - p) / v_i``
  its effective sample size. Where the direct variance is 0 or undefined (every answer
  positive), ``n_eff`` is the unit's sample size divided by the median design effect
  of the level; logit estimates at 0 or 1 are moved in by half an observation.
* ``θ_i = x_i'β + u_i + e_i``, ``u_i ~ N(0, A)``, ``e_i ~ N(0, d_i)``, ``d_i`` known.
  Covariates ``x_i`` from the registry, named in ``params/settings.yaml``
  (``publication.sae.covariates``): ``urban`` (ward), ``log_served`` (log of the
  people served), ``former_district`` (one indicator per former district) and
  ``previous`` (last year's figure of the former district, where comparable).
* ``A`` by REML (Fisher scoring, truncated at 0); ``β`` by GLS; the EBLUP
  ``θ̃_i = γ_i θ_i + (1 - γ_i) x_i'β̂``, shrinkage ``γ_i = A / (A + d_i)`` (the weight
  of the direct estimate; 1 - γ_i goes to the model).
* MSE by Prasad & Rao (1990) with the REML correction of Datta & Lahiri (2000):
  ``g1 + g2 + 2 g3``, ``g1 = γ_i d_i``, ``g2 = (1 - γ_i)² x_i'(X'V⁻¹X)⁻¹x_i``,
  ``g3 = d_i² / (A + d_i)³ · 2 / Σ_j (A + d_j)⁻²`` (R ``sae::mseFH``).
* back to a proportion: ``p̃_i = g⁻¹(θ̃_i)``; its MSE by the delta method, the
  interval ``g⁻¹(θ̃_i ± z sqrt(mse_i))``.
* benchmarking (ratio): the model-based figures are multiplied by one factor so that
  their aggregate (mean over units, or weighted by people served under
  ``respondent_weighted``) equals the level's direct estimate; the MSE is not adjusted
  for it (a small understatement, stated in the footnote).

Checked against an independent REML written in the test (direct maximisation of the
restricted likelihood with SciPy) and a balanced case with a closed form
(tests/test_sae.py); coverage and MSE against the direct estimator by simulation from the
demo generator: benchmarks/sim_sae.py, docs/small-areas.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError

SAE_COLUMNS = ["estimate_sae", "mse_sae", "ci_low_sae", "ci_high_sae", "shrinkage"]
TRANSFORMS = ("arcsine", "logit")
COVARIATES = ("urban", "log_served", "former_district", "previous")


@dataclass(frozen=True)
class FayHerriot:
    """A fitted area-level model (on the transformed scale)."""

    beta: np.ndarray
    A: float                # variance of the area effects
    gamma: np.ndarray       # shrinkage: weight of the direct estimate
    eblup: np.ndarray
    mse: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    iterations: int
    converged: bool


def fit_fay_herriot(y, d, X, *, tol: float = 1e-10, max_iter: int = 200) -> FayHerriot:
    """REML Fay–Herriot fit of ``y`` (m direct estimates) with known sampling variances
    ``d`` on the (m x p) covariates ``X`` (include an intercept column)."""
    y, d, X = np.asarray(y, float), np.asarray(d, float), np.asarray(X, float)
    m, p = X.shape
    if y.shape != (m,) or d.shape != (m,):
        raise SipasError("Fay-Herriot: y, d and X must have the same number of areas")
    if m <= p:
        raise SipasError(f"Fay-Herriot: {m} areas for {p} coefficients; use fewer covariates")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(d)) and np.all(d > 0)):
        raise SipasError("Fay-Herriot: direct estimates and their variances must be finite, variances > 0")

    def p_matrix(A: float) -> tuple[np.ndarray, np.ndarray]:
        vinv = 1.0 / (A + d)
        xtv = X.T * vinv
        inv = np.linalg.inv(xtv @ X)
        P = np.diag(vinv) - (xtv.T @ inv @ xtv)
        return P, inv

    # start: moment estimate (Prasad-Rao), floored
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ beta_ols
    A = max((resid @ resid - d.sum() + np.trace(np.linalg.pinv(X.T @ X) @ (X.T * d) @ X)) / (m - p), 0.0)
    if A == 0.0:
        A = float(np.median(d))
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        P, _ = p_matrix(A)
        Py = P @ y
        score = -0.5 * np.trace(P) + 0.5 * Py @ Py
        info = 0.5 * np.sum(P * P)
        new = max(A + score / info, 0.0)
        if abs(new - A) < tol * max(1.0, A):
            A, converged = new, True
            break
        A = new
    if A == 0.0:
        converged = True              # boundary: the likelihood decreases in A at 0
    vinv = 1.0 / (A + d)
    xtv = X.T * vinv
    inv = np.linalg.inv(xtv @ X)
    beta = inv @ (xtv @ y)
    gamma = A / (A + d)
    synth = X @ beta
    eblup = gamma * y + (1 - gamma) * synth
    g1 = gamma * d
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, inv, X)
    g3 = d ** 2 / (A + d) ** 3 * (2.0 / np.sum(vinv ** 2))
    return FayHerriot(beta, float(A), gamma, eblup, g1 + g2 + 2 * g3, g1, g2, g3, it, converged)


# ------------------------------------------------------------------ transformations


def transform(p, n_eff, how: str):
    """(θ, d): direct estimates on the model scale and their sampling variances."""
    p, n_eff = np.asarray(p, float), np.asarray(n_eff, float)
    if how == "arcsine":
        return np.arcsin(np.sqrt(np.clip(p, 0, 1))), 1.0 / (4.0 * n_eff)
    if how == "logit":
        q = (p * n_eff + 0.5) / (n_eff + 1.0)        # away from 0 and 1 by half an observation
        return np.log(q / (1 - q)), 1.0 / (n_eff * q * (1 - q))
    raise SipasError(f"unknown small-area transform {how!r}", hint=f"one of {', '.join(TRANSFORMS)}")


def back(theta, how: str):
    theta = np.asarray(theta, float)
    if how == "arcsine":
        return np.sin(np.clip(theta, 0, np.pi / 2)) ** 2
    return 1.0 / (1.0 + np.exp(-theta))


def _slope(theta, how: str):
    """dp/dθ, for the delta-method MSE on the proportion scale."""
    theta = np.asarray(theta, float)
    if how == "arcsine":
        return np.sin(2 * np.clip(theta, 0, np.pi / 2))
    p = back(theta, how)
    return p * (1 - p)


def small_area(p, se, n, X, *, how: str = "arcsine", level: float = 0.95, benchmark: float | None = None,
               weights=None) -> pd.DataFrame:
    """Model-based estimates of m direct proportions ``p`` (design standard errors
    ``se``, sample sizes ``n``) on covariates ``X`` (intercept added here): columns
    :data:`SAE_COLUMNS` and ``benchmark_factor``, one row per area, in order."""
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    p, se, n = np.asarray(p, float), np.asarray(se, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / se ** 2
        deff = n / n_eff
    ok = np.isfinite(n_eff) & (n_eff > 0) & (p > 0) & (p < 1)
    med = float(np.nanmedian(deff[ok])) if ok.any() else 1.0
    n_eff = np.where(ok, n_eff, n / max(med, 1.0))
    theta, d = transform(p, n_eff, how)
    Xc = np.column_stack([np.ones(len(p)), np.asarray(X, float).reshape(len(p), -1)])
    Xc = _drop_collinear(Xc)
    fit = fit_fay_herriot(theta, d, Xc)
    est = back(fit.eblup, how)
    z = stats.norm.ppf(0.5 + level / 2)
    mse = _slope(fit.eblup, how) ** 2 * fit.mse
    low, high = back(fit.eblup - z * np.sqrt(fit.mse), how), back(fit.eblup + z * np.sqrt(fit.mse), how)
    factor = 1.0
    if benchmark is not None and np.isfinite(benchmark):
        w = np.full(len(p), 1.0 / len(p)) if weights is None else np.asarray(weights, float) / np.sum(weights)
        factor = float(benchmark / np.sum(w * est))
        est, low, high = np.minimum(est * factor, 1), np.minimum(low * factor, 1), np.minimum(high * factor, 1)
        mse = mse * factor ** 2
    return pd.DataFrame({"estimate_sae": est, "mse_sae": mse, "ci_low_sae": low, "ci_high_sae": high,
                         "shrinkage": 1 - fit.gamma, "benchmark_factor": factor, "sae_A": fit.A})


def _drop_collinear(X: np.ndarray) -> np.ndarray:
    """Keep the columns that add rank (in order), so that a covariate constant in this
    level or duplicating another does not make the model singular."""
    keep: list[int] = []
    for j in range(X.shape[1]):
        if np.linalg.matrix_rank(X[:, keep + [j]]) == len(keep) + 1:
            keep.append(j)
    return X[:, keep]


# ------------------------------------------------------------------ the index table


def covariates(cfg: YearConfig, unit_ids: list[str], names, previous: dict[str, float] | None = None) -> np.ndarray:
    """(m x k) covariate matrix of the named registry covariates (module doc)."""
    by_id = {u.id: u for u in cfg.units}
    units = [by_id[u] for u in unit_ids]
    cols: list[np.ndarray] = []
    for name in names:
        if name == "urban":
            cols.append(np.array([1.0 if u.urban else 0.0 for u in units]))
        elif name == "log_served":
            cols.append(np.log([u.served for u in units]))
        elif name == "former_district":
            levels = sorted({u.former_district for u in units if u.former_district})
            cols += [np.array([1.0 if u.former_district == lv else 0.0 for u in units]) for lv in levels[1:]]
        elif name == "previous":
            if previous:
                vals = np.array([previous.get(u.former_district or "", np.nan) for u in units])
                if np.isfinite(vals).all():
                    cols.append(vals)
        else:
            raise SipasError(f"unknown small-area covariate {name!r}", hint=f"one of {', '.join(COVARIATES)}")
    return np.column_stack(cols) if cols else np.empty((len(units), 0))


def add_small_area(indices: pd.DataFrame, cfg: YearConfig, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The index table with :data:`SAE_COLUMNS` filled for the unit types the
    publication policy models (``publication.sae.unit_types``), NaN elsewhere. Every
    index of those units gets its own model; ``previous`` (last year's index table) gives
    the ``previous`` covariate when its units are the former districts."""
    pol = cfg.settings.publication
    out = indices.copy()
    sae = np.full((len(out), len(SAE_COLUMNS)), np.nan)  # filled model by model, set once at the end
    served_by = {u.id: u.served for u in cfg.units}
    for t in pol.sae.unit_types:
        members = [u.id for u in cfg.units if u.type == t]
        if len(members) < pol.sae.min_areas:
            continue
        rows = out[out["unit_id"].isin(members)]
        group = out[out["unit_id"] == f"group:{t}"].set_index("item_id")["estimate"]
        for item, g in rows.groupby("item_id", sort=False):
            g = g[np.isfinite(g["estimate"]) & (g["n"] > 0)]
            if len(g) < pol.sae.min_areas:
                continue
            prev = None
            if previous is not None:
                pv = previous[previous["item_id"] == item]
                prev = dict(zip(pv["unit_id"], pv["estimate"]))
            ids = list(g["unit_id"])
            X = covariates(cfg, ids, pol.sae.covariates, prev)
            served = [served_by[u] for u in ids]
            w = served if cfg.settings.province_aggregation == "respondent_weighted" else None
            try:
                r = small_area(g["estimate"], g["se"], g["n"], X, how=pol.sae.transform,
                               level=cfg.settings.confidence_level,
                               benchmark=group.get(item) if pol.sae.benchmark else None, weights=w)
            except SipasError:
                continue                     # too few areas for the covariates: no model figure
            sae[out.index.get_indexer(g.index)] = r[SAE_COLUMNS].to_numpy(dtype=float)
    for j, c in enumerate(SAE_COLUMNS):
        out[c] = sae[:, j]
    return out


__all__ = ["SAE_COLUMNS", "FayHerriot", "fit_fay_herriot", "small_area", "covariates", "add_small_area",
           "transform", "back"]
