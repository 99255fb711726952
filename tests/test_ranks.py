"""Rank intervals by the Rao-Wu rescaling bootstrap (sipas.estimation.ranks) on the committed demo
subset (tests/reference/sipas_demo_2023.csv: three departments, three districts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas.estimation.indices import compute_indices, survey_design
from sipas.estimation.ranks import RANK_COLUMNS, bootstrap_factors, distinguishable, ranks_table

from .test_survey_indices import cfg, data  # noqa: F401  (shared fixtures)


@pytest.fixture(scope="module")
def ranks(data, cfg):
    return ranks_table(data, cfg, replicates=500, seed=11)


def test_columns_and_published_rank(ranks, data, cfg):
    assert list(ranks.columns) == RANK_COLUMNS
    assert set(ranks.item_id) == {"sipas", *[e.id for e in cfg.methodology.elements]}
    idx = compute_indices(data, cfg)
    for t, g in idx[idx.unit_type.isin(["department", "district"])].groupby("unit_type"):
        for item in ("sipas", "e3"):
            s = g[g.item_id == item].set_index("unit_id")["estimate"]
            want = s.rank(method="min", ascending=False).astype(int)
            got = ranks[(ranks.item_id == item) & (ranks.unit_type == t)].set_index("unit_id")
            assert got["rank"].to_dict() == want.to_dict()
            np.testing.assert_allclose(got["estimate"], s[got.index], rtol=1e-12)
    assert (ranks.n_boot == 500).all() and (ranks.seed == 11).all() and (ranks.n_units == 3).all()


def test_deterministic_under_seed(ranks, data, cfg):
    again = ranks_table(data.sample(frac=1, random_state=3), cfg, replicates=500, seed=11)
    pd.testing.assert_frame_equal(ranks, again)        # same seed, rows shuffled: same table
    other = ranks_table(data, cfg, replicates=500, seed=12)
    assert not np.allclose(other.boot_se, ranks.boot_se)


def test_seed_and_replicates_from_settings(data, cfg):
    t = ranks_table(data, cfg, replicates=50)
    assert (t.seed == cfg.settings.bootstrap_seed).all() and (t.n_boot == 50).all()


def test_rank_inside_raw_percentile_interval(data, cfg):
    t = ranks_table(data, cfg, replicates=500, seed=11, contains_rank=False)
    assert ((t.rank_low <= t["rank"]) & (t["rank"] <= t.rank_high)).all()
    assert ((1 <= t.rank_low) & (t.rank_high <= t.n_units)).all()


def test_bootstrap_se_close_to_taylor(data, cfg):
    """The bootstrap SE of each unit's SIPAS is within 15% of the linearised SE (the
    Rao-Wu factors reproduce the Taylor variance with fpc for linear statistics;
    Monte Carlo error with 2000 replicates is about 1.6%)."""
    t = ranks_table(data, cfg, replicates=2000, seed=5)
    idx = compute_indices(data, cfg).set_index(["unit_id", "item_id"])
    for r in t[t.level.isin(["sipas", "element"])].itertuples():
        se = idx.loc[(r.unit_id, r.item_id), "se"]
        assert r.boot_se == pytest.approx(se, rel=0.15), (r.unit_id, r.item_id)


def test_factors_reproduce_taylor_variance_of_a_total(data, cfg):
    """E*[(sum_i a_i z_i - sum_i z_i)^2] = Taylor variance with fpc; check by Monte Carlo."""
    d = survey_design(data, cfg)
    z = np.random.default_rng(0).normal(size=d.n_psu)
    F = bootstrap_factors(d, 4000, 1)
    boot = (F * z[:, None]).sum(0)
    zz = np.zeros((d.n, 1))
    first = np.r_[True, np.diff(np.sort(d._psu)) != 0]
    zz[np.flatnonzero(first)[np.argsort(np.argsort(d._psu[first]))], 0] = z  # z on one row per PSU
    assert boot.var() == pytest.approx(d.total_vcov(zz)[0, 0], rel=0.08)
    assert (F > 0).all()                                # fpc keeps every weight positive


def _edited(data):
    """so-tttt replaced by a copy of so-khcn (a tie) and ban-qlkkt made far worse."""
    df = data[data.unit_id != "so-tttt"].copy()
    twin = df[df.unit_id == "so-khcn"].copy()
    twin["unit_id"] = twin["stratum"] = "so-tttt"
    twin["psu"] = "twin-" + twin["psu"]
    df = pd.concat([df, twin], ignore_index=True)
    crit = [c for c in df.columns if c[:1] == "c" and "_" in c]
    far = df.unit_id == "ban-qlkkt"
    flip = np.random.default_rng(1).random(far.sum()) < 0.85
    block = df.loc[far, crit].to_numpy(dtype=float, copy=True)
    block[flip] = np.where(np.isin(block[flip], [4, 5]), 2, block[flip])
    df.loc[far, crit] = block
    return df


def test_far_unit_degenerate_and_tie_overlaps(data, cfg):
    t = ranks_table(_edited(data), cfg, replicates=500, seed=2)
    s = t[(t.item_id == "sipas") & (t.unit_type == "department")].set_index("unit_id")
    assert s.loc["ban-qlkkt", "estimate"] < 0.4 and s.loc["ban-qlkkt", "boot_se"] > 0
    assert (s.loc["ban-qlkkt", "rank_low"], s.loc["ban-qlkkt", "rank_high"]) == (3, 3)
    # a tie: both rank 1, each interval spans both places
    assert s.loc["so-khcn", "rank"] == s.loc["so-tttt", "rank"] == 1
    for u in ("so-khcn", "so-tttt"):
        assert (s.loc[u, "rank_low"], s.loc[u, "rank_high"]) == (1, 2)
    pairs = distinguishable(t)
    assert set(map(tuple, pairs[pairs.unit_type == "department"][["a", "b"]].to_numpy())) == \
        {("so-khcn", "ban-qlkkt"), ("so-tttt", "ban-qlkkt")}


def test_no_fpc_is_subbootstrap(data, cfg):
    """Without fpc the factors are n/(n - 1) r_i: mean 1, and some PSUs drop out."""
    d = survey_design(data.drop(columns="fpc"), cfg)
    F = bootstrap_factors(d, 200, 3)
    assert (F == 0).any() and F.mean() == pytest.approx(1, abs=0.01)
