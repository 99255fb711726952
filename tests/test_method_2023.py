"""The 2023–2026 method's rules on a fixture worked out by hand: overall ("nói chung")
items, elements from them, two sub-indices (aspects) averaged into SIPAS, "satisfied
overall" from the overall items; the codebook's checks of the new keys; the published
national figures recorded in params/methodology/sipas-2023.yaml.

Tiny two-aspect method: a1 = {e1}, a2 = {e2, e3}; e1 has content items c1_1, c1_2 and
overall o1; e2: c2_1, o2; e3: c3_1, o3. Equal weights within a unit.

d1 (4 respondents)   o1 valid r1 r2 r3, positive r1       -> 1/3
                     o2 valid r1 r3 r4 (99 out), pos r3   -> 1/3
                     o3 valid r1 r2 r4 (98 out), pos r1 r2 -> 2/3
   element = overall item: e1 1/3, e2 1/3, e3 2/3
   a1 = 1/3, a2 = (1/3 + 2/3)/2 = 1/2, SIPAS = (1/3 + 1/2)/2 = 5/12
   (a plain mean of the three elements would be 4/9)
   element = mean of content items instead: c1_1 2/3, c1_2 2/3, c2_1 1/3, c3_1 1/2
   -> e1 2/3, e2 1/3, e3 1/2, a2 5/12, SIPAS (2/3 + 5/12)/2 = 13/24
s1 (3 respondents)   o1 2/3, o2 1 (r7 98 out), o3 2/3 -> a1 2/3, a2 5/6, SIPAS 3/4
province, unit mean: SIPAS (5/12 + 3/4)/2 = 7/12

Satisfied overall (mean over answered elements of the overall item, >= 1/2):
r1 2/3 yes, r2 1/2 yes (o2 missing), r3 1/2 yes, r4 0 no, r5 1 yes, r6 1/3 no, r7 1 yes.
From the content items instead, r2 is not satisfied (c1_1 3, c3_1 2: own index 0).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sipas.base.codebook import YearConfig, load_methodology
from sipas.base.config import paths
from sipas.base.errors import ConfigError
from sipas.estimation.indices import compute_indices
from sipas.estimation.significance import satisfied_overall

from .conftest import TINY_METHOD

TOL = 1e-12

ELEMENTS = """aspects:
  - {id: a1, label: "Chính sách"}
  - {id: a2, label: "Dịch vụ"}
elements:
  - id: e1
    aspect: a1
    label: "Giải trình"
    criteria:
      - {id: c1_1, label: "Tiêu chí một"}
      - {id: c1_2, label: "Tiêu chí hai"}
    overall: {id: o1, label: "Hài lòng nói chung về giải trình"}
  - id: e2
    aspect: a2
    label: "Tiếp cận"
    criteria:
      - {id: c2_1, label: "Tiêu chí ba"}
    overall: {id: o2, label: "Hài lòng nói chung về tiếp cận"}
  - id: e3
    aspect: a2
    label: "Thủ tục"
    criteria:
      - {id: c3_1, label: "Tiêu chí bốn"}
    overall: {id: o3, label: "Hài lòng nói chung về thủ tục"}
