"""Intake on the second codebook (2023–2026 method, 2025 units): perception topics and
rated expectations are mapped from the codebook like profile questions; bad values are
quarantined as ``invalid_answer``; csv / xlsx / sav give the same processed data; the
demo 2025 file loses only its injected bad records."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sipas.base.codebook import load_year
from sipas.intake import Codebook, processed_schema, run_intake, samples
from sipas.intake.output import processed_columns

REPO = Path(__file__).resolve().parents[1]
YEAR = 2025
UNITS = ["so-tu-phap", "phuong-tan-phong", "xa-muong-te"]
ORIGIN = ["source_file", "source_row"]


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


@pytest.fixture(scope="module")
def rows(cfg):
    return samples.sample_rows(cfg, per_unit=5, units=[u for u in UNITS if u in {x.id for x in cfg.units}],
                               seed=7)


def project(tmp_path: Path, name: str = "p") -> Path:
    root = tmp_path / name
    shutil.copytree(REPO / "params", root / "params")
    return root


def intake(root: Path, cfg, rows, name: str = "phieu.csv"):
    samples.write_csv(cfg, rows, root / "data" / "raw" / str(YEAR) / name)
    return run_intake(YEAR, root=root)


def test_second_method_has_perceptions_and_rated_expectations(cfg):
    m = cfg.methodology
    assert m.perceptions and m.expectations.rated and m.aspects
    assert all(u in {x.id for x in cfg.units} for u in UNITS)


def test_clean_rows_accepted_with_codes_per_contract(tmp_path, cfg, rows):
    root = project(tmp_path)
    res = intake(root, cfg, rows)
    assert (res.rows_read, res.accepted, res.quarantined) == (len(rows), len(rows), 0), \
        res.quarantine.to_dict("records")[:2]
    path = root / "data/processed/2025/responses.parquet"
    cb = Codebook.from_config(cfg)
    assert [f.name for f in pq.read_schema(path)] == [n for n, _, _ in processed_columns(cb)]
    df = pd.read_parquet(path)
    processed_schema(cfg).validate(df)
    m = cfg.methodology
    raw = {r["respondent_id"]: r for r in rows}
    for v in m.perceptions:                      # perception ids: string category codes
        assert str(df[v.id].dtype) in ("string", "object")
        by_label = {c.label: c.code for c in v.categories}
        assert [by_label[raw[i][v.id]] for i in df.respondent_id] == df[v.id].tolist()
    by_label = {c.label: c.code for c in m.expectations.categories}
    for it in m.expectations.items:              # rated expectation ids: category codes
        assert str(df[it.id].dtype) in ("string", "object")
        assert [by_label[raw[i][it.id]] for i in df.respondent_id] == df[it.id].tolist()
    # commune-level units are sampled by respondent: psu = respondent, fpc = N
    com = df[df.unit_id == "phuong-tan-phong"]
    assert (com.psu == com.respondent_id).all() and (com.unit_type == "commune").all()
    # no column of the first method
    assert "c1_1" not in df and "respondent_type" not in df


def test_labels_in_any_form_map_to_codes(tmp_path, cfg, rows):
    root = project(tmp_path)
    rs = [dict(r) for r in rows[:3]]
    rs[0].update(q_phien_ha="KHÔNG CÓ CÔNG CHỨC NÀO GÂY PHIỀN HÀ, SÁCH NHIỄU", q_chi_them="co", q_kenh="internet, mang xa hoi", exp_1="rat nhieu",
                 exp_2="  Nhiều ", exp_3="it", exp_4="", q_quan_tam="")
    rs[1].update(q_chi_them="Có", exp_1="rat_nhieu", q_truc_tuyen="Da su dung")
    res = intake(root, cfg, rs)
    assert res.quarantined == 0, res.quarantine.to_dict("records")
    df = res.responses.set_index("source_row")
    assert df.loc[2, ["q_phien_ha", "q_chi_them", "q_kenh", "exp_1", "exp_2", "exp_3"]].tolist() == \
        ["khong", "co", "mang_xa_hoi", "rat_nhieu", "nhieu", "it"]
    assert pd.isna(df.loc[2, "exp_4"]) and pd.isna(df.loc[2, "q_quan_tam"])   # blank: not answered
    assert df.loc[3, ["q_chi_them", "exp_1", "q_truc_tuyen"]].tolist() == ["co", "rat_nhieu", "da_dung"]


def test_invalid_perception_and_expectation_are_quarantined(tmp_path, cfg, rows):
    root = project(tmp_path)
    rs = [dict(r) for r in rows]
    rs[0]["q_phien_ha"] = "Thỉnh thoảng"      # not a category of the topic
    rs[1]["exp_3"] = "x"                       # multiple-choice mark on a rated item
    rs[2]["exp_9"] = "5"
    rs[3]["s2_1"] = "7"                        # a criterion, as before
    res = intake(root, cfg, rs)
    assert res.reasons == {"invalid_answer": 4}
    q = res.quarantine.set_index("source_row")
    topic = cfg.methodology.perceptions[[v.id for v in cfg.methodology.perceptions].index("q_phien_ha")]
    assert q.loc[2, "column"] == topic.label and q.loc[2, "value"] == "Thỉnh thoảng"
    assert "expected one of: " + ", ".join(c.label for c in topic.categories) in q.loc[2, "detail"]
    assert q.loc[3, "column"] == "EXP_3" and q.loc[3, "value"] == "x"
    assert "Rất nhiều, Nhiều, Ít" in q.loc[3, "detail"]
    assert q.loc[4, "column"] == "EXP_9" and q.loc[5, "column"] == "S2_1"
    assert res.accepted + res.quarantined == res.rows_read


def test_round_trip_csv_xlsx_sav(tmp_path, cfg, rows):
    root = project(tmp_path)
    files = [samples.write_csv(cfg, rows, tmp_path / "in" / "phieu.csv"),
             samples.write_xlsx(cfg, rows, tmp_path / "in" / "phieu.xlsx", title_rows=1),
             samples.write_sav(cfg, rows, tmp_path / "in" / "phieu.sav")]
    frames = {}
    for f in files:
        res = run_intake(YEAR, [str(f)], root=root)
        assert res.quarantined == 0, res.quarantine.to_dict("records")[:2]
        frames[f.name] = pd.read_parquet(root / "data/processed/2025/responses.parquet")
    base = frames.pop("phieu.csv")
    assert len(base) == len(rows)
    for name, df in frames.items():
        pd.testing.assert_frame_equal(df.drop(columns=ORIGIN), base.drop(columns=ORIGIN), obj=name)


def test_first_method_keeps_boolean_expectations():
    cfg = load_year(2023, REPO)
    cols = {n: d for n, _, d in processed_columns(Codebook.from_config(cfg))}
    assert cols["exp_1"] == "bool" and not any(v.id in cols for v in load_year(2025, REPO).methodology.perceptions)


def test_demo_2025_loses_only_its_injected_records(tmp_path):
    from sipas.demo import write_demo_data

    root = project(tmp_path)
    write_demo_data(YEAR, root=root)
    import json

    key = json.loads((root / "data/raw/2025/_demo_key.json").read_text("utf-8"))
    res = run_intake(YEAR, root=root)
    # straight lines are flagged; an invalid profile value is cleared, answers kept (issue 12)
    injected = {b["row"] for b in key["bad_records"] if b["kind"] not in ("straight_line", "invalid_profile")}
    quarantined = {q["row"] for q in res.report["quarantined"]}
    assert quarantined == injected
    assert res.rows_read == key["rows"] and res.accepted == key["rows"] - len(injected)
    df = res.responses
    for v in load_year(YEAR, REPO).methodology.perceptions:
        assert df[v.id].notna().mean() > 0.95
