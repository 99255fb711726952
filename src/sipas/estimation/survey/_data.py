"""Column access for the survey designs: codes, labels and numbers read from the data,
with the project's error messages (column, row, value) for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError


def _codes(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise SipasError("no such column in the survey data", column=column)
    codes, _ = pd.factorize(data[column], sort=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise SipasError(f"{(codes < 0).sum()} rows have no value", column=column, row=i + 1,
                         hint="every respondent needs a stratum and a PSU")
    return codes.astype(np.int64)


def _labels(data: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(pd.factorize(data[column], sort=True)[1], dtype=object)


def _numeric(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise SipasError("no such column in the survey data", column=column)
    return _as_float(data[column].to_numpy(), column)


def _as_float(values, name: str) -> np.ndarray:
    """Float array with NaN for missing values; booleans become 0/1."""
    s = pd.Series(values)
    if s.dtype == object:
        converted = pd.to_numeric(s.where(s.notna()), errors="coerce")
        bad = converted.isna() & s.notna()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SipasError("expected numbers", column=name, row=i + 1, value=s.iloc[i])
        s = converted
    elif not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise SipasError(f"expected numbers, the column holds {s.dtype}", column=name)
    return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise SipasError("confidence level must be between 0 and 1", value=level)
    return float(level)
