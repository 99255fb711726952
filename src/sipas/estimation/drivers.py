"""Design-based logistic regression, and what goes with being satisfied overall
(``outputs/<year>/tables/drivers.csv``).

:func:`logistic` is R's ``svyglm(family = quasibinomial)``: coefficients maximise the
weighted (pseudo-)likelihood (Newton-Raphson, the same numbers as statsmodels' GLM with
a binomial family and the weights as ``var_weights``); their covariance is the **design-based sandwich** — Taylor
linearisation of the estimating equations, ``V = A⁻¹ Var_design(Σ_i w_i (y_i - μ_i) x_i) A⁻¹``
with ``A = Σ_i w_i μ_i (1 - μ_i) x_i x_iᵀ``, the variance of the total taken over the
strata and PSUs with fpc and the lonely-PSU option (:meth:`SurveyDesign.total_vcov`),
as ``svy.varcoef``. Rows missing the outcome or a predictor are left out but keep their
strata and PSUs (R subsets the design the same way). Degrees of freedom: PSUs - strata
among the rows used, minus (number of coefficients - 1) (R's ``df.residual``); t-based
intervals and p-values on them, odds ratios ``exp(coef)`` with ``exp`` of the interval.
statsmodels' own GLM standard errors (with ``freq_weights`` or ``var_weights``) are
*not* design-based and are not used.

The SIPAS drivers (:func:`drivers_table`). "Satisfied overall"
(:func:`sipas.estimation.significance.satisfied_overall`) is the respondent's own index >=
0.5, a function of the element answers (content items, or each element's overall item,
as the methodology's ``satisfied_overall`` says). Regressing it on the
element indices would fit a definition (perfect separation), so:

* model ``profile``: satisfied overall on the respondent profile (categories with fewer
  than ``min_category`` respondents pooled as ``nhom_nho``) and the unit type; adjusted
  odds ratios of each group against the reference (first category of the question);
* model ``element:<id>``, one per element: being satisfied with the **other** elements
  (their mean share >= 0.5) on this element's own share (per 10 percentage points), with
  the same profile and unit-type terms. Its odds ratio says how strongly satisfaction
  with this element goes with satisfaction with the rest of the service — an
  association in the same interview (halo included), not a causal effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError
from sipas.estimation.indices import _answers, survey_design
from sipas.estimation.significance import element_counts, satisfied_exact
from sipas.estimation.survey import SurveyDesign, _check_level

COEF_COLUMNS = ["term", "variable", "category", "reference", "coef", "se", "t", "df", "p_value",
                "odds_ratio", "ci_low", "ci_high", "n", "converged"]
DRIVER_COLUMNS = ["year", "model", "outcome", *COEF_COLUMNS, "label"]
PROFILE_VARIABLES = ("respondent_type", "gender", "age_band", "ethnicity", "channel")
SMALL = "nhom_nho"
ELEMENT_STEP = 0.1  # element shares enter per 10 percentage points


def _design_matrix(frame: pd.DataFrame, reference: Mapping | None):
    """Intercept, numeric columns as they are, other columns dummy-coded against the
    reference level (``reference[col]``, else the first level in sorted order)."""
    reference = dict(reference or {})
    cols, info = [np.ones(len(frame))], [("(Intercept)", "", "", "")]
    missing = np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        s = frame[name]
        missing |= s.isna().to_numpy()
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.astype("Float64").to_numpy(dtype=float, na_value=np.nan))
            info.append((str(name), str(name), "", ""))
            continue
        codes, found = pd.factorize(s)  # missing: -1, in no level
        order = sorted(range(len(found)), key=lambda k: str(found[k]))
        levels = [found[k] for k in order]
        ref = reference.get(name, levels[0] if levels else None)
        if ref not in levels:
            raise SipasError("reference level not in the data", column=name, value=ref,
                             hint=f"levels: {levels[:20]}")
        for k, lev in zip(order, levels):
            if lev == ref:
                continue
            cols.append((codes == k).astype(float))
            info.append((f"{name}[{lev}]", str(name), str(lev), str(ref)))
    return np.column_stack(cols), info, missing


def logistic(design: SurveyDesign, outcome, predictors, *, reference: Mapping | None = None,
             level: float | None = None, maxiter: int = 100) -> pd.DataFrame:
    """Design-based logistic regression (``svyglm(family=quasibinomial)``).

    ``outcome``: a 0/1 (or boolean) column name or array aligned with the design's
    data; missing values leave the row out. ``predictors``: column names, or a
    DataFrame aligned with the data; numeric/boolean columns enter as they are, other
    columns are dummy-coded against ``reference[col]`` (default: first level sorted).
    Returns one row per coefficient (:data:`COEF_COLUMNS`): log-odds ``coef`` with its
    design-based ``se``, ``t``, ``df``, two-sided ``p_value``, and the odds ratio with
    its interval; ``converged`` is False when the fit did not converge or a
    coefficient runs off (|coef| > 15: separation), and then its numbers mean little.

    >>> d = SurveyDesign(apiclus1, psu="dnum", weights="pw", fpc="fpc")        # doctest: +SKIP
    >>> logistic(d, apiclus1["sch.wide"].eq("Yes"), ["meals", "stype"])      # doctest: +SKIP
    """
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    level = _check_level(level or design.level)
    _, y = design._column(outcome)
    y = pd.Series(y).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isnan(y) | (y == 0) | (y == 1)):
        raise SipasError("the outcome of a logistic regression must be 0/1 or true/false")
    if isinstance(predictors, pd.DataFrame):
        frame = predictors.reset_index(drop=True)
    else:
        frame = pd.DataFrame({p: design._column(p)[1] for p in predictors})
    if len(frame) != design.n:
        raise SipasError(f"predictors have {len(frame)} rows, the design {design.n}")
    X, info, missing = _design_matrix(frame, reference)
    ok = ~(missing | np.isnan(y))
    if ok.sum() <= X.shape[1]:
        raise SipasError(f"{ok.sum()} complete rows for {X.shape[1]} coefficients")
    w = design._w
    beta, fit_converged = _fit(y[ok], X[ok], w[ok] / w[ok].mean(), maxiter)
    mu = 1 / (1 + np.exp(-(X[ok] @ beta)))
    A = (X[ok] * (w[ok] * mu * (1 - mu))[:, None]).T @ X[ok]
    try:
        Ainv = np.linalg.inv(A)
    except np.linalg.LinAlgError:  # separation: the fit ran off, its SEs mean nothing
        Ainv, fit_converged = np.linalg.pinv(A), False
    infl = np.zeros_like(X)
    infl[ok] = (X[ok] * (w[ok] * (y[ok] - mu))[:, None]) @ Ainv
    V = design.total_vcov(infl)
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    psus = np.unique(design._psu[ok])
    df = len(psus) - len(np.unique(design._psu_stratum[psus])) - X.shape[1] + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
        p = 2 * stats.t.sf(np.abs(t), df) if df > 0 else np.full_like(t, np.nan)
        q = stats.t.ppf(1 - (1 - level) / 2, df) if df > 0 else np.nan
    converged = fit_converged and bool(np.all(np.abs(beta) <= 15))
    out = pd.DataFrame(info, columns=["term", "variable", "category", "reference"])
    out["coef"], out["se"], out["t"], out["df"], out["p_value"] = beta, se, t, df, p
    out["odds_ratio"] = np.exp(beta)
    out["ci_low"], out["ci_high"] = np.exp(beta - q * se), np.exp(beta + q * se)
    out["n"], out["converged"] = int(ok.sum()), converged
    return out[COEF_COLUMNS]


def _fit(y: np.ndarray, X: np.ndarray, w: np.ndarray, maxiter: int) -> tuple[np.ndarray, bool]:
    """Weighted logistic maximum likelihood by Newton-Raphson (= IRLS) with step halving;
    converged when the largest step is below 1e-12 (statsmodels' GLM gives the same
    coefficients, see the tests; done here to keep the batch free of its import)."""
    beta = np.zeros(X.shape[1])

    def loglik(b):
        eta = X @ b
        return float(w @ (y * eta - np.logaddexp(0.0, eta)))

    ll = loglik(beta)
    for _ in range(maxiter):
        mu = 1 / (1 + np.exp(-(X @ beta)))
        H = (X * (w * mu * (1 - mu))[:, None]).T @ X
        try:
            step = np.linalg.solve(H, X.T @ (w * (y - mu)))
        except np.linalg.LinAlgError:
            return beta, False
        for _ in range(30):                     # halve until the likelihood does not fall
            new = loglik(beta + step)
            if new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, ll = beta + step, new
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            return beta, True
    return beta, False


def element_shares(df: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Per respondent and element: the share of their valid answers that are positive
    (NaN without a valid answer in the element), over the element's
    :meth:`~sipas.base.codebook.Methodology.respondent_items`."""
    method = cfg.methodology
    valid, positive = _answers(df, method)
    ids = method.item_ids
    out = {}
    for e in method.elements:
        cols = [ids.index(c.id) for c in method.respondent_items(e)]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[e.id] = positive[:, cols].sum(1) / valid[:, cols].sum(1)
    return pd.DataFrame(out, index=df.index)


