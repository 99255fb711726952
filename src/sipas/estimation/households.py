"""The year's design when the registry declares a household design
(``design.households``, :mod:`sipas.base.designs`): the 2023–2026 method.

Rows of the household unit types get, from the sampling frame file: PSU = village,
second stage = household, fpc = villages in the unit and households in the village
(``selection: srs``; ``pps`` gives no fpc: villages as drawn with replacement, R's
default), and the weight (villages / villages drawn) x (households in the village /
households that answered) x adults in the household - the design weight of a
village -> household -> one adult draw with a weighting-class non-response adjustment
(class = village: drawn / answered; questionnaires quarantined by intake count as
non-response). Other rows keep stratum = unit, PSU = respondent, weight served / n,
fpc = served (a second stage of one unit taken with certainty). Then, with
``margins``, the weights are raked to the adults per unit and to the sex, age-band
and ethnicity margins (R's ``rake``); rows of the other types form one level of each
profile margin whose count is their weight total, so their weights do not move.
Variance: R's ``svyrecvar`` on the calibration residuals.

R equivalent (tests/reference/make_sipas_reference_2025.R):
``rake(svydesign(id=~psu+household, strata=~stratum, fpc=~fpc1+fpc2, weights=~weight), ...)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.designs import FRAME_COLUMNS, load_margins, read_frame
from sipas.base.errors import SipasError
from sipas.estimation.survey import SurveyDesign

__all__ = ["FRAME_COLUMNS", "household_design"]

OTHER = "(khác)"
"""Margin level of the rows that are not raked (units outside the household design)."""
MARGIN_VARIABLES = ["gender", "age_band", "ethnicity"]


def design_columns(df: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """Per row: stratum, psu, household, fpc1, fpc2, weight (before raking)."""
    hh = cfg.registry.design.households
    path = cfg.frame_path
    frame = read_frame(path, cfg.year).set_index("respondent_id")
    out = pd.DataFrame({"stratum": df["stratum"].astype(str).to_numpy(),
                        "psu": df["respondent_id"].astype(str).to_numpy(),
                        "household": df["respondent_id"].astype(str).to_numpy(),
                        "fpc1": df["fpc"].to_numpy(float), "fpc2": 1.0,
                        "weight": df["weight"].to_numpy(float)})
    home = df["unit_type"].isin(hh.unit_types).to_numpy()
    ids = df["respondent_id"].astype(str)[home]
    lacking = ~ids.isin(frame.index)
    if lacking.any():
        i = int(np.flatnonzero(home)[np.flatnonzero(lacking.to_numpy())[0]])
        raise SipasError(f"{int(lacking.sum())} questionnaires of household-design units are not in the "
                         "sampling frame", file=path, column="respondent_id", row=i + 1,
                         value=df["respondent_id"].iloc[i],
                         hint="every interviewed adult needs a frame row (village, household, adults)")
    f = frame.loc[ids.to_numpy()]
    num = {c: f[c].astype(float).to_numpy() for c in
           ("villages_in_unit", "villages_drawn", "households_in_village", "households_drawn", "adults")}
    answered = f.groupby("village")["household"].transform("size").to_numpy(float)
    out.loc[home, "psu"] = f["village"].to_numpy()
    out.loc[home, "household"] = f["household"].to_numpy()
    srs = hh.selection == "srs"
    out.loc[home, "fpc1"] = num["villages_in_unit"] if srs else np.inf
    out.loc[home, "fpc2"] = num["households_in_village"] if srs else np.inf
    # design weight x non-response adjustment (drawn / answered households in the village)
    out.loc[home, "weight"] = (num["villages_in_unit"] / num["villages_drawn"]
                               * num["households_in_village"] / num["households_drawn"] * num["adults"]
                               * num["households_drawn"] / answered)
    return out


def rake_margins(df: pd.DataFrame, cfg: YearConfig, weight: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """(the raking variables per row, margins {variable: {level: count}})."""
    hh = cfg.registry.design.households
    m = load_margins(cfg.paths.params, hh.margins)
    home = df["unit_type"].isin(hh.unit_types).to_numpy()
    rest = float(weight[~home].sum())
    units = {u.id for u in cfg.registry.units if u.type in hh.unit_types}
    if set(m.adults) != units:
        raise SipasError("the margins' adults do not list the household-design units",
                         file=cfg.paths.params / "margins" / hh.margins,
                         value=sorted(set(m.adults) ^ units)[:5])
    cols = {"rake_unit": np.where(home, df["unit_id"].astype(str), OTHER)}
    margins = {"rake_unit": {**m.adults, **({OTHER: rest} if rest else {})}}
    for var in MARGIN_VARIABLES:
        codes = df[var].astype("string")
        if codes[home].isna().any():
            i = int(np.flatnonzero(home & codes.isna().to_numpy())[0])
            raise SipasError(f"a respondent of a household-design unit has no {var}: the weights cannot be "
                             "raked", column=var, row=i + 1, value=df["respondent_id"].iloc[i],
                             hint="every interviewed adult needs sex, age band and ethnicity")
        level = codes.map(lambda c, g=m.level_map(var): g.get(c, c))
        cols[f"rake_{var}"] = np.where(home, level.astype(object), OTHER)
        margins[f"rake_{var}"] = {**m.margins[var], **({OTHER: rest} if rest else {})}
    return pd.DataFrame(cols), margins


def household_design(df: pd.DataFrame, cfg: YearConfig) -> SurveyDesign:
    d = cfg.registry.design
    data = df.reset_index(drop=True)
    cols = design_columns(data, cfg)
    data = pd.concat([data.drop(columns=["stratum", "psu", "weight"]),
                      cols.rename(columns={c: f"_{c}" for c in cols})], axis=1)
    design = SurveyDesign(data, strata="_stratum", psu=["_psu", "_household"], weights="_weight",
                          fpc=["_fpc1", "_fpc2"] if d.fpc else None, lonely_psu=d.lonely_psu,
                          level=cfg.settings.confidence_level)
    if not d.households.margins:
        return design
    rake, margins = rake_margins(data, cfg, design.weights)
    for c in rake:
        data[c] = rake[c].to_numpy()
    return design.rake(margins)
