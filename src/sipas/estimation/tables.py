"""The year's tidy result tables, written to ``outputs/<year>/tables/``.

* ``indices``      criterion / element / SIPAS per unit, peer group and province, with
  design-based SE, interval, design effect, df and reliability flag (:mod:`sipas.estimation.indices`);
* ``tests``        significance tests: change since the previous year (same methodology
  only), each unit against its peers, Rao-Scott tests by respondent group, with raw
  and adjusted p-values (:mod:`sipas.estimation.significance`);
* ``sample``       per unit: people served (N), planned (``target``: :attr:`YearConfig.planned_sample
  <sipas.base.codebook.YearConfig.planned_sample>`) and achieved sample;
* ``profile``      respondents' profile: counts and shares per unit and category;
* ``expectations`` share of respondents choosing (or rating "Rất nhiều") each priority;
* ``perceptions``  answers to the perception topics, by category (methodologies that have them);
* ``ranks``        rank of each unit in its peer group with a bootstrap interval (:mod:`sipas.estimation.ranks`);
* ``reliability``  Cronbach's alpha per element with Feldt's interval, item-rest correlations
  (:mod:`sipas.estimation.reliability`);
* ``drivers``      design-based logistic regressions of being satisfied overall (odds ratios,
  :mod:`sipas.estimation.drivers`);
* ``groups``       design-weighted share of respondents satisfied overall per category of each
  profile question, province-wide (what the Rao-Scott tests of ``tests`` compare).

Notebooks read these files; they compute nothing themselves.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig, load_year
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import SipasError
from sipas.base.io import write_table
from sipas.base.microdata import comparable_previous, estimation_frame, load_responses
from sipas.estimation.drivers import drivers_table
from sipas.estimation.indices import PROVINCE_ID, compute_indices, survey_design
from sipas.estimation.policy import apply_policy
from sipas.estimation.ranks import ranks_table
from sipas.estimation.reliability import reliability_table
from sipas.estimation.sae import add_small_area
from sipas.estimation.significance import satisfied_overall, significance_table

TABLES = ("indices", "tests", "sample", "profile", "expectations", "perceptions", "ranks", "reliability",
          "drivers", "groups")


def sample_table(cfg: YearConfig, df: pd.DataFrame) -> pd.DataFrame:
    counts = df.groupby("unit_id").size()
    psus = df.groupby("unit_id")["commune"].nunique() if "commune" in df else pd.Series(dtype=int)
    rows = []
    for u in cfg.units:
        rows.append({
            "year": cfg.year, "unit_id": u.id, "unit_name": u.name, "unit_type": u.type,
            "served": u.served, "target": cfg.planned_sample[u.id],
            "achieved": int(counts.get(u.id, 0)),
            "communes_listed": len(u.communes), "communes_sampled": int(psus.get(u.id, 0)),
        })
    return pd.DataFrame(rows)


def _scopes(cfg: YearConfig, df: pd.DataFrame):
    """(scope id, its rows as a boolean array) for every unit of the registry, then the province."""
    unit = pd.Categorical(df["unit_id"], categories=[u.id for u in cfg.units]).codes
    for k, u in enumerate(cfg.units):
        yield u.id, unit == k
    yield PROVINCE_ID, np.ones(len(df), dtype=bool)


def _category_rows(cfg: YearConfig, df: pd.DataFrame, variables) -> list[dict]:
    """Per scope, variable and category: unweighted count and share among answers given."""
    variables = [v for v in variables if v.type == "category"]
    given = {v.id: df[v.id].notna().to_numpy() for v in variables}
    answers = {v.id: df[v.id].to_numpy(dtype=object) for v in variables}
    scopes, counts = list(_scopes(cfg, df)), {}
    for scope, mask in scopes:
        for var in variables:
            m = mask & given[var.id]
            counts[scope, var.id] = int(m.sum()), Counter(answers[var.id][m])
    rows = []
    for var in variables:
        for scope, _ in scopes:
            total, found = counts[scope, var.id]
            for cat in var.categories:
                n = found.get(cat.code, 0)
                rows.append({"year": cfg.year, "unit_id": scope, "variable": var.id, "variable_label": var.label,
                             "category": cat.code, "category_label": cat.label,
                             "positive": cat.code in var.positive, "n": n,
                             "share": n / total if total else float("nan")})
    return rows


def profile_table(cfg: YearConfig, df: pd.DataFrame) -> pd.DataFrame:
    """Unweighted respondent counts and shares per category (shares among answers given)."""
    cols = ["year", "unit_id", "variable", "variable_label", "category", "category_label", "n", "share"]
    return pd.DataFrame(_category_rows(cfg, df, cfg.methodology.profile), columns=cols)


def expectations_table(cfg: YearConfig, df: pd.DataFrame) -> pd.DataFrame:
    """Improvement priorities per scope. Multiple choice: ``n`` respondents chose the item
    out of ``respondents``. Rated items: ``n`` answered one of the ``top`` categories out
    of ``respondents`` who rated the item."""
    exp = cfg.methodology.expectations
    cols = ["year", "unit_id", "item_id", "item_label", "n", "respondents", "share"]
    if exp is None:
        return pd.DataFrame(columns=cols)
    if exp.rated:
        rated = {i.id: df[i.id].notna().to_numpy() for i in exp.items}
        chose = {i.id: rated[i.id] & df[i.id].isin(exp.top).to_numpy(dtype=bool) for i in exp.items}
    else:
        chose = {i.id: df[i.id].fillna(False).astype(bool).to_numpy() for i in exp.items}
    rows = []
    for scope, mask in _scopes(cfg, df):
        for item in exp.items:
            n = int((mask & chose[item.id]).sum())
            base = int((mask & rated[item.id]).sum()) if exp.rated else int(mask.sum())
            rows.append({"year": cfg.year, "unit_id": scope, "item_id": item.id, "item_label": item.label,
                         "n": n, "respondents": base, "share": n / base if base else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def perceptions_table(cfg: YearConfig, df: pd.DataFrame) -> pd.DataFrame:
    """Perception topics: answers per category, and whether the category is positive
    (the "chỉ số đánh giá" of a topic is the sum of its positive shares)."""
    cols = ["year", "unit_id", "variable", "variable_label", "category", "category_label",
            "positive", "n", "share"]
    return pd.DataFrame(_category_rows(cfg, df, cfg.methodology.perceptions), columns=cols)


GROUPS_COLUMNS = ["year", "unit_id", "variable", "variable_label", "category", "category_label", "n", "rate"]


def groups_table(cfg: YearConfig, df: pd.DataFrame) -> pd.DataFrame:
    """Province-wide, per category of each profile question: respondents (``n``,
    unweighted) and the design-weighted share of them satisfied overall (``rate``,
    :func:`sipas.estimation.significance.satisfied_overall`; respondents without a valid
    answer left out of the rate)."""
    score = satisfied_overall(df, cfg).to_numpy(dtype=float)
    w = df["weight"].to_numpy(dtype=float)
    ok = ~np.isnan(score)
    wscore = w * np.where(ok, score, 0)
    rows = []
    for var in cfg.methodology.profile:
        if var.type != "category":
            continue
        codes = df[var.id].astype("string")  # a cleared profile value is <NA>: in no category
        for cat in var.categories:
            m = (codes == cat.code).fillna(False).to_numpy(dtype=bool)
            den = w[m & ok].sum()
            rows.append({"year": cfg.year, "unit_id": PROVINCE_ID, "variable": var.id, "variable_label": var.label,
                         "category": cat.code, "category_label": cat.label, "n": int(m.sum()),
                         "rate": float(wscore[m & ok].sum() / den) if den > 0 else np.nan})
    return pd.DataFrame(rows, columns=GROUPS_COLUMNS)


def previous_indices(cfg: YearConfig) -> pd.DataFrame | None:
    """The previous year's index table, for change tests (recomputed from its microdata,
    not read from outputs, so a one-year run still tests changes)."""
    prev_cfg = comparable_previous(cfg)
    if prev_cfg is None:
        return None
    return compute_indices(estimation_frame(prev_cfg), prev_cfg, ci_method=prev_cfg.settings.ci_method)


def build_tables(cfg: YearConfig, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every table of the year; the design is built once and shared (a household design
    reads its frame and rakes the weights: the slow part of a 2025 run)."""
    design = survey_design(df, cfg)
    indices = compute_indices(df, cfg, ci_method=cfg.settings.ci_method, design=design)
    previous = previous_indices(cfg)
    tests = significance_table(df, cfg, indices, previous, correction=cfg.settings.multiple_testing,
                               design=design)
    indices = apply_policy(add_small_area(indices, cfg, previous), cfg)
    return {
        "indices": indices,
        "tests": tests,
        "sample": sample_table(cfg, df),
        "profile": profile_table(cfg, df),
        "expectations": expectations_table(cfg, df),
        "perceptions": perceptions_table(cfg, df),
        "ranks": ranks_table(df, cfg, design=design),
        "reliability": reliability_table(df, cfg),
        "drivers": drivers_table(df, cfg, design=design),
        "groups": groups_table(cfg, df),
    }


def write_tables(year: int, p: Paths | None = None) -> list[Path]:
    """Compute and write every table of a year; returns the files written."""
    p = p or default_paths()
    cfg = YearConfig(year, p)
    tables = build_tables(cfg, estimation_frame(cfg))
    written: list[Path] = []
    for name, table in tables.items():
        written += write_table(table, p.tables(year) / name)
    return written


def read_table(year: int, name: str, p: Paths | None = None) -> pd.DataFrame:
    p = p or default_paths()
    path = p.tables(year) / f"{name}.parquet"
    if not path.is_file():
        raise SipasError("result table not found", file=path, hint=f"run `sipas estimate --year {year}`")
    return pd.read_parquet(path)


__all__ = ["TABLES", "build_tables", "write_tables", "read_table", "load_responses", "estimation_frame",
           "comparable_previous", "load_year"]
