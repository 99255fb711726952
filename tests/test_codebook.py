"""Methodologies, registries, crosswalk: loaded, validated, and errors that name file and key."""

from __future__ import annotations

import shutil

import pytest

from sipas.base.codebook import load_crosswalk, load_methodology, load_registry, load_year
from sipas.base.config import paths
from sipas.base.errors import ConfigError

from .conftest import REPO


def test_method_2017_structure():
    m = load_methodology("sipas-2017")
    assert [len(e.criteria) for e in m.elements] == [4, 5, 6, 3, 4]
    assert not m.aspects and not m.expectations.rated
    assert m.scale_of("c5_4").positive == [4, 5]
    assert set(m.scale_of("c1_1").missing_codes) == {98, 99}


def test_method_2023_structure():
    m = load_methodology("sipas-2023")
    assert len(m.criteria) == 33 and len(m.overall_ids) == len(m.elements) == 9
    assert len(m.items) == 42 and m.expectations.rated and m.expectations.top == ["rat_nhieu", "nhieu"]


@pytest.mark.parametrize("year,count", [(2022, 24), (2023, 24), (2025, 50)])
def test_registries(year, count):
    cfg = load_year(year)
    assert len(cfg.units) == count
    for u in cfg.units:
        exact = u.served / (1 + u.served * 0.05 ** 2)
        assert exact <= cfg.sample_targets[u.id] < exact + 1


def test_sample_size_rule_by_hand():
    # N = 1000, e = 5%: n = 1000 / (1 + 1000 * 0.0025) = 285.7 -> 286
    cfg = load_year(2023)
    n_over_N = {u.served: cfg.sample_targets[u.id] for u in cfg.units}
    assert n_over_N[280] == 165  # 280 / 1.7 = 164.7


def test_crosswalk_covers_both_years_once():
    cw = load_crosswalk(2023, 2025)
    for year, attr in ((2023, "from_"), (2025, "to")):
        covered = [u for a in cw.areas for u in getattr(a, attr)]
        reg = {u.id for u in load_registry(year).units}
        # every unit in at most one area; every 2023 unit and every 2025 commune covered
        assert len(covered) == len(set(covered)), year
        assert set(covered) <= reg
    assert {u.id for u in load_registry(2023).units} == {u for a in cw.areas for u in a.from_}
    comparable = [a for a in cw.areas if a.comparable]
    assert comparable and all(len(a.from_) == 1 and a.from_ == a.to for a in comparable)


@pytest.fixture
def params_copy(tmp_path):
    shutil.copytree(REPO / "params", tmp_path / "params")
    return tmp_path


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old,new,key,words", [
    ("positive: [4, 5]", "positive: [4, 6]", "scales.hai_long_5", "not among the scale's values"),
    ("id: c2_1,", "id: c1_1,", None, "ids used more than once"),
    ("default_scale: hai_long_5", "default_scale: bon_muc", None, "default_scale 'bon_muc'"),
    ("  - id: e3\n", "  - id: E3\n", "elements[2].id", "pattern"),
])
def test_malformed_methodology_names_file_and_key(params_copy, old, new, key, words):
    path = params_copy / "params" / "methodology" / "sipas-2017.yaml"
    _edit(path, old, new)
    with pytest.raises(ConfigError) as err:
        load_methodology("sipas-2017", paths(params_copy))
    text = err.value.render()
    assert str(path) in text and words in text
    if key:
        assert f"key '{key}" in text


def test_malformed_registry_names_key(params_copy):
    path = params_copy / "params" / "units" / "2023.yaml"
    _edit(path, "served: 9800", "served: -5")
    with pytest.raises(ConfigError) as err:
        load_registry(2023, paths(params_copy))
    assert "key 'units[0].served'" in err.value.render() and "greater than 0" in err.value.render()


def test_invalid_yaml_gives_line(params_copy):
    path = params_copy / "params" / "units" / "2023.yaml"
    path.write_text("year: 2023\nunits: [a, b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_registry(2023, paths(params_copy))


def test_unknown_methodology_lists_known(params_copy):
    _edit(params_copy / "params" / "units" / "2023.yaml", "methodology: sipas-2017", "methodology: sipas-1999")
    with pytest.raises(ConfigError) as err:
        load_year(2023, params_copy)
    assert "unknown methodology 'sipas-1999'" in err.value.render() and "sipas-2017" in err.value.render()


def test_crosswalk_unknown_unit(params_copy):
    _edit(params_copy / "params" / "crosswalk" / "2023-2025.yaml", "- so-khdt", "- so-khong-co")
    with pytest.raises(ConfigError) as err:
        load_crosswalk(2023, 2025, paths(params_copy))
    assert "so-khong-co" in err.value.render() and "areas[1].from" in err.value.render()