aggregation: {element: overall_item}
satisfied_overall: {items: overall, threshold: 0.5}
"""


def method_text(elements: str = ELEMENTS) -> str:
    start, end = TINY_METHOD.index("elements:"), TINY_METHOD.index("profile:")
    return TINY_METHOD[:start] + elements + TINY_METHOD[end:]


def write_method(root, text: str):
    (root / "params" / "methodology" / "tiny.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def cfg(tiny_root):
    write_method(tiny_root, method_text())
    return YearConfig(2023, paths(tiny_root))


def responses() -> pd.DataFrame:
    na = pd.NA
    cols = ["c1_1", "c1_2", "o1", "c2_1", "o2", "c3_1", "o3"]
    rows = [
        ("r1", "d1", 5, 4, 4, 3, 2, 5, 5),
        ("r2", "d1", 3, 98, 2, 99, 99, 2, 4),
        ("r3", "d1", 4, 2, 2, 5, 4, 4, 98),
        ("r4", "d1", na, 5, na, 1, 1, 1, 2),
        ("r5", "s1", 5, 5, 5, 5, 5, 5, 5),
        ("r6", "s1", 1, 4, 3, 99, 4, 2, 1),
        ("r7", "s1", 4, 3, 4, 98, 98, 4, 4),
    ]
    df = pd.DataFrame(rows, columns=["respondent_id", "unit_id", *cols])
    for c in cols:
        df[c] = df[c].astype("Int16")
    df["unit_type"] = df["unit_id"].map({"d1": "district", "s1": "department"})
    df["weight"] = df["unit_id"].map({"d1": 25.0, "s1": 10.0})
    return df


def value(t, unit, item, level=None):
    row = t[(t.unit_id == unit) & (t.item_id == item) & ((t.level == level) if level else True)]
    assert len(row) == 1, (unit, item)
    return row.iloc[0]


def test_elements_from_overall_items_and_two_subindices(cfg):
    t = compute_indices(responses(), cfg)
    expected = {
        ("d1", "o1"): 1 / 3, ("d1", "o2"): 1 / 3, ("d1", "o3"): 2 / 3,
        ("d1", "e1"): 1 / 3, ("d1", "e2"): 1 / 3, ("d1", "e3"): 2 / 3,
        ("d1", "a1"): 1 / 3, ("d1", "a2"): 1 / 2, ("d1", "sipas"): 5 / 12,
        ("s1", "e1"): 2 / 3, ("s1", "e2"): 1.0, ("s1", "e3"): 2 / 3,
        ("s1", "a1"): 2 / 3, ("s1", "a2"): 5 / 6, ("s1", "sipas"): 3 / 4,
        ("province", "sipas"): 7 / 12,
        ("d1", "c1_1"): 2 / 3, ("d1", "c3_1"): 1 / 2,     # content items keep their own rows
    }
    for (unit, item), want in expected.items():
        assert value(t, unit, item).estimate == pytest.approx(want, abs=TOL), (unit, item)
    assert value(t, "d1", "o2").level == "overall" and value(t, "d1", "o2").parent_id == "e2"
    assert value(t, "d1", "a2").level == "aspect" and value(t, "d1", "e3").parent_id == "a2"
    assert value(t, "d1", "e1").aggregation == "overall_item"
    assert value(t, "d1", "o1").n == 3 and value(t, "d1", "e1").n == 3   # r4 has no o1 answer


def test_element_mean_rule_leaves_overall_items_out(tiny_root):
    write_method(tiny_root, method_text(ELEMENTS.replace("aggregation: {element: overall_item}\n", "")))
    t = compute_indices(responses(), YearConfig(2023, paths(tiny_root)))
    for item, want in {"e1": 2 / 3, "e2": 1 / 3, "e3": 1 / 2, "a2": 5 / 12, "sipas": 13 / 24,
                       "o1": 1 / 3}.items():
        assert value(t, "d1", item).estimate == pytest.approx(want, abs=TOL), item


def test_satisfied_overall_from_overall_items(cfg):
    got = satisfied_overall(responses(), cfg).tolist()
    assert got == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]


def test_satisfied_overall_from_content_items(tiny_root):
    write_method(tiny_root, method_text(ELEMENTS.replace("items: overall", "items: criteria")))
    got = satisfied_overall(responses(), YearConfig(2023, paths(tiny_root))).tolist()
    assert got[1] == 0.0 and got == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


def test_index_weights(cfg):
    m = cfg.methodology
    assert m.item_ids == ["c1_1", "c1_2", "o1", "c2_1", "o2", "c3_1", "o3"]
    assert m.index_weights() == [0.0, 0.0, 1 / 2, 0.0, 1 / 4, 0.0, 1 / 4]
    m2017 = load_methodology("sipas-2017")
    assert m2017.items == m2017.criteria and m2017.index_weights()[0] == 1 / (5 * 4)


# ------------------------------------------------------------- codebook checks

def test_overall_item_required_by_the_element_rule(tiny_root):
    write_method(tiny_root, method_text(re.sub(r"    overall: \{id: o2.*\n", "", ELEMENTS)))
    with pytest.raises(ConfigError, match=r"aggregation.element: overall_item needs an `overall` item "
                                          r"in every element; elements \['e2'\] have none") as err:
        YearConfig(2023, paths(tiny_root))
    assert "tiny.yaml" in str(err.value)


def test_overall_item_required_by_satisfied_overall(tiny_root):
    text = re.sub(r"    overall: \{id: o3.*\n", "", ELEMENTS.replace("aggregation: {element: overall_item}\n", ""))
    write_method(tiny_root, method_text(text))
    with pytest.raises(ConfigError, match=r"satisfied_overall.items: overall needs an `overall` item "
                                          r"in every element; elements \['e3'\] have none"):
        YearConfig(2023, paths(tiny_root))


@pytest.mark.parametrize("old,new,message", [
    ("{element: overall_item}", "{element: overall}", r"key 'aggregation.element'.*'mean' or 'overall_item'"),
    ("items: overall,", "items: all,", r"key 'satisfied_overall.items'.*'criteria' or 'overall'"),
    ("threshold: 0.5", "threshold: 1.5", r"key 'satisfied_overall.threshold'"),
    ("{id: o3,", "{id: o2,", r"ids used more than once: \['o2'\]"),
    ("{id: o1, label", "{id: o1, scale: s7, label", r"criterion 'o1' uses unknown scale 's7'"),
    ("{id: o1, label", "{id: o1, colour: red, label", r"key 'elements\[0\].overall.colour'"),
])
def test_new_keys_are_checked(tiny_root, old, new, message):
    assert old in ELEMENTS
    write_method(tiny_root, method_text(ELEMENTS.replace(old, new)))
    with pytest.raises(ConfigError, match=message):
        YearConfig(2023, paths(tiny_root))


def test_published_items_must_exist(tiny_root):
    text = ELEMENTS + "published:\n  - {year: 2024, item: o9, value: 84.27, source: x}\n"
    write_method(tiny_root, method_text(text))
    with pytest.raises(ConfigError, match=r"published: items \['o9'\] are not indices or items"):
        YearConfig(2023, paths(tiny_root))


# ------------------------------------------------------- the published method

def test_sipas_2023_structure():
    m = load_methodology("sipas-2023")
    policy = [e for e in m.elements if e.aspect == "chinh_sach"]
    service = [e for e in m.elements if e.aspect == "dich_vu"]
    assert [a.id for a in m.aspects] == ["chinh_sach", "dich_vu"]
    assert [len(e.criteria) for e in policy] == [2, 2, 9, 2]
    assert [len(e.criteria) for e in service] == [3, 4, 5, 3, 3]
    assert all(e.overall and "nói chung" in e.overall.label for e in m.elements)
    assert m.aggregation.element == "overall_item" and m.satisfied_overall.items == "overall"
    assert len(m.perceptions) == 9 and len(m.expectations.items) == 10
    assert [c.label for c in m.expectations.categories] == ["Rất nhiều", "Nhiều", "Ít"]


def published(year: int) -> dict[str, float]:
    return {f.item: f.value for f in load_methodology("sipas-2023").published if f.year == year}


def test_published_combination_rule():
    """SIPAS = mean of the two sub-indices holds for 2022 to rounding (two-decimal
    figures: at most 0.01 off); the 2024 figures are 0.025 points off (recorded in the
    YAML and the docs as unexplained)."""
    for year, within in ((2022, True), (2024, False)):
        p = published(year)
        gap = abs((p["chinh_sach"] + p["dich_vu"]) / 2 - p["sipas"])
        assert (gap <= 0.01) == within, (year, gap)
    assert published(2024)["s1_chung"] == 84.27


def test_demo_answers_the_overall_items():
    """The generator answers every item of the codebook, overall items included, and
    calibrates each unit's SIPAS on the items the method's index uses (the overall
    items): unit SIPAS from the overall items in a realistic range, and each overall
    item going with its element's content items across respondents."""
    from sipas.demo import demo_survey

    from .conftest import REPO

    m = load_methodology("sipas-2023")
    out = demo_survey(2025, root=REPO)
    col = {h: j for j, h in enumerate(out.header)}
    assert all(c.upper() in col for c in m.item_ids)
    extra = {r["row"] for r in out.key["bad_records"]}
    rows = [r for i, r in enumerate(out.rows) if i + 2 not in extra]

    def share(ids):   # per respondent: share of positive among valid answers on ``ids``
        valid = [[r[col[i.upper()]] for i in ids if r[col[i.upper()]] in ("1", "2", "3", "4", "5")] for r in rows]
        return pd.Series([sum(a in ("4", "5") for a in x) / len(x) if x else float("nan") for x in valid])

    units = pd.Series([r[col["Đơn vị"]] for r in rows])
    for e in m.elements:
        overall, content = share([e.overall.id]), share([c.id for c in e.criteria])
        assert overall.corr(content) > 0.2, e.id
    sipas = pd.concat([share([e.overall.id]).rename(e.id) for e in m.elements], axis=1)
    policy = sipas[[e.id for e in m.elements if e.aspect == "chinh_sach"]]
    service = sipas[[e.id for e in m.elements if e.aspect == "dich_vu"]]
    by_unit = ((policy.groupby(units).mean().mean(axis=1) + service.groupby(units).mean().mean(axis=1)) / 2)
    big = units.value_counts()
    by_unit = by_unit[big[big >= 20].index]     # leave out the few rows with a misspelt unit name
    assert 0.65 < by_unit.min() and by_unit.max() < 0.99 and len(by_unit) == 50
