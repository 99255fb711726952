"""sipas.estimation.significance: tests table, multiple testing, and R reference values
(tests/reference/sipas_reference.csv, make_sipas_reference.R) on the demo subset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas.base.errors import SipasError
from sipas.estimation.indices import compute_indices
from sipas.estimation.significance import (
    TEST_COLUMNS,
    adjust_pvalues,
    association_tests,
    change_tests,
    peer_tests,
    satisfied_overall,
    significance_table,
)

from .test_survey_indices import REF, cfg, data, ref  # noqa: F401  (shared fixtures)

SE, P = 1e-8, 1e-9


@pytest.mark.parametrize("correction, expected", [
    # by hand, m = 4 (NaN not counted): sorted p 0.005, 0.01, 0.03, 0.04
    # Holm: max-accumulate of (4, 3, 2, 1) x p = 0.02, 0.03, 0.06, 0.04 -> 0.02, 0.03, 0.06, 0.06
    ("holm", [0.03, 0.06, 0.06, np.nan, 0.02]),
    # BH: min-accumulate from the top of 4 p / rank = 0.02, 0.02, 0.04, 0.04
    ("bh", [0.02, 0.04, 0.04, np.nan, 0.02]),
])
def test_adjust_pvalues_by_hand(correction, expected):
    got = adjust_pvalues([0.01, 0.04, 0.03, np.nan, 0.005], correction)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_adjust_pvalues_leaves_the_collector_as_it_found_it():
    """The freeze around statsmodels' gc.collect() is undone, unless the caller (a warm
    kernel) had frozen its heap itself; then that freeze is kept."""
    import gc

    assert gc.get_freeze_count() == 0
    adjust_pvalues([0.01, 0.04], "holm")
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        adjust_pvalues([0.01, 0.04], "holm")
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


def test_unknown_correction():
    with pytest.raises(SipasError, match="unknown multiple-testing correction"):
        adjust_pvalues([0.1], "bonferroni")


def test_peer_contrast_matches_r(ref, data, cfg):
    t = peer_tests(data, cfg).set_index(["unit_id", "item_id"])
    for unit in data.unit_id.unique():
        row = t.loc[(unit, "sipas")]
        assert row.estimate == pytest.approx(ref[(unit, "peer_sipas", "estimate")], rel=1e-9)
        assert row.se == pytest.approx(ref[(unit, "peer_sipas", "se")], rel=SE)
    # three units of a type: each compared with the mean of the two others
    assert t.loc[("so-khcn", "sipas"), "ddf"] == sum(data.unit_type == "department") - 3


def test_satisfied_by_gender_matches_r(ref, data, cfg):
    t = association_tests(data, cfg, ["gender"]).set_index("unit_id")
    for unit in data.unit_id.unique():
        want = ref[(unit, "chisq_satisfied_gender", "F")]
        row = t.loc[unit]
        if np.isnan(want):  # everyone satisfied: no table, no test
            assert np.isnan(row.statistic) and np.isnan(row.p_value)
            continue
        assert row.statistic == pytest.approx(want, rel=SE)
        assert row.ddf == pytest.approx(ref[(unit, "chisq_satisfied_gender", "ddf")], rel=SE)
        assert row.p_value == pytest.approx(ref[(unit, "chisq_satisfied_gender", "p")], abs=P)
    assert "province" in t.index


def test_satisfied_overall_by_hand(cfg):
    crit = cfg.methodology.criterion_ids
    rows = pd.DataFrame([[4] * len(crit), [3] * len(crit), [99] * len(crit)], columns=crit)
    rows.iloc[1, :2] = 5                      # two positive answers of 22: share below one half
    assert list(satisfied_overall(rows, cfg)[:2]) == [1.0, 0.0]
    assert np.isnan(satisfied_overall(rows, cfg)[2])


def test_change_tests(data, cfg):
    now = compute_indices(data, cfg)
    before = now.assign(year=2022, estimate=now.estimate - 0.01)
    t = change_tests(now, before)
    assert len(t) == len(now)
    row = t[(t.unit_id == "so-khcn") & (t.item_id == "sipas")].iloc[0]
    base = now[(now.unit_id == "so-khcn") & (now.item_id == "sipas")].iloc[0]
    assert row.estimate == pytest.approx(0.01)
    assert row.se == pytest.approx(np.sqrt(2) * base.se)
    assert row.ddf == 2 * base.df and row.comparison == "2023 − 2022"


def test_significance_table(data, cfg):
    now = compute_indices(data, cfg)
    before = now.assign(year=2022, estimate=now.estimate - 0.05)
    t = significance_table(data, cfg, now, before, variables=["gender", "age_band"])
    assert list(t.columns) == TEST_COLUMNS
    assert set(t.test) == {"change", "peer", "association"}
    assert {"change/sipas", "peer/criterion", "association/gender"} <= set(t.family)
    for _, fam in t.groupby("family"):
        np.testing.assert_allclose(fam.p_adjusted, adjust_pvalues(fam.p_value, "holm"), equal_nan=True)
    ok = t.p_value.notna()
    assert (t.p_adjusted[ok] >= t.p_value[ok]).all()
    assert (t.significant == (t.p_adjusted < 0.05)).all()
    bh = significance_table(data, cfg, now, before, correction="bh", variables=["gender", "age_band"])
    assert (bh.correction == "bh").all()
    assert (bh.p_adjusted[ok] <= t.p_adjusted[ok] + 1e-15).all()  # BH is never stricter than Holm


def test_satisfied_threshold_is_exact():
    """Shares 1/2, 2/3, 1/3 average exactly 1/2 (R's long-double mean gets 0.5); the
    float mean is 0.49999999999999994 and would call the respondent dissatisfied."""
    from sipas.estimation.significance import satisfied_exact
    pos, val = np.array([[1, 2, 1], [1, 2, 0], [0, 0, 0]]), np.array([[2, 3, 3], [2, 3, 3], [0, 0, 0]])
    assert np.mean([1 / 2, 2 / 3, 1 / 3]) < 0.5
    out = satisfied_exact(pos, val, 0.5)
    assert out[0] == 1.0 and out[1] == 0.0 and np.isnan(out[2])
    # unanswered elements are left out of the mean: 1/2 alone is satisfied
    assert satisfied_exact(np.array([[1, 0]]), np.array([[2, 0]]), 0.5)[0] == 1.0
    assert satisfied_exact(np.array([[2, 0]]), np.array([[3, 0]]), 2 / 3)[0] == 1.0
