"""Sample, profile, expectation and perception tables on the hand-worked fixture."""

from __future__ import annotations

import pandas as pd
import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.estimation.tables import expectations_table, perceptions_table, profile_table, sample_table

from .conftest import tiny_responses


@pytest.fixture
def cfg(tiny_root):
    return YearConfig(2023, paths(tiny_root))


def test_sample_table(cfg):
    df = tiny_responses()
    df["commune"] = ["Xã A", "Xã A", "Xã B", "Xã B", None, None, None]
    s = sample_table(cfg, df).set_index("unit_id")
    # d1: N = 100 -> target 100 / 1.25 = 80; s1: N = 30 -> 30 / 1.075 = 27.9 -> 28
    assert s.loc["d1", ["served", "target", "achieved", "communes_sampled"]].tolist() == [100, 80, 4, 2]
    assert s.loc["s1", ["served", "target", "achieved", "communes_sampled"]].tolist() == [30, 28, 3, 0]


def test_profile_shares_exclude_missing(cfg):
    df = tiny_responses()
    df["gender"] = ["nam", "nu", "nu", None, "nam", "nam", "nu"]
    p = profile_table(cfg, df).set_index(["unit_id", "category"])
    assert p.loc[("d1", "nu"), "n"] == 2 and p.loc[("d1", "nu"), "share"] == pytest.approx(2 / 3)
    assert p.loc[("province", "nam"), "share"] == pytest.approx(3 / 6)


def test_expectations_multiple_choice(cfg):
    df = tiny_responses()
    df["exp_1"] = [True, False, True, False, False, True, pd.NA]
    e = expectations_table(cfg, df).set_index("unit_id")
    assert e.loc["d1", "n"] == 2 and e.loc["d1", "share"] == pytest.approx(0.5)
    assert e.loc["province", "n"] == 3 and e.loc["province", "respondents"] == 7


def test_expectations_rated_and_perceptions(tiny_root):
    method = tiny_root / "params" / "methodology" / "tiny.yaml"
    text = method.read_text(encoding="utf-8").replace(
        'expectations:\n  label: "Mong đợi"\n',
        'expectations:\n  label: "Mong đợi"\n  categories:\n    - {code: rat_nhieu, label: "Rất nhiều"}\n'
        '    - {code: nhieu, label: "Nhiều"}\n    - {code: it, label: "Ít"}\n  top: [rat_nhieu]\n')
    text += ('perceptions:\n  - id: q_phien_ha\n    label: "Bị gây phiền hà"\n    categories:\n'
             '      - {code: khong, label: "Không"}\n      - {code: co, label: "Có"}\n    positive: [khong]\n')
    method.write_text(text, encoding="utf-8")
    cfg = YearConfig(2023, paths(tiny_root))
    df = tiny_responses()
    df["exp_1"] = ["rat_nhieu", "it", None, "nhieu", "rat_nhieu", "rat_nhieu", "it"]
    df["q_phien_ha"] = ["khong", "khong", "co", None, "khong", "co", "khong"]
    e = expectations_table(cfg, df).set_index("unit_id")
    # d1: rated by r1 r2 r4, top by r1 -> 1/3; province: 3 of 6 rated
    assert (e.loc["d1", "n"], e.loc["d1", "respondents"]) == (1, 3)
    assert e.loc["province", "share"] == pytest.approx(0.5)
    p = perceptions_table(cfg, df).set_index(["unit_id", "category"])
    assert p.loc[("d1", "khong"), "share"] == pytest.approx(2 / 3) and bool(p.loc[("d1", "khong"), "positive"])
    assert p.loc[("s1", "co"), "n"] == 1 and not bool(p.loc[("s1", "co"), "positive"])
