"""Ranks within peer groups with bootstrap intervals: which places are distinguishable.

Every unit is ranked within its peer group (unit type) by its SIPAS, and by each
element (and aspect) index, highest first; ties share the better rank (as the
annexes). The 95% interval of a rank comes from a seeded **Rao–Wu rescaling
bootstrap** (Rao & Wu 1988; Rao, Wu & Yue 1992) that resamples primary sampling
units with replacement within each stratum:

* in stratum h with n_h PSUs, draw m_h = n_h - 1 PSUs with replacement (multinomial
  counts r_hi); each PSU's weights are multiplied by
  ``1 - λ_h + λ_h · n_h/(n_h - 1) · r_hi`` with ``λ_h = sqrt(1 - f_h)``, f_h the
  sampling fraction of PSUs (0 without fpc). For a linear statistic the expected
  bootstrap variance equals the Taylor formula of :mod:`sipas.estimation.survey`
  (``(1 - f_h) n_h/(n_h - 1) Σ (z_hi - z̄_h)²``), finite-population correction
  included; with fpc the factors stay positive, so every criterion keeps its base.
  Without fpc (``design.fpc: false``) λ_h = 1: R's ``as.svrepdesign(type="subbootstrap")``.
* a stratum with a single PSU keeps its weights (it contributes no variance, as
  ``lonely_psu`` "remove"/"certainty", and as "adjust" for estimates within it).
* every replicate recomputes the indices with the published formula (criterion
  shares, means over the criteria answered in the replicate), ranks the units, and
  the interval is the 2.5% and 97.5% quantiles of the replicate ranks (the smallest
  rank r with P*(rank <= r) >= q, "inverted CDF"). An interval is widened, if
  needed, to contain the published rank (``contains_rank=True``; the raw percentile
  interval can miss it when several units are within noise of each other).

The seed and the number of replicates come from ``params/settings.yaml``
(``bootstrap_seed``, ``bootstrap_replicates``); with the same data they give the same
table. Columns ``band`` and ``strict_rank`` (:func:`bands`, settings
``publication.bands``) say where a strict rank may be published and the top / middle /
bottom group otherwise. The stratum order, PSU order and random stream are fixed (strata and PSUs in
sorted order, NumPy's PCG64), so the result does not depend on the order of rows.

    >>> from sipas.estimation.ranks import ranks_table
    >>> ranks_table(df, cfg)                     # doctest: +SKIP
         year    unit_id unit_type item_id  estimate  rank  rank_low  rank_high  n_units ...
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError
from sipas.estimation.indices import _answers, _coefficients, _items, survey_design
from sipas.estimation.survey import SurveyDesign

RANK_COLUMNS = ["year", "unit_id", "unit_type", "level", "item_id", "estimate", "boot_se", "rank",
                "rank_low", "rank_high", "n_units", "n_boot", "seed", "method", "band", "strict_rank"]
BANDS = {"top": "Nhóm đầu", "middle": "Nhóm giữa", "bottom": "Nhóm cuối"}
METHOD = "rao-wu-rescaling-bootstrap"


def bootstrap_factors(design: SurveyDesign, replicates: int, seed: int) -> np.ndarray:
    """(PSUs x replicates) Rao-Wu rescaling factors of the PSU weights (module doc).

    PSUs in the design's internal order (by stratum, then PSU label)."""
    if replicates < 1:
        raise SipasError("the bootstrap needs at least one replicate", value=replicates)
    rng = np.random.default_rng(seed)
    n_h = design._n_h
    # 1 - f_h from the design's variance scale f n/(n - 1); lonely PSUs keep their weights
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(n_h > 1, design._scale * (n_h - 1) / n_h, 0.0)
    lam = np.sqrt(np.clip(keep, 0.0, 1.0))
    out = np.ones((design.n_psu, replicates))
    starts = np.r_[0, np.cumsum(n_h)]
    for h, n in enumerate(n_h):
        if n < 2 or lam[h] == 0:
            continue
        counts = rng.multinomial(n - 1, np.full(n, 1.0 / n), size=replicates).T  # n x B
        out[starts[h]:starts[h + 1]] = 1 - lam[h] + lam[h] * n / (n - 1) * counts
    return out


