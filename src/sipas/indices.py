"""Criterion, element, aspect and SIPAS indices: the tidy result table.

Default formulas (``params/methodology/*.yaml``, ``aggregation``):

* criterion index = share of valid answers that are positive (4 or 5 on the 5-point
  scale), with design weights: ``Σ w·1[y positive] / Σ w·1[y valid]``; missing codes
  (don't know, not applicable) and blanks are outside the base;
* element index = unweighted mean of its criterion indices (criteria with no valid
  answer in a unit are left out of the mean);
* aspect index (when the methodology defines aspects) = mean of its element indices;
* SIPAS = mean of the element indices, or of the aspect indices when there are aspects.

Peer groups (one per unit type, ``unit_id = "group:<type>"``) and the province
(``unit_id = "province"``) are formed by the named option ``province_aggregation``:

* ``unit_mean``: every figure is the unweighted mean of the units' figures;
* ``respondent_weighted``: the criterion shares are computed over all respondents of
  the group with their design weights, then aggregated as for a unit.

The result has the columns of :data:`COLUMNS` (see docs/data-contract.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .codebook import Methodology, YearConfig

COLUMNS = [
    "year", "unit_id", "unit_name", "unit_type", "level", "item_id", "item_label",
    "parent_id", "estimate", "n", "aggregation",
]
LEVELS = ["criterion", "element", "aspect", "sipas"]
PROVINCE_ID = "province"
AGGREGATIONS = ("unit_mean", "respondent_weighted")


def group_id(unit_type: str) -> str:
    return f"group:{unit_type}"


@dataclass(frozen=True)
class _Matrices:
    """Per respondent × criterion: valid and positive indicators, and weights."""

    valid: np.ndarray  # bool, n × k
    positive: np.ndarray  # bool, n × k
    weight: np.ndarray  # float, n


def _matrices(df: pd.DataFrame, method: Methodology) -> _Matrices:
    k = len(method.criteria)
    valid = np.zeros((len(df), k), dtype=bool)
    positive = np.zeros((len(df), k), dtype=bool)
    for j, c in enumerate(method.criteria):
        scale = method.scale_of(c)
        col = df[c.id].astype("Int64")
        valid[:, j] = col.isin(scale.valid_codes).fillna(False).to_numpy(dtype=bool)
        positive[:, j] = col.isin(scale.positive).fillna(False).to_numpy(dtype=bool)
    weight = df["weight"].to_numpy(dtype=float) if "weight" in df else np.ones(len(df))
    return _Matrices(valid, positive, weight)


def _element_members(method: Methodology) -> list[np.ndarray]:
    ids = method.criterion_ids
    return [np.array([ids.index(c.id) for c in e.criteria]) for e in method.elements]


def _aggregate(crit: np.ndarray, counts: np.ndarray, resp_any: dict[str, np.ndarray],
               method: Methodology) -> list[tuple[str, str, str, float, int]]:
    """From one scope's criterion estimates (length k) to every level's rows.

    ``resp_any`` maps element ids and ``"sipas"`` (and aspect ids) to the number of
    respondents with at least one valid answer. Returns (level, item_id, parent, est, n).
    """
    rows = []
    for j, c in enumerate(method.criteria):
        rows.append(("criterion", c.id, method.element_of(c.id).id, crit[j], int(counts[j])))
    elem = {}
    for e, members in zip(method.elements, _element_members(method)):
        vals = crit[members]
        elem[e.id] = float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan
        rows.append(("element", e.id, e.aspect or "", elem[e.id], int(resp_any[e.id])))
    if method.aspects:
        tops = []
        for a in method.aspects:
            vals = np.array([elem[e.id] for e in method.elements if e.aspect == a.id])
            est = float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan
            tops.append(est)
            rows.append(("aspect", a.id, "", est, int(resp_any[a.id])))
    else:
        tops = list(elem.values())
    tops = np.array(tops, dtype=float)
    sipas = float(np.nanmean(tops)) if np.isfinite(tops).any() else np.nan
    rows.append(("sipas", "sipas", "", sipas, int(resp_any["sipas"])))
    return rows


def _any_valid(valid: np.ndarray, method: Methodology) -> dict[str, np.ndarray]:
    """Per respondent: at least one valid answer in each element / aspect / overall."""
    out = {}
    for e, members in zip(method.elements, _element_members(method)):
        out[e.id] = valid[:, members].any(axis=1)
    for a in method.aspects:
        out[a.id] = np.column_stack([out[e.id] for e in method.elements if e.aspect == a.id]).any(axis=1)
    out["sipas"] = valid.any(axis=1)
    return out


def _scope_rows(mask: np.ndarray, m: _Matrices, any_valid: dict[str, np.ndarray],
                method: Methodology) -> list[tuple]:
    w = m.weight[mask]
    v = m.valid[mask]
    p = m.positive[mask]
    wv = w @ v
    wp = w @ (p & v)
    with np.errstate(invalid="ignore", divide="ignore"):
        crit = np.where(wv > 0, wp / np.where(wv > 0, wv, 1), np.nan)
    counts = v.sum(axis=0)
    resp = {key: arr[mask].sum() for key, arr in any_valid.items()}
    return _aggregate(crit, counts, resp, method)


def compute_indices(df: pd.DataFrame, cfg: YearConfig, province_aggregation: str | None = None) -> pd.DataFrame:
    """The tidy index table of a year: every unit, every peer group and the province.

    ``df`` is the processed microdata (docs/data-contract.md). ``province_aggregation``
    overrides ``params/settings.yaml``.
    """
    method = cfg.methodology
    how = province_aggregation or cfg.settings.province_aggregation
    if how not in AGGREGATIONS:
        raise ValueError(f"province_aggregation must be one of {AGGREGATIONS}, got {how!r}")
    m = _matrices(df, method)
    any_valid = _any_valid(m.valid, method)
    unit_ids = df["unit_id"].to_numpy()
    labels = method.labels()
    unit_agg = {"criterion": method.aggregation.criterion, "element": method.aggregation.element,
                "aspect": method.aggregation.aspect, "sipas": method.aggregation.index}

    records = []
    for u in cfg.units:
        mask = unit_ids == u.id
        for level, item, parent, est, n in _scope_rows(mask, m, any_valid, method):
            records.append((u.id, u.name, u.type, level, item, parent, est, n, unit_agg[level]))
    units = pd.DataFrame(records, columns=["unit_id", "unit_name", "unit_type", "level", "item_id",
                                           "parent_id", "estimate", "n", "aggregation"])

    scopes = [(group_id(t.id), t.label_plural, "group", [u.id for u in cfg.units if u.type == t.id])
              for t in cfg.registry.unit_types]
    scopes.append((PROVINCE_ID, f"Tỉnh {cfg.settings.province}", "province", [u.id for u in cfg.units]))
    for sid, name, stype, members in scopes:
        if not members:
            continue
        if how == "respondent_weighted":
            mask = np.isin(unit_ids, members)
            for level, item, parent, est, n in _scope_rows(mask, m, any_valid, method):
                records.append((sid, name, stype, level, item, parent, est, n, how))
        else:
            sub = units[units["unit_id"].isin(members)]
            agg = sub.groupby(["level", "item_id", "parent_id"], sort=False).agg(
                estimate=("estimate", "mean"), n=("n", "sum")).reset_index()
            for r in agg.itertuples(index=False):
                records.append((sid, name, stype, r.level, r.item_id, r.parent_id, r.estimate, int(r.n), how))

    out = pd.DataFrame(records, columns=["unit_id", "unit_name", "unit_type", "level", "item_id",
                                         "parent_id", "estimate", "n", "aggregation"])
    out.insert(0, "year", cfg.year)
    out["item_label"] = out["item_id"].map(labels)
    out["n"] = out["n"].astype("int64")
    return sort_indices(out[COLUMNS], cfg)


def sort_indices(df: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Stable order: units in registry order, then groups, then province; levels top-down."""
    scope_order = [u.id for u in cfg.units] + [group_id(t.id) for t in cfg.registry.unit_types] + [PROVINCE_ID]
    item_order = ["sipas"] + [a.id for a in cfg.methodology.aspects] + \
        [e.id for e in cfg.methodology.elements] + cfg.methodology.criterion_ids
    level_order = ["sipas", "aspect", "element", "criterion"]
    key = pd.DataFrame({
        "s": df["unit_id"].map({k: i for i, k in enumerate(scope_order)}),
        "l": df["level"].map({k: i for i, k in enumerate(level_order)}),
        "i": df["item_id"].map({k: i for i, k in enumerate(item_order)}),
    })
    order = np.lexsort((key["i"].to_numpy(), key["l"].to_numpy(), key["s"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)
