"""Intake: raw survey rows -> processed responses, quarantine and validation report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sipas.base.codebook import load_year
from sipas.intake import REASONS, run_intake, samples
from sipas.intake.output import processed_columns

REPO = Path(__file__).resolve().parents[1]
YEAR = 2023


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(REPO / "params", root / "params")
    return root


def raw_dir(root: Path) -> Path:
    return root / "data" / "raw" / str(YEAR)


UNITS = ["tam-duong", "so-tu-phap", "so-y-te"]


@pytest.fixture
def good(tmp_path, cfg):
    root = make_root(tmp_path)
    rows = samples.sample_rows(cfg, per_unit=4, units=UNITS)
    samples.write_csv(cfg, rows, raw_dir(root) / "phieu.csv")
    return root, rows


def test_clean_file_is_accepted_per_contract(good, cfg):
    root, rows = good
    res = run_intake(YEAR, root=root)
    assert (res.rows_read, res.accepted, res.quarantined) == (12, 12, 0)
    path = root / "data/processed/2023/responses.parquet"
    schema = pq.read_schema(path)
    assert [f.name for f in schema] == [n for n, _, _ in processed_columns(res_cb(cfg))]
    df = pd.read_parquet(path)
    # sorted by registry unit order, then respondent id
    order = [u.id for u in cfg.units]
    keys = list(zip(df.unit_id.map(order.index), df.respondent_id))
    assert keys == sorted(keys)
    # design columns
    td = df[df.unit_id == "tam-duong"]
    # 2017–2020 method: a stratified SRS of completed dossiers (params/units/2023.yaml)
    assert (td.weight == 7200 / 4).all() and (td.fpc == 7200).all() and (td.psu == td.respondent_id).all()
    sp = df[df.unit_id == "so-tu-phap"]
    assert (sp.weight == 1900 / 4).all() and (sp.fpc == 1900).all() and (sp.psu == sp.respondent_id).all()
    assert set(df.stratum) == set(df.unit_id)
    assert df.gender.isin(["nam", "nu"]).all()
    assert df.source_row.tolist() != [] and df.source_file.eq("phieu.csv").all()
    assert df["flags"].notna().all()  # df.flags is a pandas attribute: use df["flags"]
    for f in ("quarantine.xlsx", "validation.json"):
        assert (root / "data/processed/2023" / f).is_file()


def res_cb(cfg):
    from sipas.intake import Codebook
    return Codebook.from_config(cfg)


def test_output_bytes_are_deterministic(good):
    root, _ = good
    run_intake(YEAR, root=root)
    files = ["responses.parquet", "quarantine.xlsx", "validation.json"]
    first = {f: (root / "data/processed/2023" / f).read_bytes() for f in files}
    run_intake(YEAR, root=root)
    for f in files:
        assert (root / "data/processed/2023" / f).read_bytes() == first[f], f


def spoil(rows, i, **changes):
    rows[i] = {**rows[i], **changes}


def test_bad_rows_are_quarantined_with_reasons(tmp_path, cfg):
    root = make_root(tmp_path)
    rows = samples.sample_rows(cfg, per_unit=10, units=UNITS)
    crit = cfg.methodology.criterion_ids
    spoil(rows, 0, unit_id="Sở Ngoại vụ")
    spoil(rows, 1, c2_3="7")
    spoil(rows, 2, interview_date="15/12/2023")
    spoil(rows, 3, **{c: "" for c in crit[1:]})
    spoil(rows, 4, gender="Không rõ")
    spoil(rows, 5, respondent_id="")
    spoil(rows, 6, interview_date="31/02/2023")
    spoil(rows, 7, commune="Xã Không Có")
    rows.append(dict(rows[12]))                                 # exact copy: 1 quarantined
    rows.append({**rows[13], "c1_1": "1", "c1_2": "1"})          # same id, other answers
    samples.write_csv(cfg, rows, raw_dir(root) / "phieu.csv")
    res = run_intake(YEAR, root=root)
    assert res.rows_read == 32
    assert res.accepted + res.quarantined == res.rows_read
    assert res.flags.get("profile_cleared") == 1       # gender "Không rõ": cleared, answers kept
    assert res.reasons == {"unknown_unit": 1, "invalid_answer": 1, "date_out_of_period": 1,
                           "too_few_answers": 1, "missing_id": 1,
                           "invalid_date": 1, "invalid_commune": 1, "duplicate_id": 2}
    q = res.quarantine.set_index("source_row")
    # data rows start on line 2 (line 1 is the header)
    assert q.loc[2, "reason"] == "unknown_unit" and q.loc[2, "value"] == "Sở Ngoại vụ"
    assert q.loc[3, "reason"] == "invalid_answer" and q.loc[3, "column"] == "C2_3" and q.loc[3, "value"] == "7"
    assert q.loc[2, "reason_vi"] and q.loc[2, "reason_en"]
    assert q.loc[33, "reason"] == "duplicate_id" and "different answers" in q.loc[33, "detail"]
    assert "identical copy" in q.loc[32, "detail"]
    report = json.loads((root / "data/processed/2023/validation.json").read_text("utf-8"))
    assert report["totals"]["accepted_plus_quarantined_equals_read"]
    for f in report["files"] + report["units"]:
        assert f["accepted"] + f["quarantined"] == f["rows_read"]
    assert set(report["reasons"]) == {r.code for r in REASONS}


def test_personal_columns_never_written(good):
    root, rows = good
    run_intake(YEAR, root=root)
    personal = [str(r[k]) for r in rows for k in ("full_name", "phone", "id_number", "address", "email")]
    for path in (root / "data/processed").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            if path.suffix == ".xlsx":
                import zipfile
                z = zipfile.ZipFile(path)
                blob = b"".join(z.read(n) for n in z.namelist())
            text = blob.decode("utf-8", errors="ignore")
            leaked = [v for v in personal if v in text]
            assert not leaked, (path, leaked[:3])


def test_labels_and_codes_map(tmp_path, cfg):
    root = make_root(tmp_path)
    rows = samples.sample_rows(cfg, per_unit=2, units=["so-tu-phap"])
    spoil(rows, 0, c1_1="Rất hài lòng", c1_2=" hai long ", c1_3="KHÔNG BIẾT", c1_4="N/A", c2_1="4.0",
          gender="NỮ", age_band="18-24", unit_id="so-tu-phap")
    spoil(rows, 1, unit_id="SO TU PHAP", gender="nu", ethnicity="H'Mông")
    samples.write_csv(cfg, rows, raw_dir(root) / "phieu.csv", delimiter=";", bom=False)
    res = run_intake(YEAR, root=root)
    assert res.quarantined == 0, res.quarantine.to_dict("records")
    df = res.responses.set_index("source_row")
    assert [int(df.loc[2, c]) for c in ("c1_1", "c1_2", "c1_3", "c1_4", "c2_1")] == [5, 4, 98, 99, 4]
    assert df.loc[2, "gender"] == "nu" and df.loc[2, "age_band"] == "18_24"
    assert df.loc[3, "ethnicity"] == "mong"


def test_text_stays_text_and_unknown_columns_are_named(tmp_path, cfg):
    root = make_root(tmp_path)
    rows = samples.sample_rows(cfg, per_unit=2, units=["so-tu-phap"])
    rows[0]["comment"] = '=HYPERLINK("http://example.com")'
    rows[0]["c1_1"] = "-1"
    samples.write_csv(cfg, rows, raw_dir(root) / "phieu.csv", header_map={"email": "Ghi chú riêng"})
    res = run_intake(YEAR, root=root)
    assert any("Ghi chú riêng" in w and "ignored" in w for w in res.warnings)
    import openpyxl
    ws = openpyxl.load_workbook(root / "data/processed/2023/quarantine.xlsx").active
    cells = [c for c in ws[3] if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_cli_subprocess_fatal_has_no_traceback(tmp_path):
    import os
    import subprocess
    import sys

    root = make_root(tmp_path)
    (raw_dir(root)).mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "intake_corpus" / "tcvn3.csv", raw_dir(root) / "phieu.csv")
    proc = subprocess.run([sys.executable, "-m", "sipas.cli", "validate", "--year", "2023"], cwd=root,
                          env={**os.environ, "SIPAS_ROOT": str(root)}, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "phieu.csv" in proc.stderr and "TCVN3" in proc.stderr
    assert not (root / "data/processed").exists()
