"""Scale reliability: Cronbach's alpha per element, with Feldt's interval and item-rest
correlations (``outputs/<year>/tables/reliability.csv``).

For an element with k criteria, on the respondents who gave a valid answer (1–5) to
every one of them (complete cases; "don't know", "not applicable" and blanks leave a
respondent out of that element):

* ``alpha = k/(k - 1) · (1 - Σ s²_j / s²_total)`` from the sample covariance matrix of
  the answers (R ``psych::alpha``'s ``raw_alpha``); ``std_alpha`` the same from the
  correlation matrix (``k r̄ / (1 + (k - 1) r̄)``);
* Feldt's (1965) interval, as ``psych::alpha.ci``: with n respondents and level 1 - γ,
  ``[1 - (1 - alpha) F_{1-γ/2}(n - 1, (n - 1)(k - 1)), 1 - (1 - alpha) F_{γ/2}(n - 1, (n - 1)(k - 1))]``;
* ``item_rest``: correlation of a criterion with the sum of the element's other
  criteria (``psych``'s ``r.drop``); ``alpha_if_deleted``: alpha of the other criteria.

Alpha describes the instrument in this sample: it is **unweighted** (every respondent
counts once) and Feldt's interval assumes independent respondents; clustering by
commune makes it somewhat too narrow for districts (docs/assumptions.md).

Flags (column ``flag``): ``"low"`` when alpha < :data:`MIN_ALPHA` (0.70, Nunnally's
rule of thumb for group comparisons), ``"weak_item"`` on a criterion whose item-rest
correlation is below :data:`MIN_ITEM_REST` (0.30), ``"few"`` when fewer than
:data:`MIN_N` complete cases (not computed), ``""`` otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError
from sipas.estimation.indices import PROVINCE_ID, group_id

RELIABILITY_COLUMNS = ["year", "unit_id", "level", "element_id", "item_id", "item_label", "n", "n_items",
                       "alpha", "ci_low", "ci_high", "std_alpha", "item_rest", "alpha_if_deleted", "flag"]
MIN_ALPHA = 0.70
MIN_ITEM_REST = 0.30
MIN_N = 30
FLAG_NOTES = {
    "low": "Hệ số Cronbach's alpha dưới 0,70: các tiêu chí của yếu tố chưa đo lường nhất quán.",
    "weak_item": "Tương quan giữa tiêu chí và phần còn lại của yếu tố dưới 0,30: tiêu chí ít gắn với yếu tố.",
    "few": f"Dưới {MIN_N} người trả lời đủ mọi tiêu chí của yếu tố: không tính.",
}


def _alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    total = cov.sum()
    return float(k / (k - 1) * (1 - np.trace(cov) / total)) if total > 0 else float("nan")


def feldt_interval(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt's F-based interval for Cronbach's alpha of ``k`` items on ``n`` respondents."""
    from scipy import stats  # here, not at the top: 1.5 s of CPU to import, which a rendering kernel never needs

    if n < 2 or k < 2 or np.isnan(alpha):
        return float("nan"), float("nan")
    g = 1 - level
    d1, d2 = n - 1, (n - 1) * (k - 1)
    return (float(1 - (1 - alpha) * stats.f.ppf(1 - g / 2, d1, d2)),
            float(1 - (1 - alpha) * stats.f.ppf(g / 2, d1, d2)))