def _replicate_indices(df: pd.DataFrame, cfg: YearConfig, replicates: int, seed: int,
                       design: SurveyDesign | None = None):
    """Unit ids, item ids, point estimates (D x T) and replicates (B x D x T) of the
    element, aspect and SIPAS indices of every unit."""
    method = cfg.methodology
    design = survey_design(df, cfg, design)
    valid, positive = _answers(df, method)
    dom, labels = design.domains("unit_id")
    D, K = len(labels), valid.shape[1]
    w = design._w
    # weighted totals per (PSU, unit) cell
    key = design._psu * D + dom
    cells, inv = np.unique(key, return_inverse=True)
    cell_psu, cell_dom = cells // D, cells % D
    Y = np.zeros((len(cells), K))
    X = np.zeros((len(cells), K))
    np.add.at(Y, inv, positive * w[:, None])
    np.add.at(X, inv, valid * w[:, None])
    F = np.concatenate([np.ones((design.n_psu, 1)), bootstrap_factors(design, replicates, seed)], axis=1)
    items = [it for it in _items(method) if it[0] not in ("criterion", "overall")]
    t_index = [i for i, it in enumerate(_items(method)) if it[0] not in ("criterion", "overall")]
    B1 = F.shape[1]
    num = np.zeros((B1, D, K))
    den = np.zeros((B1, D, K))
    for d in range(D):
        rows = cell_dom == d
        f = F[cell_psu[rows]]             # cells_d x (1 + B)
        num[:, d] = f.T @ Y[rows]
        den[:, d] = f.T @ X[rows]
    available = den > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(available, num / np.where(available, den, 1.0), 0.0)
    # the coefficients depend on a domain's availability pattern only: computed once per pattern
    flat = available.reshape(B1 * D, K)
    _, first, which = np.unique(np.packbits(flat, axis=1), axis=0, return_index=True, return_inverse=True)
    coef = _coefficients(method, flat[first])[:, :, t_index]   # patterns x K x T
    which = which.reshape(B1, D)
    est = np.empty((B1, D, len(t_index)))
    for lo in range(0, B1, 32):  # a few replicates at a time: no (1 + B) x D x K x T array
        est[lo:lo + 32] = np.einsum("bdk,bdkt->bdt", share[lo:lo + 32], coef[which[lo:lo + 32]])
    est = np.where((coef != 0).any(1)[which], est, np.nan)
    return list(labels["unit_id"]), items, est[0], est[1:]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank along the last axis, highest first, ties share the better rank; NaN -> 0."""
    v = np.where(np.isnan(values), -np.inf, values)
    r = 1 + (v[..., None, :] > v[..., :, None]).sum(-1)
    return np.where(np.isnan(values), 0, r)


def _quantile_rank(ranks: np.ndarray, q: float) -> np.ndarray:
    """Smallest rank r with P*(rank <= r) >= q, per column of (B x U) replicate ranks."""
    s = np.sort(ranks, axis=0)
    B = len(s)
    return s[max(int(np.ceil(q * B)) - 1, 0)]


def ranks_table(df: pd.DataFrame, cfg: YearConfig, replicates: int | None = None, seed: int | None = None,
                *, level: float | None = None, contains_rank: bool = True,
                design: SurveyDesign | None = None) -> pd.DataFrame:
    """Rank of every unit within its peer group, for SIPAS and each element / aspect
    index, with bootstrap intervals (:data:`RANK_COLUMNS`).

    ``replicates`` and ``seed`` default to the settings' ``bootstrap_replicates`` and
    ``bootstrap_seed``; ``level`` to ``confidence_level``. ``boot_se`` is the bootstrap
    standard error of the unit's index (comparable with the Taylor ``se`` of the index
    table). Units without an estimate are not ranked. ``design``: the year's design if
    already built (:func:`~sipas.estimation.indices.survey_design`).
    """
    s = cfg.settings
    B = int(replicates if replicates is not None else s.bootstrap_replicates)
    seed = int(seed if seed is not None else s.bootstrap_seed)
    level = float(level if level is not None else s.confidence_level)
    df = df.reset_index(drop=True)
    ids, items, point, reps = _replicate_indices(df, cfg, B, seed, design)
    types = {u.id: u.type for u in cfg.units}
    order = {u.id: i for i, u in enumerate(cfg.units)}
    alpha = 1 - level
    rows = []
    for t in cfg.registry.unit_types:
        members = [i for i, u in enumerate(ids) if types.get(u) == t.id]
        if not members:
            continue
        for j, (lvl, item, _) in enumerate(items):
            obs = point[members, j]
            ok = ~np.isnan(obs)
            if not ok.any():
                continue
            m = np.asarray(members)[ok]
            rank = _ranks(obs[ok])
            boot = _ranks(reps[:, m, j])                       # B x U
            low = _quantile_rank(boot, alpha / 2)
            high = _quantile_rank(boot, 1 - alpha / 2)
            if contains_rank:
                low, high = np.minimum(low, rank), np.maximum(high, rank)
            se = np.nanstd(reps[:, m, j], axis=0, ddof=1)
            for k, d in enumerate(m):
                rows.append((cfg.year, ids[d], t.id, lvl, item, obs[ok][k], se[k], int(rank[k]),
                             int(low[k]), int(high[k]), int(ok.sum()), B, seed, METHOD))
    out = pd.DataFrame(rows, columns=RANK_COLUMNS[:-2])
    bs = cfg.settings.publication.bands
    out["band"], out["strict_rank"] = bands(out["rank_low"], out["rank_high"], out["n_units"], bs.groups,
                                            bs.wide_share)
    level_order = {"sipas": 0, "aspect": 1, "element": 2}
    item_order = {it[1]: i for i, it in enumerate(items)}
    out = out.iloc[np.lexsort((out["unit_id"].map(order).to_numpy(), out["item_id"].map(item_order).to_numpy(),
                               out["level"].map(level_order).to_numpy()))]
    return out.reset_index(drop=True)


def bands(rank_low, rank_high, n_units, groups: int = 3, wide_share: float = 0.25):
    """Bands instead of strict ranks (as PAPI's bands), from the rank intervals.

    The n places are cut into ``groups`` equal parts (the top part = places 1 to
    ceil(n / groups), the bottom part the last ceil(n / groups)). A unit is ``"top"``
    when its whole rank interval lies in the top part, ``"bottom"`` when it lies in the
    bottom part, ``"middle"`` otherwise: a unit is placed in the top or bottom band only
    when the data say so. ``strict_rank`` is true when the interval spans at most
    ``wide_share`` of the places (then the rank itself may be published); otherwise the
    band is what rankings and narrative use. Returns (band, strict_rank) arrays."""
    low, high, n = (np.asarray(v, dtype=float) for v in (rank_low, rank_high, n_units))
    part = np.ceil(n / groups)
    band = np.where(high <= part, "top", np.where(low > n - part, "bottom", "middle")).astype(object)
    width = high - low + 1
    strict = (width <= np.maximum(wide_share * n, 1)) | (n <= 1)
    return band, strict


def distinguishable(ranks: pd.DataFrame, item_id: str = "sipas") -> pd.DataFrame:
    """Pairs of units of a peer group whose rank intervals do not overlap (``a`` ranks
    clearly above ``b``): columns ``unit_type, a, b``. A screening summary of the
    intervals, not a test."""
    r = ranks[ranks["item_id"] == item_id]
    out = []
    for t, g in r.groupby("unit_type", sort=False):
        g = g.sort_values("rank")
        for a in g.itertuples():
            for b in g.itertuples():
                if a.rank_high < b.rank_low:
                    out.append((t, a.unit_id, b.unit_id))
    return pd.DataFrame(out, columns=["unit_type", "a", "b"])


__all__ = ["RANK_COLUMNS", "BANDS", "bands", "bootstrap_factors", "ranks_table", "distinguishable"]
