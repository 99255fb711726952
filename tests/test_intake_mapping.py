"""Property tests (hypothesis) for header and answer mapping through the codebook."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipas.base.codebook import load_year
from sipas.intake import Codebook
from sipas.intake.mapping import parse_date
from sipas.intake.normalize import header_key, strip_diacritics

REPO = Path(__file__).resolve().parents[1]
CB = Codebook.from_config(load_year(2023, REPO))
COLUMNS = CB.columns
HEADERS = [(c.id, t) for c in COLUMNS for t in (c.id, c.label, *c.aliases)]
CRITERIA = CB.ids("criterion")
PROFILE_CATS = [c.id for c in COLUMNS if c.kind == "profile" and c.type == "category"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

separators = st.sampled_from([" ", "  ", "_", "-", ".", " / ", "\u00a0", "\t"])


@st.composite
def disguised(draw, text: str, keep_diacritics: bool | None = None) -> str:
    """``text`` as the field may write it: other case, NFD or NFC, stray spaces,
    other separators between words, with or without diacritics."""
    words = text.split()
    if keep_diacritics is None:
        keep_diacritics = draw(st.booleans())
    if not keep_diacritics:
        words = [strip_diacritics(w) for w in words]
    case = draw(st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase]))
    words = [case(w) for w in words]
    out = words[0] if words else ""
    for w in words[1:]:
        out += draw(separators) + w
    out = draw(st.sampled_from(["", " ", "  "])) + out + draw(st.sampled_from(["", " ", "\u00a0"]))
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), out)


@FAST
@given(st.data())
def test_every_header_and_alias_maps_to_its_column(data):
    cid, text = data.draw(st.sampled_from(HEADERS))
    assert CB.match_header(data.draw(disguised(text))) == cid


@FAST
@given(st.text(max_size=30))
def test_header_key_is_idempotent_and_plain(text):
    k = header_key(text)
    assert header_key(k) == k
    assert all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in k)
    assert not k.startswith("_") and not k.endswith("_")


@FAST
@given(st.text(max_size=25))
def test_a_header_only_matches_a_column_with_the_same_key(text):
    cid = CB.match_header(text)
    if cid is not None:
        col = CB.column(cid)
        assert header_key(text) in {header_key(t) for t in (col.id, col.label, *col.aliases)}


@FAST
@given(st.data())
def test_answer_labels_map_to_their_code(data):
    cid = data.draw(st.sampled_from(CRITERIA))
    scale = CB.cfg.methodology.scale_of(cid)
    code = data.draw(st.sampled_from([*scale.values, *scale.missing]))
    text = data.draw(st.sampled_from([code.label, *code.aliases, str(code.code)]))
    got, why = CB.criterion(cid, data.draw(disguised(text)))
    assert (got, why) == (code.code, "")


@FAST
@given(st.data())
def test_profile_labels_never_map_to_another_category(data):
    vid = data.draw(st.sampled_from(PROFILE_CATS))
    var = CB.cfg.methodology.profile_var(vid)
    cat = data.draw(st.sampled_from(var.categories))
    text = data.draw(st.sampled_from([cat.label, cat.code, *cat.aliases]))
    with_diacritics = data.draw(disguised(text, keep_diacritics=True))
    assert CB.category(vid, with_diacritics) == (cat.code, "")
    got, why = CB.category(vid, data.draw(disguised(text, keep_diacritics=False)))
    assert got == cat.code or (got is None and why == "ambiguous")


@FAST
@given(st.data())
def test_numbers_in_any_spelling(data):
    cid = data.draw(st.sampled_from(CRITERIA))
    valid, missing = CB.code_sets[cid]
    n = data.draw(st.integers(-5, 120))
    cell = data.draw(st.sampled_from([n, float(n), str(n), f" {n} ", f"{n}.0", f"{n},0"]))
    got, why = CB.criterion(cid, cell)
    if n in valid | missing:
        assert (got, why) == (n, "")
    else:
        assert got is None and why


_SCALE = CB.cfg.methodology.scale_of(CRITERIA[0])
_LABELS = [t for c in (*_SCALE.values, *_SCALE.missing) for t in (c.label, *c.aliases)]


@FAST
@given(st.one_of(st.text(max_size=20),
                 st.builds(lambda a, b, c: a + b + c, st.text(max_size=3), st.sampled_from(_LABELS),
                           st.text(max_size=3))))
def test_any_text_maps_to_a_code_only_through_its_labels(text):
    cid = CRITERIA[0]
    got, _ = CB.criterion(cid, text)
    if got is None:
        return
    scale = CB.cfg.methodology.scale_of(cid)
    code = next(c for c in (*scale.values, *scale.missing) if c.code == got)
    keys = {header_key(t) for t in (code.label, *code.aliases, str(code.code))}
    assert header_key(text) in keys or float(text.strip().replace(",", ".")) == got


@FAST
@given(st.dates())
def test_dates_in_field_spellings(d):
    for text in (d.strftime("%d/%m/%Y"), f"{d.day}/{d.month}/{d.year:04d}", d.isoformat(),
                 d.strftime("%d-%m-%Y"), d.strftime("%d.%m.%Y") + " 08:30"):
        if d.year >= 1000:
            assert parse_date(text) == (d, ""), text


@pytest.mark.parametrize("text,unit", [
    ("Sở Tư pháp", "so-tu-phap"), ("so-tu-phap", "so-tu-phap"), ("SỞ TƯ PHÁP", "so-tu-phap"),
    ("So Tu Phap", "so-tu-phap"), ("Tam Đường", "tam-duong"), ("UBND huyện Tam Đường", "tam-duong"),
    ("Ủy ban nhân dân Huyện Tam Đường", "tam-duong"), ("Sở Ngoại vụ", None), ("UBND huyện Mường Lay", None),
])
def test_unit_names(text, unit):
    got, _ = CB.unit(text)
    assert (got.id if got else None) == unit


def test_communes_with_or_without_prefix():
    assert CB.commune("tam-duong", "Bình Lư") == ("Xã Bình Lư", "")
    assert CB.commune("tam-duong", "xa binh lu") == ("Xã Bình Lư", "")
    assert CB.commune("tam-duong", "Xã Sùng Phài")[0] is None
