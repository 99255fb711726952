"""Vietnamese number and date style: 82,66%; 1.234; 29/12/2023."""

from __future__ import annotations

import datetime as dt
import math


def _group(intpart: str) -> str:
    out = []
    while len(intpart) > 3:
        out.insert(0, intpart[-3:])
        intpart = intpart[:-3]
    out.insert(0, intpart)
    return ".".join(out)


def number(x: float | int | None, digits: int = 0) -> str:
    """``1234.5`` -> ``'1.234,5'`` (digits=1). Missing values print as an en dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = f"{abs(x):.{digits}f}"
    intpart, _, frac = text.partition(".")
    sign = "-" if x < 0 and float(text) != 0 else ""
    return sign + _group(intpart) + ("," + frac if frac else "")


def pct(p: float | None, digits: int = 2) -> str:
    """A proportion as a Vietnamese percentage: ``0.8266`` -> ``'82,66%'``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return number(100 * p, digits) + "%"


def pp(d: float | None, digits: int = 2, sign: bool = True) -> str:
    """A difference of proportions in percentage points: ``0.0123`` -> ``'+1,23 điểm %'``."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return "–"
    text = number(100 * d, digits)
    if sign and 100 * d > 0 and text.strip("0,") != "":
        text = "+" + text
    return text + " điểm %"


def date(d: dt.date | str) -> str:
    """``date(2023, 12, 29)`` -> ``'29/12/2023'``."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return d.strftime("%d/%m/%Y")