def cronbach_alpha(items, level: float = 0.95) -> dict:
    """Cronbach's alpha of the columns of ``items`` (DataFrame or 2-D array; rows with
    any missing value are left out) with Feldt's interval, standardised alpha,
    item-rest correlations and alpha if an item is deleted.

    >>> cronbach_alpha(df[["c1_1", "c1_2", "c1_3", "c1_4"]])   # doctest: +SKIP
    {'n': 5120, 'n_items': 4, 'alpha': 0.83, 'ci_low': 0.82, ...}
    """
    x = np.asarray(items, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise SipasError("Cronbach's alpha needs at least two items (columns)")
    x = x[~np.isnan(x).any(1)]
    n, k = x.shape
    nan_k = np.full(k, np.nan)
    out = {"n": n, "n_items": k, "alpha": np.nan, "ci_low": np.nan, "ci_high": np.nan, "std_alpha": np.nan,
           "item_rest": nan_k, "alpha_if_deleted": nan_k}
    if n < 2:
        return out
    cov = np.cov(x, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    a = _alpha(cov)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
        rbar = (corr.sum() - k) / (k * (k - 1))
        std = k * rbar / (1 + (k - 1) * rbar)
        rest_var = cov.sum() - 2 * cov.sum(1) + np.diag(cov)           # var of total minus item j
        item_rest = (cov.sum(1) - np.diag(cov)) / np.sqrt(np.diag(cov) * rest_var)
    drop = np.array([_alpha(np.delete(np.delete(cov, j, 0), j, 1)) if k > 2 else np.nan for j in range(k)])
    low, high = feldt_interval(a, n, k, level)
    out.update(alpha=a, ci_low=low, ci_high=high, std_alpha=float(std), item_rest=item_rest,
               alpha_if_deleted=drop)
    return out


def _scores(df: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Valid answers as numbers, missing codes and blanks as NaN."""
    method = cfg.methodology
    out = {}
    for c in method.criteria:
        col = pd.to_numeric(df[c.id], errors="coerce").astype(float)
        valid = col.isin(method.scale_of(c).valid_codes)
        out[c.id] = col.where(valid)
    return pd.DataFrame(out, index=df.index)


def reliability_table(df: pd.DataFrame, cfg: YearConfig, *, by_unit: bool = False) -> pd.DataFrame:
    """Cronbach's alpha of every element for the province and each peer group (and each
    unit with ``by_unit``): one ``element`` row per scope and element, then one
    ``criterion`` row per criterion with its item-rest correlation
    (:data:`RELIABILITY_COLUMNS`)."""
    method = cfg.methodology
    level = cfg.settings.confidence_level
    scores = _scores(df, cfg)
    scopes = [(PROVINCE_ID, np.ones(len(df), dtype=bool))]
    types = df["unit_type"].to_numpy() if "unit_type" in df else None
    if types is not None:
        scopes += [(group_id(t.id), types == t.id) for t in cfg.registry.unit_types if (types == t.id).any()]
    if by_unit:
        units = df["unit_id"].to_numpy()
        scopes += [(u.id, units == u.id) for u in cfg.units if (units == u.id).any()]
    labels = method.labels()
    rows = []
    for scope, mask in scopes:
        for e in method.elements:
            ids = [c.id for c in e.criteria]
            if len(ids) < 2:
                continue
            r = cronbach_alpha(scores.loc[mask, ids].to_numpy(), level)
            few = r["n"] < MIN_N
            if few:
                r.update(alpha=np.nan, ci_low=np.nan, ci_high=np.nan, std_alpha=np.nan)
            flag = "few" if few else ("low" if r["alpha"] < MIN_ALPHA else "")
            rows.append((cfg.year, scope, "element", e.id, e.id, labels.get(e.id, e.id), r["n"], r["n_items"],
                         r["alpha"], r["ci_low"], r["ci_high"], r["std_alpha"], np.nan, np.nan, flag))
            for j, c in enumerate(ids):
                ir = np.nan if few else r["item_rest"][j]
                rows.append((cfg.year, scope, "criterion", e.id, c, labels.get(c, c), r["n"], r["n_items"],
                             np.nan, np.nan, np.nan, np.nan, ir, np.nan if few else r["alpha_if_deleted"][j],
                             "weak_item" if ir < MIN_ITEM_REST else ""))
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


__all__ = ["RELIABILITY_COLUMNS", "cronbach_alpha", "feldt_interval", "reliability_table"]
