"""Personal data inside free text, masked at intake (before ``data/processed/``).

Open comments and any raw text kept for the quarantine file pass through :func:`mask`.
Each match is replaced by a bracketed tag, so a reader sees that something was removed:

=================  ===========================================================  ==========
what               examples (Vietnamese formats)                                tag
=================  ===========================================================  ==========
e-mail             ``an.nguyen@gmail.com``, ``ten [at] gmail.com``               [email]
mobile phone       ``0912345678``, ``09 1234 5678``, ``0912.345.678``,           [SĐT]
                   ``0912 34 56 78``, ``+84 912 345 678``, ``(+84) 912-345-678``
landline           ``0213 3876 543``, ``(0213) 387.6543``, ``024 3825 1234``     [SĐT]
CMND / CCCD        ``CMND 123 456 789``, ``CCCD: 012345678901``, any bare 9 or   [CCCD]
                   12 digit run (``012 345 678 901``)
street address     ``số 12 đường Trần Phú``, ``123 Lê Lợi``, ``ngõ 5 phố Huế``,  [địa chỉ]
                   ``tổ 3, phường Tân Phong``, ``thôn/bản/xóm/ấp Nà Khum``,
                   ``nhà 45``, ``kiệt 7``, ``hẻm 12``
name after         ``tôi là Nguyễn Văn An``, ``tên tôi là ...``, ``em tên ...``  [tên]
a self-intro or    ``anh Tuấn``, ``chị Lò Thị Mai``, ``ông Hoàng``, ``bà Lan``,
title              ``cô``, ``chú``, ``bác``, ``cán bộ``, ``đồng chí`` + capitalised
                   words
=================  ===========================================================  ==========

Limits (documented in docs/data-contract.md): names are found only after the cues
above (a capitalised word sequence of 1–4 words); a name written in lower case, a name
alone ("Mai rất nhiệt tình"), or a title followed by a capitalised common word at the
start of a clause ("anh Cán bộ") may be missed or over-masked. Addresses are found only
from their keywords (số, đường, phố, ngõ, ngách, hẻm, kiệt, tổ, thôn, bản, xóm, ấp,
khu phố, phường, xã, nhà) followed by a number or a capitalised name. Numbers of 7 to
8 digits alone (not a phone format) are kept: they are too often counts or amounts.
Why by hand: no maintained PII library (e.g. Microsoft Presidio) ships Vietnamese
recognisers for these formats; these rules are small and tested on a corpus
(``tests/intake_corpus/pii_vi.yaml``).
"""

from __future__ import annotations

import re

_UP = "A-Z" + "".join(chr(c) for c in range(0xC0, 0x1EFA) if chr(c).isupper())  # NFC capitals
_CAP = rf"[{_UP}][^\W\d_]*"
_NAME = rf"{_CAP}(?:\s+{_CAP}){{0,3}}"

EMAIL = re.compile(r"[\w.+-]+\s*(?:@|\[at\]|\(at\))\s*[\w-]+(?:\s*(?:\.|\[dot\]|\(dot\))\s*[\w-]+)+", re.I)
# +84 / 84 / 0, then 9 to 10 digits in groups separated by space, dot or hyphen
PHONE = re.compile(r"(?<![\w+])(?:(?:\(\+?84\)|\+?84)[\s.\-]?\d(?:[\s.\-]?\d){8}|0\d(?:[\s.\-]?\d){8,9}"
                   r"|\(0\d{2,3}\)[\s.\-]?\d(?:[\s.\-]?\d){6,7})(?![\s.\-]?\d)")
ID_LABELLED = re.compile(
    r"\b(?:CMND|CCCD|CMT|căn cước(?: công dân)?|chứng minh(?: nhân dân| thư)?|số định danh)\b[\s:.#]*(?:số\s*)?"
    r"\d(?:[\s.\-]?\d){7,11}(?![\s.\-]?\d)", re.I)
ID_BARE = re.compile(r"(?<![\d.,])\d{3}[\s.\-]?\d{3}[\s.\-]?\d{3}(?:[\s.\-]?\d{3})?(?![\s.,\-]?\d)")
ADDRESS = re.compile(
    rf"\b(?:số nhà|số|nhà|đường|phố|ngõ|ngách|hẻm|kiệt|tổ(?: dân phố)?|thôn|bản|xóm|ấp|khu phố|khóm|"
    rf"phường|xã|thị trấn)\s+(?:\d+[\w/]*|{_NAME})(?:[\s,]+(?:đường|phố|ngõ|ngách|hẻm|kiệt|phường|xã|"
    rf"thôn|bản|tổ|quận|huyện)?\s*(?:\d+[\w/]*|{_NAME}))*"
    rf"|\b\d{{1,4}}[A-Za-z]?(?:/\d+)*\s+(?:đường\s+|phố\s+)?{_CAP}(?:\s+{_CAP}){{1,3}}")
NAME_INTRO = re.compile(
    rf"\b(?:tôi là|tôi tên(?: là)?|tên tôi(?: là)?|em là|em tên(?: là)?|cháu là|cháu tên(?: là)?|"
    rf"mình là|mình tên(?: là)?)\s+({_NAME})", re.I)
NAME_TITLE = re.compile(
    rf"\b(?:anh|chị|ông|bà|cô|chú|bác|em|cán bộ|đồng chí|đ/c|Anh|Chị|Ông|Bà|Cô|Chú|Bác|Em|Cán bộ|"
    rf"Đồng chí)\s+({_NAME})")

TAGS = {"email": "[email]", "phone": "[SĐT]", "id": "[CCCD]", "address": "[địa chỉ]", "name": "[tên]"}


def _sub_group(rx: re.Pattern, tag: str, text: str, hits: list[str], kind: str) -> str:
    def repl(m: re.Match) -> str:
        hits.append(kind)
        if m.groups():
            s, e = m.span(1)
            return m.group(0)[: s - m.start()] + tag + m.group(0)[e - m.start():]
        return tag
    return rx.sub(repl, text)


# What every pattern below needs: a space (names, addresses), "@", "[" or "(" (e-mails,
# "(0213) ..."), or a run of 8 digits (ids, phones). A text without is its own masked text.
_MAYBE = re.compile(r"[\s@\[(]|\d(?:[\s.\-]?\d){7}")


def mask_report(text: str) -> tuple[str, list[str]]:
    """``(masked text, kinds found)``; kinds in email, id, phone, address, name."""
    if _MAYBE.search(text) is None:
        return text, []
    hits: list[str] = []
    out = _sub_group(EMAIL, TAGS["email"], text, hits, "email")
    out = _sub_group(ID_LABELLED, TAGS["id"], out, hits, "id")
    out = _sub_group(PHONE, TAGS["phone"], out, hits, "phone")
    out = _sub_group(ID_BARE, TAGS["id"], out, hits, "id")
    out = _sub_group(NAME_INTRO, TAGS["name"], out, hits, "name")
    out = _sub_group(ADDRESS, TAGS["address"], out, hits, "address")
    out = _sub_group(NAME_TITLE, TAGS["name"], out, hits, "name")
    return out, hits


def mask(text: str) -> str:
    return mask_report(text)[0]


def mask_value(value: object) -> object:
    """A raw cell with personal data masked when it is text (other values unchanged)."""
    return mask(value) if isinstance(value, str) else value
