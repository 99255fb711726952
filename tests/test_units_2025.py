"""Lai Châu's 38 commune-level units of 2025 (Resolution 1670/NQ-UBTVQH15): names as
reported from the resolution, their former communes and former district, and the crosswalk
built from them. The reference list below is typed from the press reports cited in
params/units/2025.yaml, independently of that file."""

from __future__ import annotations

import unicodedata
from collections import Counter

from sipas.base.codebook import load_crosswalk, load_registry

# Người Tây Bắc / Lao Động, 6/2025: 34 communes and 2 wards formed, 2 communes kept.
COMMUNES = """Mường Kim, Khoen On, Than Uyên, Mường Than, Pắc Ta, Nậm Sỏ, Tân Uyên, Mường Khoa,
Bản Bo, Bình Lư, Tả Lèng, Khun Há, Sin Suối Hồ, Phong Thổ, Dào San, Sì Lở Lầu, Khổng Lào,
Tủa Sín Chải, Sìn Hồ, Hồng Thu, Nậm Tăm, Pu Sam Cáp, Nậm Cuổi, Nậm Mạ, Lê Lợi, Nậm Hàng,
Mường Mô, Hua Bum, Pa Tần, Bum Nưa, Bum Tở, Mường Tè, Thu Lũm, Pa Ủ, Mù Cả, Tà Tổng"""
WARDS = ["Tân Phong", "Đoàn Kết"]


def _communes():
    return [u for u in load_registry(2025).units if u.type == "commune"]


def test_the_38_units_of_the_resolution():
    names = {u.name for u in _communes()}
    expected = {"Xã " + n.strip() for n in COMMUNES.split(",")} | {"Phường " + w for w in WARDS}
    assert len(expected) == 38
    assert names == expected
    for gone in ("Xã Tam Đường", "Xã Sơn Bình", "Xã Bản Lang", "Xã Mường So", "Xã Nậm Nhùn"):
        assert gone not in names
    assert all(unicodedata.is_normalized("NFC", u.name) for u in _communes())


def test_former_communes_are_2023_communes_used_once():
    reg23 = load_registry(2023)
    district_of = {c: u.id for u in reg23.units for c in u.communes}
    used = Counter(c for u in _communes() for c in u.former_communes)
    assert max(used.values()) == 1
    unknown = sorted(c for c in used if c not in district_of)
    assert unknown == ["Xã Lản Nhì Thàng"]        # the one marked NOT VERIFIED in the file
    # every 2023 commune of a district went somewhere
    assert set(district_of) <= set(used)
    # former_district is the district most former communes belonged to
    for u in _communes():
        counts = Counter(district_of[c] for c in u.former_communes if c in district_of)
        assert counts[u.former_district] == max(counts.values()), u.id
    assert {u.id for u in _communes() if u.urban} == {"phuong-tan-phong", "phuong-doan-ket"}
    assert [u.former_communes for u in _communes() if u.name in ("Xã Mù Cả", "Xã Tà Tổng")] == \
        [["Xã Mù Cả"], ["Xã Tà Tổng"]]


def test_crosswalk_areas_follow_former_district():
    cw = load_crosswalk(2023, 2025)
    areas = [a for a in cw.areas if a.level == "former_district"]
    assert len(areas) == 8
    by_unit = {u: a.from_ for a in areas for u in a.to}
    assert sorted(by_unit) == sorted(u.id for u in _communes())
    assert all(by_unit[u.id] == [u.former_district] for u in _communes())
    sizes = {a.from_[0]: len(a.to) for a in areas}
    assert sizes == {"tp-lai-chau": 2, "tam-duong": 4, "phong-tho": 5, "sin-ho": 7, "muong-te": 7,
                     "nam-nhun": 5, "than-uyen": 4, "tan-uyen": 4}
