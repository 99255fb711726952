"""Interview dates: parsing, and the day/month order of a file decided from evidence.

``8/9/2023`` is 8 September in Vietnam (dd/mm/yyyy) and 9 August in an en-US Excel
export (m/d/yyyy). The order is decided once per file:

1. a first number above 12 (``25/08/2023``) proves day-first, a second number above 12
   (``8/25/2023``) proves month-first; both in one file -> the file is refused;
2. otherwise, when exactly one order puts every date inside the survey period, that one;
3. otherwise the file is *ambiguous*: the order comes from ``date_order`` in
   ``params/intake.yaml`` (default ``dmy``) and the summary says so.

Excel serial numbers (``45170``, also as text in a CSV) are dates too.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from .normalize import is_blank

_AB = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T,].*)?$")
_YMD = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_SERIAL = re.compile(r"^\s*(\d{5})(?:[.,]\d+)?\s*$")
_EPOCH = dt.date(1899, 12, 30)


def _serial(x: float) -> dt.date | None:
    if math.isnan(x) or not 20000 < x < 80000:
        return None
    return _EPOCH + dt.timedelta(days=int(x))


def parse_date(value: object, order: str = "dmy") -> tuple[dt.date | None, str]:
    """A date from a cell: ``(date, "")`` or ``(None, "blank" | "unreadable")``.
    Text a/b/yyyy (also - or .) is read in ``order`` ("dmy" or "mdy")."""
    if is_blank(value):
        return None, "blank"
    if isinstance(value, dt.datetime):
        return value.date(), ""
    if isinstance(value, dt.date):
        return value, ""
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date(), ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        d = _serial(float(value))
        return (d, "") if d else (None, "unreadable")
    text = str(value)
    m = _AB.match(text)
    if m:
        a, b, y = (int(g) for g in m.groups())
        d, mo = (a, b) if order == "dmy" else (b, a)
        try:
            return dt.date(y, mo, d), ""
        except ValueError:
            return None, "unreadable"
    m = _YMD.match(text)
    if m:
        try:
            return dt.date(*(int(g) for g in m.groups())), ""
        except ValueError:
            return None, "unreadable"
    m = _SERIAL.match(text)
    if m:
        d = _serial(float(m.group(1)))
        return (d, "") if d else (None, "unreadable")
    return None, "unreadable"


def decide_order(values, period, default: str = "dmy") -> tuple[str, str]:
    """(order, why) for a file's date cells. ``why`` is "" when nothing was to decide
    (no a/b/yyyy text), else a sentence for the summary. Raises ValueError when the file
    mixes both orders (a first number > 12 in one row and a second > 12 in another)."""
    pairs = []
    for v in values:
        if isinstance(v, str):
            m = _AB.match(v)
            if m:
                pairs.append((int(m.group(1)), int(m.group(2)), v))
    if not pairs:
        return default, ""
    dmy = next((v for a, b, v in pairs if a > 12 and b <= 12), None)
    mdy = next((v for a, b, v in pairs if b > 12 and a <= 12), None)
    if dmy and mdy:
        raise ValueError(f"both day/month ('{dmy}') and month/day ('{mdy}') dates")
    if dmy:
        return "dmy", ""
    if mdy:
        return "mdy", f"dates read as month/day/year, as in an en-US export (e.g. '{mdy}')"

    def inside(order: str) -> bool:
        for v in (p[2] for p in pairs):
            d, _ = parse_date(v, order)
            if d is None or not (period.start <= d <= period.end):
                return False
        return True

    fits = [o for o in ("dmy", "mdy") if inside(o)]
    if len(fits) == 1:
        name = "day/month/year" if fits[0] == "dmy" else "month/day/year"
        return fits[0], f"dates read as {name}: only that order puts every date inside the survey period"
    if all(a == b for a, b, _ in pairs):
        return default, ""
    name = "day/month/year" if default == "dmy" else "month/day/year"
    return default, (f"day/month order is ambiguous (every number ≤ 12, both orders fit the survey "
                     f"period): read as {name}, from date_order in params/intake.yaml / "
                     f"thứ tự ngày/tháng không xác định được, dùng thiết lập date_order")
