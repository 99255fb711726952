"""Index formulas against a fixture worked out by hand (tests/conftest.py).

d1 (weight 25):  c1_1 valid r1 r2 r3, positive r1 r3            -> 2/3
                 c1_2 valid r1 r3 r4 (98 excluded), pos r1 r4   -> 2/3
                 c2_1 valid r1 r3 r4 (99 excluded), pos r3      -> 1/3
                 e1 = (2/3 + 2/3)/2 = 2/3, e2 = 1/3, SIPAS = 1/2
s1 (weight 10):  c1_1 2/3, c1_2 2/3, c2_1 valid r5 only -> 1
                 e1 = 2/3, e2 = 1, SIPAS = 5/6
Province, unit mean:          SIPAS (1/2 + 5/6)/2 = 2/3, e2 (1/3 + 1)/2 = 2/3
Province, respondent-weighted: c2_1 = (25·1 + 10·1)/(25·3 + 10·1) = 35/85 = 7/17,
                               e1 = 2/3, SIPAS = (2/3 + 7/17)/2 = 55/102
"""

from __future__ import annotations

import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.estimation.indices import COLUMNS, compute_indices

from .conftest import tiny_responses

TOL = 1e-12


def value(t, unit, item):
    row = t[(t.unit_id == unit) & (t.item_id == item)]
    assert len(row) == 1, (unit, item)
    return row.iloc[0]


@pytest.fixture
def cfg(tiny_root):
    return YearConfig(2023, paths(tiny_root))


def test_unit_indices_by_hand(cfg):
    t = compute_indices(tiny_responses(), cfg)
    assert list(t.columns) == COLUMNS
    expected = {
        ("d1", "c1_1"): 2 / 3, ("d1", "c1_2"): 2 / 3, ("d1", "c2_1"): 1 / 3,
        ("d1", "e1"): 2 / 3, ("d1", "e2"): 1 / 3, ("d1", "sipas"): 1 / 2,
        ("s1", "c1_1"): 2 / 3, ("s1", "c1_2"): 2 / 3, ("s1", "c2_1"): 1.0,
        ("s1", "e1"): 2 / 3, ("s1", "e2"): 1.0, ("s1", "sipas"): 5 / 6,
    }
    for (unit, item), want in expected.items():
        assert value(t, unit, item).estimate == pytest.approx(want, abs=TOL), (unit, item)


def test_counts_by_hand(cfg):
    t = compute_indices(tiny_responses(), cfg)
    assert value(t, "d1", "c1_1").n == 3      # r4 blank
    assert value(t, "d1", "c2_1").n == 3      # r2 not applicable
    assert value(t, "d1", "e1").n == 4       # every d1 respondent answered something in e1
    assert value(t, "d1", "e2").n == 3
    assert value(t, "s1", "c2_1").n == 1
    assert value(t, "s1", "sipas").n == 3
    assert value(t, "province", "c1_1").n == 6


def test_province_unit_mean(cfg):
    t = compute_indices(tiny_responses(), cfg, province_aggregation="unit_mean")
    assert value(t, "province", "sipas").estimate == pytest.approx(2 / 3, abs=TOL)
    assert value(t, "province", "e2").estimate == pytest.approx(2 / 3, abs=TOL)
    assert value(t, "province", "sipas").aggregation == "unit_mean"
    assert value(t, "group:district", "sipas").estimate == pytest.approx(1 / 2, abs=TOL)
    assert value(t, "group:department", "e2").estimate == pytest.approx(1.0, abs=TOL)


def test_province_respondent_weighted(cfg):
    t = compute_indices(tiny_responses(), cfg, province_aggregation="respondent_weighted")
    assert value(t, "province", "c2_1").estimate == pytest.approx(7 / 17, abs=TOL)
    assert value(t, "province", "e1").estimate == pytest.approx(2 / 3, abs=TOL)
    assert value(t, "province", "sipas").estimate == pytest.approx(55 / 102, abs=TOL)
    assert value(t, "province", "sipas").aggregation == "respondent_weighted"


def test_weights_matter(cfg):
    df = tiny_responses()
    df["weight"] = 1.0
    t = compute_indices(df, cfg, province_aggregation="respondent_weighted")
    # unweighted: c2_1 positive r3 r5 of valid r1 r3 r4 r5 = 2/4
    assert value(t, "province", "c2_1").estimate == pytest.approx(0.5, abs=TOL)


def test_unknown_aggregation_rejected(cfg):
    with pytest.raises(ValueError, match="province_aggregation"):
        compute_indices(tiny_responses(), cfg, province_aggregation="median")


def test_stable_order(cfg):
    t = compute_indices(tiny_responses(), cfg)
    scopes = list(dict.fromkeys(t.unit_id))
    assert scopes == ["d1", "s1", "group:department", "group:district", "province"]
    d1 = t[t.unit_id == "d1"]
    assert list(d1.item_id) == ["sipas", "e1", "e2", "c1_1", "c1_2", "c2_1"]


def test_lonely_psu_unit_is_suppressed():
    """docs/assumptions.md A8: a unit surveyed in one PSU under lonely_psu='adjust' has
    SE 0 and df 0; no interval exists, so the figure is suppressed (not just review)."""
    from sipas.estimation.indices import FLAG_REVIEW, FLAG_SUPPRESS, reliability_flag
    flags = reliability_flag([0.8, 0.8], [0.0, 0.03], [200, 200], [0, 5], [200, 200])
    assert list(flags) == [FLAG_SUPPRESS, FLAG_REVIEW]
