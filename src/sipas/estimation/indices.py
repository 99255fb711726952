"""Criterion, element, aspect and SIPAS indices with design-based statistics: the tidy
result table.

Default formulas (``params/methodology/*.yaml``, ``aggregation``):

* criterion index = share of valid answers that are positive (4 or 5 on the 5-point
  scale), with design weights: ``Σ w·1[y positive] / Σ w·1[y valid]``; missing codes
  (don't know, not applicable) and blanks are outside the base;
* element index = unweighted mean of its criterion indices (criteria with no valid
  answer in a unit are left out of the mean), or, where the methodology says
  ``aggregation.element: overall_item``, the index of the element's overall ("nói
  chung") item; overall items get rows of their own (level ``overall``);
* aspect index (a sub-index, when the methodology defines aspects, e.g. policy and
  services) = mean of its element indices;
* SIPAS = mean of the element indices, or of the aspect indices when there are aspects.

Peer groups (one per unit type, ``unit_id = "group:<type>"``) and the province
(``unit_id = "province"``) are formed by the named option ``province_aggregation``:

* ``unit_mean``: every figure is the unweighted mean of the units' figures;
* ``respondent_weighted``: the criterion shares are computed over all respondents of
  the group with their design weights, then aggregated as for a unit.

Statistics (:mod:`sipas.estimation.survey`, validated against R's ``survey`` package). The
design is read from the processed microdata: stratum, PSU, weight and fpc columns
(``docs/data-contract.md``), lonely PSUs as the year's ``design.lonely_psu``. Every
index is a linear combination of criterion ratio estimators with different bases, so
its Taylor-linearised variance includes their covariances; a unit-mean group or
province figure is a linear combination of unit indices (variance on the whole
design). Columns added to each row: ``se``, ``ci_low``/``ci_high`` (95% by default,
logit interval unless asked otherwise, named in ``ci_method``), ``deff`` (against
simple random sampling without replacement; for unit means, against such sampling
within each unit), ``n_eff`` = n / max(deff, 1) (n when the design effect is
undefined), ``df`` = PSUs - strata among the rows involved, and ``flag`` from
:func:`reliability_flag` (footnote text: :func:`flag_footnote`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from sipas.base.codebook import Methodology, YearConfig
from sipas.base.errors import SipasError
from sipas.estimation.households import household_design
from sipas.estimation.survey import Linearized, SurveyDesign, interval

BASE_COLUMNS = [
    "year", "unit_id", "unit_name", "unit_type", "level", "item_id", "item_label",
    "parent_id", "estimate", "n", "aggregation",
]
STAT_COLUMNS = ["se", "ci_low", "ci_high", "ci_method", "deff", "n_eff", "df", "flag"]
COLUMNS = BASE_COLUMNS + STAT_COLUMNS
LEVELS = ["criterion", "overall", "element", "aspect", "sipas"]
PROVINCE_ID = "province"
AGGREGATIONS = ("unit_mean", "respondent_weighted")

# Reliability rule, after the NCHS Data Presentation Standards for Proportions (2017),
# judged on the Korn-Graubard interval whatever interval is displayed.
MIN_N_EFF = 30            # suppress below this effective sample size
MAX_CI_WIDTH = 0.30       # suppress at or above this absolute interval width
MAX_RELATIVE_WIDTH = 1.30  # suppress above this width / estimate, when the width is > 0.05
MIN_DF = 8                # below this many degrees of freedom: review (shown, with a note)
FLAG_SUPPRESS, FLAG_REVIEW = "suppress", "review"
FLAG_NOTES = {
    FLAG_SUPPRESS: ("Ước lượng không đủ độ tin cậy để công bố (cỡ mẫu hiệu dụng dưới {n_eff}, "
                    "hoặc khoảng tin cậy rộng từ {width} điểm phần trăm trở lên): "
                    "không dùng để so sánh, xếp hạng."),
    FLAG_REVIEW: ("Thiết kế mẫu có dưới {df} bậc tự do (ít địa bàn khảo sát): sai số chuẩn "
                  "kém ổn định, cần thận trọng khi diễn giải."),
}


def group_id(unit_type: str) -> str:
    return f"group:{unit_type}"


def reliability_flag(estimate, se, n, df, n_eff, level: float = 0.95) -> np.ndarray:
    """NCHS-style flag per estimate: ``"suppress"``, ``"review"`` or ``""``.

    ``"suppress"`` when the effective sample size is below :data:`MIN_N_EFF`, the
    Korn-Graubard interval is :data:`MAX_CI_WIDTH` wide or more, or wider than 0.05 and
    more than :data:`MAX_RELATIVE_WIDTH` times the estimate, or cannot be computed;
    otherwise ``"review"`` when the degrees of freedom are below :data:`MIN_DF`. Rows
    without an estimate get ``""``. Element and SIPAS indices are judged as if they were
    proportions (they are means of proportions).
    """
    est, se, n, df, n_eff = (np.asarray(v, dtype=float) for v in (estimate, se, n, df, n_eff))
    low, high, _ = interval(est, se, df, n, "beta", level)
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        suppress = ~(np.isfinite(width) & np.isfinite(n_eff)) | (n_eff < MIN_N_EFF) | \
            (width >= MAX_CI_WIDTH) | ((width > 0.05) & (width / est > MAX_RELATIVE_WIDTH))
    flag = np.where(suppress, FLAG_SUPPRESS, np.where(df < MIN_DF, FLAG_REVIEW, ""))
    return np.where(np.isnan(est), "", flag).astype(object)


def flag_footnote(flags: Iterable[str] = (FLAG_SUPPRESS, FLAG_REVIEW)) -> str:
    """Vietnamese footnote explaining the flags that occur in ``flags`` (a column)."""
    values = {"n_eff": MIN_N_EFF, "width": f"{MAX_CI_WIDTH * 100:g}", "df": MIN_DF}
    used = set(flags)
    return " ".join(f"({k}) {FLAG_NOTES[k].format(**values)}" for k in FLAG_NOTES if k in used)


def survey_design(df: pd.DataFrame, cfg: YearConfig, design: SurveyDesign | None = None) -> SurveyDesign:
    """The year's sampling design over the processed microdata.

    ``design``: one already built over the same rows (:func:`sipas.estimation.tables.build_tables`
    builds it once per year, the household design's frame reading and raking being the
    slow part), returned as it is after checking that it has one row per row of ``df``.

    Columns ``stratum``, ``psu``, ``weight``, ``fpc`` (docs/data-contract.md); without
    them: stratum = unit, every respondent a PSU, weight 1, no fpc. The fpc is used
    when the registry's ``design.fpc`` is true. A household design
    (``design.households``) is built by :func:`sipas.estimation.households.household_design`.
    """
    if design is not None:
        if design.n != len(df):
            raise SipasError(f"the design given has {design.n} rows, the data {len(df)}")
        return design
    if cfg.registry.design.households is not None:
        return household_design(df, cfg)
    return SurveyDesign(
        df.reset_index(drop=True),
        strata="stratum" if "stratum" in df else "unit_id",
        psu="psu" if "psu" in df else None,
        weights="weight" if "weight" in df else None,
        fpc="fpc" if cfg.registry.design.fpc and "fpc" in df else None,
        lonely_psu=cfg.registry.design.lonely_psu,
        level=cfg.settings.confidence_level,
    )


def _answers(df: pd.DataFrame, method: Methodology) -> tuple[np.ndarray, np.ndarray]:
    """Per respondent × rated item (:attr:`Methodology.items`): valid, and
    valid-and-positive indicators."""
    k = len(method.items)
    valid = np.zeros((len(df), k), dtype=bool)
    positive = np.zeros((len(df), k), dtype=bool)
    for j, c in enumerate(method.items):
        scale = method.scale_of(c)
        col = df[c.id].astype("Int64").to_numpy(dtype=float, na_value=np.nan)  # NaN: in no list
        valid[:, j] = np.isin(col, scale.valid_codes)
        positive[:, j] = np.isin(col, scale.positive)
    return valid, positive & valid


def _items(method: Methodology) -> list[tuple[str, str, str]]:
    """(level, item_id, parent_id) of every estimate, in the order of the coefficients."""
    overall = set(method.overall_ids)
    items = [("overall" if c.id in overall else "criterion", c.id, e.id) for e in method.elements for c in e.items]
    items += [("element", e.id, e.aspect or "") for e in method.elements]
    items += [("aspect", a.id, "") for a in method.aspects]
    return items + [("sipas", "sipas", "")]


def _coefficients(method: Methodology, available: np.ndarray) -> np.ndarray:
    """(D x K x T) weights of the K item shares in every estimate, per domain.

    ``available`` (D x K): the item has a valid answer in the domain. Each level is the
    mean of the available members of the level below; an element's members are
    :meth:`Methodology.element_members` (its content items, or its overall item).
    """
    D, K = available.shape
    ids = method.item_ids
    member = np.zeros((K, len(method.elements)))
    for e, el in enumerate(method.elements):
        member[[ids.index(c.id) for c in method.element_members(el)], e] = 1

    def mean_of(parts: np.ndarray, ok: np.ndarray, groups: np.ndarray):
        """Mean of the ``ok`` columns of ``parts`` (D x K x P) within ``groups`` (P x G)."""
        count = ok.astype(float) @ groups
        out = np.einsum("dkp,pg->dkg", parts * ok[:, None, :], groups) / np.fmax(count, 1)[:, None, :]
        return out, count > 0

    crit = np.broadcast_to(np.eye(K), (D, K, K))
    elem, elem_ok = mean_of(crit, available, member)
    parts = [crit, elem]
    top, top_ok = elem, elem_ok
    if method.aspects:
        aspect_of = np.array([[e.aspect == a.id for a in method.aspects] for e in method.elements], float)
        top, top_ok = mean_of(elem, elem_ok, aspect_of)
        parts.append(top)
    sipas, _ = mean_of(top, top_ok, np.ones((top.shape[2], 1)))
    return np.concatenate(parts + [sipas], axis=2)


def _estimates(design: SurveyDesign, valid: np.ndarray, positive: np.ndarray,
               method: Methodology, by: str | None) -> Linearized:
    codes, labels = design.domains(by)
    available = np.zeros((len(labels), valid.shape[1]), dtype=bool)
    for k in range(valid.shape[1]):
        available[:, k] = np.bincount(codes[valid[:, k] & (codes >= 0)], minlength=len(labels)) > 0
    names = [item for _, item, _ in _items(method)]
    return design.linearize(positive, valid, valid, _coefficients(method, available), names, by)


def estimate_units(df: pd.DataFrame, cfg: YearConfig, *, design: SurveyDesign | None = None) -> Linearized:
    """Every index of every unit with its linearisation (domains = units present), for
    contrasts between units (:mod:`sipas.estimation.significance`)."""
    df = df.reset_index(drop=True)
    valid, positive = _answers(df, cfg.methodology)
    return _estimates(survey_design(df, cfg, design), valid, positive, cfg.methodology, "unit_id")


def item_levels(method: Methodology) -> dict[str, str]:
    """Level (criterion, element, aspect, sipas) of every estimate id."""
    return {item: level for level, item, _ in _items(method)}


def _unit_means(units: Linearized, scopes: list[tuple[str, list[str]]]) -> np.ndarray:
    """(Q x D x T) coefficients: each scope's figure = mean of its units' figures that exist."""
    ids = list(units.domains["unit_id"])
    a = np.zeros((len(scopes), *units.estimate.shape))
    for q, (_, members) in enumerate(scopes):
        rows = [ids.index(u) for u in members if u in ids]
        has = ~np.isnan(units.estimate[rows])
        a[q, rows] = has / np.fmax(has.sum(0), 1)
    return a


def _block(lin: Linearized, scope_ids: list[str], method: Methodology, ci_method: str) -> pd.DataFrame:
    """Rows of the result table for the domains of ``lin`` (one scope id per domain)."""
    t = lin.table(ci_method)
    items = _items(method)
    t["unit_id"] = np.repeat(scope_ids, len(items))
    t["level"], t["item_id"], t["parent_id"] = (np.tile([it[i] for it in items], len(scope_ids))
                                                for i in range(3))
    return t


def compute_indices(df: pd.DataFrame, cfg: YearConfig, province_aggregation: str | None = None,
                    *, ci_method: str = "logit", design: SurveyDesign | None = None) -> pd.DataFrame:
    """The tidy index table of a year: every unit, every peer group and the province,
    with design-based statistics (:data:`COLUMNS`).

    ``df`` is the processed microdata (docs/data-contract.md). ``province_aggregation``
    overrides ``params/settings.yaml``. ``ci_method``: ``"logit"`` (default), ``"beta"``
    (Korn-Graubard) or ``"wald"``. ``design``: the year's design if already built
    (:func:`survey_design`).
    """
    method = cfg.methodology
    how = province_aggregation or cfg.settings.province_aggregation
    if how not in AGGREGATIONS:
        raise ValueError(f"province_aggregation must be one of {AGGREGATIONS}, got {how!r}")
    df = df.reset_index(drop=True)
    design = survey_design(df, cfg, design)
    valid, positive = _answers(df, method)

    units = _estimates(design, valid, positive, method, "unit_id")
    blocks = [_block(units, list(units.domains["unit_id"]), method, ci_method)]
    scopes = [(group_id(t.id), [u.id for u in cfg.units if u.type == t.id]) for t in cfg.registry.unit_types]
    scopes = [s for s in scopes if s[1]] + [(PROVINCE_ID, [u.id for u in cfg.units])]
    if how == "respondent_weighted":
        groups = _estimates(design, valid, positive, method, "unit_type")
        gids = [group_id(t) for t in groups.domains["unit_type"]]
        blocks.append(_block(groups, gids, method, ci_method))
        blocks.append(_block(_estimates(design, valid, positive, method, None), [PROVINCE_ID], method, ci_method))
    else:
        agg = units.aggregate(_unit_means(units, scopes), keep_cells=False)
        blocks.append(_block(agg, [sid for sid, _ in scopes], method, ci_method))
    out = pd.concat(blocks, ignore_index=True)

    # every registry scope gets its rows, with NaN where it has no respondents
    names = {u.id: (u.name, u.type) for u in cfg.units}
    names.update({group_id(t.id): (t.label_plural, "group") for t in cfg.registry.unit_types})
    names[PROVINCE_ID] = (f"Tỉnh {cfg.settings.province}", "province")
    wanted = [u.id for u in cfg.units] + [sid for sid, _ in scopes]
    grid = pd.DataFrame([(sid, lvl, item, parent) for sid in wanted for lvl, item, parent in _items(method)],
                        columns=["unit_id", "level", "item_id", "parent_id"])
    out = grid.merge(out.drop(columns=["unit_type"], errors="ignore"), how="left",
                     on=["unit_id", "level", "item_id", "parent_id"])
    out["unit_name"] = out["unit_id"].map(lambda s: names[s][0])
    out["unit_type"] = out["unit_id"].map(lambda s: names[s][1])
    unit_agg = {"criterion": method.aggregation.criterion, "overall": method.aggregation.criterion,
                "element": method.aggregation.element,
                "aspect": method.aggregation.aspect, "sipas": method.aggregation.index}
    is_unit = out["unit_id"].isin([u.id for u in cfg.units])
    out["aggregation"] = np.where(is_unit, out["level"].map(unit_agg), how)
    out["year"] = cfg.year
    out["item_label"] = out["item_id"].map(method.labels())
    out["n"] = out["n"].fillna(0).astype("int64")
    out["df"] = out["df"].fillna(0).astype("int64")
    out["flag"] = reliability_flag(out["estimate"], out["se"], out["n"], out["df"], out["n_eff"],
                                   cfg.settings.confidence_level)
    return sort_indices(out[COLUMNS], cfg)


def sort_indices(df: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Stable order: units in registry order, then groups, then province; levels top-down."""
    scope_order = [u.id for u in cfg.units] + [group_id(t.id) for t in cfg.registry.unit_types] + [PROVINCE_ID]
    item_order = ["sipas"] + [a.id for a in cfg.methodology.aspects] + \
        [e.id for e in cfg.methodology.elements] + cfg.methodology.item_ids
    level_order = ["sipas", "aspect", "element", "criterion", "overall"]
    key = pd.DataFrame({
        "s": df["unit_id"].map({k: i for i, k in enumerate(scope_order)}),
        "l": df["level"].map({k: i for i, k in enumerate(level_order)}),
        "i": df["item_id"].map({k: i for i, k in enumerate(item_order)}),
    })
    order = np.lexsort((key["i"].to_numpy(), key["l"].to_numpy(), key["s"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)
