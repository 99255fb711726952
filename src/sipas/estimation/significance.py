"""Significance tests of a year, as one tidy table (``outputs/<year>/tables/tests.csv``).

Three kinds of test (column ``test``), each a design-based test from :mod:`sipas.estimation.survey`:

* ``change``: an index of a scope (unit, peer group, province) this year minus last
  year; independent annual samples, SE = sqrt(se1^2 + se0^2), t test with df1 + df0
  degrees of freedom (:func:`sipas.estimation.survey.difference`). Inputs: the two years' index
  tables (:func:`sipas.estimation.indices.compute_indices`).
* ``peer``: a unit's index minus the mean of the same index over the other units of
  its peer group (same year, one design: the covariance is linearised; the units are
  separate strata). t test with PSUs - strata degrees of freedom.
* ``association``: Rao-Scott second-order F test (R ``svychisq`` default) of "satisfied
  overall" (:func:`satisfied_overall`) against a respondent characteristic (gender,
  age band, ...), per unit and for the province.

Multiple testing: p-values are adjusted within a *family* (column ``family``):
``<test>/<level>`` for changes and peer comparisons (e.g. every unit's SIPAS change is
one family), ``association/<variable>`` for Rao-Scott tests. ``statistic`` is t
(change, peer; ``ddf`` its degrees of freedom) or F (association; ``ndf``, ``ddf``). Holm by default,
Benjamini-Hochberg (``correction="bh"``) on request; ``p_value`` (raw) and
``p_adjusted`` are both kept, ``significant`` compares the adjusted p with 1 - level.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError
from sipas.estimation.indices import PROVINCE_ID, _answers, estimate_units, item_levels, survey_design
from sipas.estimation.survey import SurveyDesign, difference, t_tests

TEST_COLUMNS = [
    "year", "test", "family", "unit_id", "level", "item_id", "comparison", "estimate", "se",
    "ci_low", "ci_high", "statistic", "ndf", "ddf", "p_value", "p_adjusted", "correction",
    "significant",
]
CORRECTIONS = ("holm", "bh")
PROFILE_VARIABLES = ("respondent_type", "gender", "age_band", "ethnicity", "channel")


def adjust_pvalues(p, correction: str = "holm") -> np.ndarray:
    """Holm (default) or Benjamini-Hochberg (``"bh"``) adjusted p-values, by statsmodels'
    ``multipletests`` (methods ``"holm"`` / ``"fdr_bh"``, named explicitly: its default
    is Holm-Šidák); NaN stays NaN and is not counted in the family."""
    from statsmodels.stats.multitest import multipletests

    if correction not in CORRECTIONS:
        raise SipasError("unknown multiple-testing correction", value=correction,
                         hint=f"use one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        # statsmodels' Holm branch calls gc.collect() on every call: 0.08 s each in a process
        # holding pandas and SciPy, 0.6 s of a year's tables. Objects frozen beforehand are
        # skipped by that collection (the result does not depend on it); unfreeze only what
        # was frozen here (a warm kernel freezes its heap itself: running/kernel_state.py).
        frozen = gc.get_freeze_count()
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], method=_MULTIPLETESTS[correction])[1]
        finally:
            if not frozen:
                gc.unfreeze()
    return out


_MULTIPLETESTS = {"holm": "holm", "bh": "fdr_bh"}


def satisfied_overall(df: pd.DataFrame, cfg: YearConfig, threshold: float | None = None) -> pd.Series:
    """1.0 when a respondent's own index (mean over elements of the share of their valid
    answers that are positive) is at least ``threshold``, 0.0 below, NaN without any
    valid answer. Which answers count and the default threshold are the methodology's
    ``satisfied_overall``: the content items (2017–2020 method: there is no overall
    question; this is the respondent-level counterpart of the SIPAS formula) or each
    element's overall ("nói chung") item (2023–2026 method). Computed exactly
    (:func:`satisfied_exact`): a float mean of shares such as 1/3, 2/3, 1/2 lands just
    below 0.5 and would misclassify the respondent."""
    pos, val = element_counts(df, cfg)
    threshold = cfg.methodology.satisfied_overall.threshold if threshold is None else threshold
    return pd.Series(satisfied_exact(pos, val, threshold), index=df.index, name="satisfied")


def element_counts(df: pd.DataFrame, cfg: YearConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per respondent and element: (positive, valid) answer counts, integers, over the
    element's :meth:`~sipas.base.codebook.Methodology.respondent_items`."""
    method = cfg.methodology
    valid, positive = _answers(df, method)
    ids = method.item_ids
    pos = np.zeros((len(df), len(method.elements)), dtype=np.int64)
    val = np.zeros_like(pos)
    for k, e in enumerate(method.elements):
        cols = [ids.index(c.id) for c in method.respondent_items(e)]
        pos[:, k] = positive[:, cols].sum(1)
        val[:, k] = valid[:, cols].sum(1)
    return pos, val