def _satisfied(counts: tuple[np.ndarray, np.ndarray], threshold: float, drop: int | None = None) -> np.ndarray:
    """1/0 when the mean of the answered elements' shares (optionally without element
    ``drop``) is >= / < threshold, NaN with none; exact (integer) comparison."""
    pos, val = counts
    if drop is not None:
        pos, val = np.delete(pos, drop, axis=1), np.delete(val, drop, axis=1)
    return satisfied_exact(pos, val, threshold)


def _profile(df: pd.DataFrame, cfg: YearConfig, variables, min_category: int):
    """Profile columns with small categories pooled, and each one's reference level."""
    cats = {v.id: [c.code for c in v.categories] for v in cfg.methodology.profile if v.type == "category"}
    frame, reference = {}, {}
    for v in variables:
        if v not in df.columns:
            continue
        s = df[v].astype("object").where(df[v].notna(), None)
        counts = s.value_counts()
        small = counts.index[counts < min_category]
        if len(small):
            s = s.where(~s.isin(small), SMALL)
            counts = s.value_counts()
        if s.nunique(dropna=True) < 2:
            continue
        order = [c for c in cats.get(v, []) if c in counts.index and c != SMALL] or list(counts.index)
        frame[v] = s
        reference[v] = order[0]
    if "unit_type" in df.columns and df["unit_type"].nunique() > 1:
        frame["unit_type"] = df["unit_type"].astype("object")
        present = set(df["unit_type"])
        reference["unit_type"] = next(t.id for t in cfg.registry.unit_types if t.id in present)
    return pd.DataFrame(frame, index=df.index), reference


