"""Small text rules of the pages: reliability flags and their marks, intervals in
Vietnamese style, labels inside a sentence, masking personal data in citizens' free
text, and the comment themes (keywords from ``comment_themes.yaml``).

Plain functions over strings and values, no markup and no tables (see
:mod:`sipas.publishing.markup` for HTML, :mod:`sipas.publishing.data` for the tables).
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base import formats as fmt
from sipas.base.config import Paths

FLAG_MARK = "*"  # a flag the package does not know
FLAG_MARKS = {"review": "†", "suppress": "‡",  # sipas.estimation.indices.reliability_flag codes
              "caution": "§", "model_based": "ᴹ"}  # sipas.estimation.policy.MARKS
SUPPRESS = "suppress"
_ASSETS = Path(__file__).parent / "assets"


def is_flagged(value) -> bool:
    """A reliability flag that says something (not empty, not NaN, not 'ok')."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    return text not in ("", "nan", "none", "ok", "false", "0", "reliable")


def flag_codes(value) -> list[str]:
    return [p.strip().lower() for p in re.split(r"[;,|]", str(value)) if p.strip()] if is_flagged(value) else []


def flag_mark(value) -> str:
    """The footnote mark of a reliability flag: † review, ‡ suppress, * anything else."""
    return "".join(FLAG_MARKS.get(c, FLAG_MARK) for c in flag_codes(value))


def is_suppressed(value) -> bool:
    return SUPPRESS in flag_codes(value)


def ci_text(lo, hi, digits: int = 1) -> str:
    """An interval in Vietnamese style: ``85,1–90,4``."""
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return ""
    return f"{fmt.number(100 * lo, digits)}–{fmt.number(100 * hi, digits)}"


def lc(label: str) -> str:
    """A label inside a sentence: first letter lower-cased unless the first word is an
    acronym (``Các sở, ban, ngành`` -> ``các sở, ban, ngành``; ``UBND các huyện`` stays)."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first.isupper():
        return label
    return label[:1].lower() + label[1:]


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", str(text)).lower()


_PERSONAL = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[thư điện tử đã ẩn]"),
    (re.compile(r"(?<!\d)(\+?84|0)[\s.-]?\d{2,3}([\s.-]?\d{3}){2}\d?(?!\d)"), "[số điện thoại đã ẩn]"),
    (re.compile(r"(?<!\d)\d{9}(\d{3})?(?!\d)"), "[số giấy tờ đã ẩn]"),
]


def redact(text: str) -> str:
    """Mask what looks like personal data in a citizen's free text (e-mail, phone, ID numbers)."""
    for rx, repl in _PERSONAL:
        text = rx.sub(repl, text)
    return text


@lru_cache(maxsize=4)
def _themes_from(path: str) -> tuple:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for t in data["themes"]:
        kws = [fold(k) for k in t["keywords"]]
        rx = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in sorted(kws, key=len, reverse=True)) + r")(?!\w)")
        out.append((t["id"], unicodedata.normalize("NFC", t["label"]), rx))
    return tuple(out)


def comment_themes_spec(p: Paths) -> tuple:
    """(id, label, regex) per theme: ``params/comment_themes.yaml`` if present, else the package's."""
    own = p.params / "comment_themes.yaml"
    return _themes_from(str(own if own.is_file() else _ASSETS / "comment_themes.yaml"))