def satisfied_exact(pos: np.ndarray, val: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """1.0 when the mean over answered elements of ``pos/val`` is >= ``threshold``, 0.0
    below, NaN with no answered element; computed in integers (no rounding: a mean of
    exactly 0.5, e.g. shares 1/3, 2/3 and 1/2, is satisfied).

    The threshold is taken as the exact rational it denotes (0.5 = 1/2). Compares
    ``sum_e pos_e L/val_e * den >= num * E * L`` with L the lcm of the answered
    elements' valid counts."""
    t = Fraction(threshold).limit_denominator(10 ** 6)
    pos, val = np.asarray(pos, dtype=np.int64), np.asarray(val, dtype=np.int64)
    answered = val > 0
    v = np.where(answered, val, 1)
    L = np.lcm.reduce(v, axis=1)
    total = (np.where(answered, pos, 0) * (L[:, None] // v)).sum(1)
    E = answered.sum(1)
    ok = total * t.denominator >= t.numerator * E * L
    return np.where(E == 0, np.nan, ok.astype(float))


def change_tests(current: pd.DataFrame, previous: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """This year's index minus last year's, per scope and item present in both tables."""
    keys = ["unit_id", "level", "item_id"]
    both = current.merge(previous, on=keys, suffixes=("", "_prev"))
    prev = both[["estimate_prev", "se_prev", "df_prev"]].set_axis(["estimate", "se", "df"], axis=1)
    d = difference(both[["estimate", "se", "df"]], prev, level).reset_index(drop=True)
    years = f"{int(both['year'].iloc[0])} − {int(both['year_prev'].iloc[0])}" if len(both) else ""
    return _tests("change", both[keys].reset_index(drop=True), d, years)


def peer_tests(df: pd.DataFrame, cfg: YearConfig, level: float = 0.95, *,
               design: SurveyDesign | None = None) -> pd.DataFrame:
    """Each unit minus the mean of the other units of its type, for every index."""
    units = estimate_units(df, cfg, design=design)
    ids = list(units.domains["unit_id"])
    types = {u.id: u.type for u in cfg.units}
    has = (~np.isnan(units.estimate)).astype(float)
    coef = np.zeros((len(ids), *units.estimate.shape))
    for q, u in enumerate(ids):
        rest = [i for i, v in enumerate(ids) if v != u and types.get(v) == types.get(u)]
        coef[q, q] = 1.0
        coef[q, rest] = -has[rest] / np.fmax(has[rest].sum(0), 1.0)
    agg = units.aggregate(coef, keep_cells=False)
    t = t_tests(units.names * len(ids), agg.estimate.ravel(), agg.se.ravel(), agg.df.ravel(), level)
    keys = pd.DataFrame({"unit_id": np.repeat(ids, len(units.names)), "item_id": t["variable"]})
    keys.insert(1, "level", keys["item_id"].map(item_levels(cfg.methodology)))
    return _tests("peer", keys, t, "đơn vị − trung bình các đơn vị cùng nhóm")


def association_tests(df: pd.DataFrame, cfg: YearConfig, variables: Sequence[str] | None = None,
                      threshold: float | None = None, *, design: SurveyDesign | None = None) -> pd.DataFrame:
    """Rao-Scott tests of satisfied overall against each respondent characteristic,
    per unit and for the province."""
    df = df.reset_index(drop=True)
    variables = [v for v in (variables or PROFILE_VARIABLES) if v in df.columns]
    satisfied = satisfied_overall(df, cfg, threshold)
    design = survey_design(df, cfg, design)
    rows = []
    for v in variables:
        for by, scope in (("unit_id", None), (None, PROVINCE_ID)):
            t = design.chisq(satisfied, v, by=by)
            t["unit_id"] = t["unit_id"] if by else scope
            rows.append(t)
    if not rows:
        return pd.DataFrame(columns=TEST_COLUMNS)
    t = pd.concat(rows, ignore_index=True)
    out = pd.DataFrame({"year": cfg.year, "test": "association", "family": "association/" + t["col"],
                        "unit_id": t["unit_id"], "level": "", "item_id": "satisfied",
                        "comparison": "hài lòng chung × " + t["col"], "estimate": np.nan, "se": np.nan,
                        "ci_low": np.nan, "ci_high": np.nan, "statistic": t["F"], "ndf": t["ndf"],
                        "ddf": t["ddf"], "p_value": t["p_value"]})
    return out


def significance_table(df: pd.DataFrame, cfg: YearConfig, current: pd.DataFrame,
                       previous: pd.DataFrame | None = None, *, correction: str = "holm",
                       variables: Sequence[str] | None = None, design: SurveyDesign | None = None) -> pd.DataFrame:
    """Every test of the year with raw and adjusted p-values (:data:`TEST_COLUMNS`).

    ``df``: the year's processed microdata; ``current`` / ``previous``: the index tables
    of this year and the previous one (no change tests without ``previous``); ``design``:
    the year's design if already built (:func:`~sipas.estimation.indices.survey_design`).
    """
    level = cfg.settings.confidence_level
    parts = [peer_tests(df, cfg, level, design=design), association_tests(df, cfg, variables, design=design)]
    if previous is not None:
        parts.insert(0, change_tests(current, previous, level))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    out["year"] = cfg.year
    out["correction"] = correction
    out["p_adjusted"] = np.nan
    for _, idx in out.groupby("family", sort=False).groups.items():
        out.loc[idx, "p_adjusted"] = adjust_pvalues(out.loc[idx, "p_value"], correction)
    out["significant"] = out["p_adjusted"] < 1 - level
    return out[TEST_COLUMNS]


def _tests(kind: str, keys: pd.DataFrame, d: pd.DataFrame, comparison: str) -> pd.DataFrame:
    out = keys.copy()
    out["test"] = kind
    out["family"] = kind + "/" + keys["level"]
    out["comparison"] = comparison
    for c in ("estimate", "se", "ci_low", "ci_high"):
        out[c] = d[c].to_numpy()
    out["statistic"], out["ndf"] = d["t"].to_numpy(), np.nan
    out["ddf"], out["p_value"] = d["df"].to_numpy(), d["p_value"].to_numpy()
    return out


__all__ = ["TEST_COLUMNS", "adjust_pvalues", "satisfied_overall", "change_tests", "peer_tests",
           "association_tests", "significance_table"]