def drivers_table(df: pd.DataFrame, cfg: YearConfig, variables: Sequence[str] | None = None, *,
                  threshold: float | None = None, min_category: int = 50,
                  design: SurveyDesign | None = None) -> pd.DataFrame:
    """The year's driver models (module doc) as one tidy table (:data:`DRIVER_COLUMNS`);
    ``threshold`` defaults to the methodology's ``satisfied_overall.threshold``;
    ``design``: the year's design if already built (:func:`~sipas.estimation.indices.survey_design`)."""
    df = df.reset_index(drop=True)
    threshold = cfg.methodology.satisfied_overall.threshold if threshold is None else threshold
    design = survey_design(df, cfg, design)
    level = cfg.settings.confidence_level
    shares = element_shares(df, cfg)
    profile, reference = _profile(df, cfg, variables or PROFILE_VARIABLES, min_category)
    labels = cfg.methodology.labels()
    cat_labels = {(v.id, c.code): c.label for v in cfg.methodology.profile if v.type == "category"
                  for c in v.categories}
    type_labels = {t.id: t.label_plural for t in cfg.registry.unit_types}
    parts = []
    counts = element_counts(df, cfg)
    t = logistic(design, _satisfied(counts, threshold), profile, reference=reference, level=level)
    parts.append(t.assign(model="profile", outcome="satisfied"))
    for k, e in enumerate(shares.columns):
        rest = _satisfied(counts, threshold, drop=k)
        x = pd.concat([(shares[e] / ELEMENT_STEP).rename(e), profile], axis=1)
        t = logistic(design, rest, x, reference=reference, level=level)
        parts.append(t.assign(model=f"element:{e}", outcome=f"satisfied_without_{e}"))
    out = pd.concat(parts, ignore_index=True)
    out["year"] = cfg.year

    def label(r) -> str:
        if r.term == "(Intercept)":
            return "Hệ số chặn"
        if r.category == "":
            return f"{labels.get(r.variable, r.variable)} (mỗi 10 điểm %)"
        if r.variable == "unit_type":
            return type_labels.get(r.category, r.category)
        return "Nhóm nhỏ (gộp)" if r.category == SMALL else cat_labels.get((r.variable, r.category), r.category)

    out["label"] = [label(r) for r in out.itertuples()]
    return out[DRIVER_COLUMNS]


__all__ = ["COEF_COLUMNS", "DRIVER_COLUMNS", "logistic", "element_shares", "drivers_table"]
