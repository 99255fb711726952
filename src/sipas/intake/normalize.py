"""Text normalisation and code look-ups shared by header and answer mapping.

Two keys are used for every comparison:

* :func:`header_key` (the data contract's rule): NFC, diacritics removed (đ -> d),
  case folded, every run of non-alphanumerics replaced by ``_`` (leading and trailing
  ``_`` dropped).  ``"Mã phiếu"`` -> ``"ma_phieu"``.
* :func:`exact_key`: NFC, case folded, spaces collapsed, diacritics KEPT.  Used first for
  answers, so that two labels that differ only by their diacritics (``"Mảng"`` /
  ``"Mang"``) never get mixed up; the diacritics-free key is a fallback only when it
  names a single code.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")
_SPECIAL = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


@functools.cache
def _maybe_not_nfc() -> re.Pattern:
    """A character after which, or with which, NFC may change the text: a combining
    mark, a character that NFC replaces, the second character of a canonical pair,
    Hangul jamo, and (without looking) everything outside the Basic Multilingual Plane."""
    bad = set(range(0x1100, 0x1200))
    for cp in range(0x30000):
        ch = chr(cp)
        if cp < 0x10000 and (unicodedata.combining(ch) or not unicodedata.is_normalized("NFC", ch)):
            bad.add(cp)
        d = unicodedata.decomposition(ch)
        if d and not d.startswith("<") and len(d.split()) == 2:
            bad.add(int(d.split()[1], 16))
    bad_bmp = sorted(c for c in bad if c < 0x10000)
    spans, start = [], bad_bmp[0]
    for a, b in zip(bad_bmp, bad_bmp[1:] + [-1]):
        if b != a + 1:
            spans.append(re.escape(chr(start)) + ("-" + re.escape(chr(a)) if a > start else ""))
            start = b
    return re.compile("[" + "".join(spans) + "\U00010000-\U0010ffff]")


def nfc_lines(text: str) -> str:
    """:func:`nfc` of a text of many lines, normalising only the lines that may change
    (NFC never joins characters across a line break), so a file that is already NFC, or
    nearly, is not normalised character by character."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    pattern, out, done = _maybe_not_nfc(), [], 0
    m = pattern.search(text)
    while m:
        start = text.rfind("\n", done, m.start()) + 1 or done
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        out += [text[done:start], unicodedata.normalize("NFC", text[start:end])]
        done = end
        m = pattern.search(text, end)
    return "".join(out) + text[done:] if out else text


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def header_key(text: object) -> str:
    """The contract's matching key: ``"Ý kiến khác"`` -> ``"y_kien_khac"``."""
    s = strip_diacritics(nfc(str(text))).casefold()
    s = strip_diacritics(s)  # casefold may re-introduce nothing, but keep it idempotent
    return _NON_ALNUM.sub("_", s).strip("_")


def exact_key(text: object) -> str:
    """NFC, case folded, whitespace collapsed, diacritics kept."""
    return _SPACES.sub(" ", nfc(str(text)).casefold().replace("\u00a0", " ")).strip()


def is_blank(value: object) -> bool:
    if value is None:
        return True
    if type(value) is str:          # the common case first
        return not value.strip()
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, str) and not value.strip():
        return True
    return False


def clean_text(value: object) -> str | None:
    """A cell as NFC text with outer spaces removed, or None when blank."""
    if type(value) is str:          # (str.split and re's \s agree on what a space is)
        return " ".join(nfc(value).split()) or None
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", nfc(str(value)).replace("\u00a0", " ")).strip() or None


def as_number(value: object) -> float | None:
    """A cell as a number when it is one (``4``, ``4.0``, ``"4"``, ``" 4 "``, ``"4,0"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, str):
        s = value.strip().replace(",", ".")
        if re.fullmatch(r"[+-]?\d+(\.\d+)?", s):
            return float(s)
    return None


@dataclass
class Lookup:
    """Label/code -> canonical value, exact first, then without diacritics if unique."""

    exact: dict[str, object] = field(default_factory=dict)
    loose: dict[str, object] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)

    def add(self, text: str, value: object) -> None:
        ek = exact_key(text)
        if ek and ek not in self.exact:
            self.exact[ek] = value
        lk = header_key(text)
        if not lk:
            return
        if lk in self.loose and self.loose[lk] != value:
            self.ambiguous.add(lk)
        else:
            self.loose.setdefault(lk, value)

    def get(self, text: str) -> tuple[object | None, str]:
        """``(value, "")`` or ``(None, why)`` with why in {"unknown", "ambiguous"}."""
        ek = exact_key(text)
        if ek in self.exact:
            return self.exact[ek], ""
        lk = header_key(text)
        if lk in self.ambiguous:
            return None, "ambiguous"
        if lk in self.loose:
            return self.loose[lk], ""
        return None, "unknown"
