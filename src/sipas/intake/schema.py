"""The processed table as a pandera schema, built from the codebook: the last gate
before ``responses.parquet`` is written, and a check other steps can reuse
(``processed_schema(cfg).validate(df)``)."""

from __future__ import annotations

import pandera.pandas as pa

from sipas.base.codebook import YearConfig

from .mapping import CRITERION, EXPECTATION, PERCEPTION, PROFILE, Codebook
from .output import processed_columns


def processed_schema(cfg_or_cb: YearConfig | Codebook) -> pa.DataFrameSchema:
    cb = cfg_or_cb if isinstance(cfg_or_cb, Codebook) else Codebook.from_config(cfg_or_cb)
    cfg = cb.cfg
    unit_ids = [u.id for u in cfg.units]
    types = sorted({u.type for u in cfg.units})
    period = cfg.registry.survey_period
    cols: dict[str, pa.Column] = {}
    for name, _, dtype in processed_columns(cb):
        checks, nullable = [], True
        if name in ("respondent_id", "unit_id", "unit_type", "stratum", "psu", "interviewer",
                    "source_file", "flags", "year", "weight", "source_row", "interview_date"):
            nullable = False
        if name == "respondent_id":
            checks.append(pa.Check(lambda s: ~s.duplicated(), error="respondent_id unique"))
        if name in ("unit_id", "stratum"):
            checks.append(pa.Check.isin(unit_ids))
        if name == "unit_type":
            checks.append(pa.Check.isin(types))
        if name == "year":
            checks.append(pa.Check.eq(cfg.year))
        if name == "weight":
            checks.append(pa.Check.ge(1.0))
        if name == "interview_date":
            checks.append(pa.Check(lambda s: s.map(lambda d: period.start <= d <= period.end),
                                   error="interview_date inside survey period"))
        if name in cb.ids(CRITERION):
            valid, missing = cb.code_sets[name]
            checks.append(pa.Check.isin(sorted(valid | missing)))
        if name in (*cb.ids(PROFILE), *cb.ids(PERCEPTION), *cb.ids(EXPECTATION)):
            col = cb.column(name)
            if col.type == "category":   # profile, perception topic, rated expectation: a code or null
                codes = sorted(set(cb.lookups[name].exact.values()))
                checks.append(pa.Check.isin(codes))
            elif col.type == "integer":
                lo, hi = cb.ranges.get(name, (None, None))
                if lo is not None:
                    checks.append(pa.Check.ge(lo))
                if hi is not None:
                    checks.append(pa.Check.le(hi))
        if name in cb.ids(EXPECTATION) and cb.column(name).type == "bool":
            nullable = False             # multiple choice: chosen or not, never unknown
        cols[name] = pa.Column(None if dtype == "object" else dtype, checks=checks, nullable=nullable)
    return pa.DataFrameSchema(cols, strict=True, ordered=True)
