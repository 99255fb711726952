"""Readers: the same questionnaires as csv, xlsx and sav give identical processed data;
several files per year keep their origin; the demo's injected bad records are caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sipas.base.codebook import load_year
from sipas.intake import run_intake, samples

REPO = Path(__file__).resolve().parents[1]
YEAR = 2023
UNITS = ["tp-lai-chau", "muong-te", "so-tu-phap", "ban-qlkkt"]
ORIGIN = ["source_file", "source_row"]


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


@pytest.fixture(scope="module")
def rows(cfg):
    rs = samples.sample_rows(cfg, per_unit=6, units=UNITS, seed=11)
    rs[0]["c1_1"] = "Rất hài lòng"      # a label among the codes
    rs[1]["comment"] = "Cán bộ tốt <b>lắm</b> & nhiệt tình"
    return rs


def project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(REPO / "params", root / "params")
    return root


def processed(root: Path, *files: Path) -> pd.DataFrame:
    res = run_intake(YEAR, [str(f) for f in files], root=root)
    assert res.quarantined == 0, res.quarantine.to_dict("records")
    return pd.read_parquet(root / "data/processed/2023/responses.parquet")


def test_round_trip_csv_xlsx_sav(tmp_path, cfg, rows):
    root = project(tmp_path, "p")
    f_csv = samples.write_csv(cfg, rows, tmp_path / "in" / "phieu.csv")
    f_xlsx = samples.write_xlsx(cfg, rows, tmp_path / "in" / "phieu.xlsx", title_rows=2)
    f_sheets = samples.write_xlsx(cfg, rows, tmp_path / "in" / "theo-don-vi.xlsx", sheets_by_unit=True)
    f_sav = samples.write_sav(cfg, rows, tmp_path / "in" / "phieu.sav")
    frames = {f.name: processed(root, f) for f in (f_csv, f_xlsx, f_sheets, f_sav)}
    base = frames.pop("phieu.csv")
    assert len(base) == len(rows)
    for name, df in frames.items():
        pd.testing.assert_frame_equal(df.drop(columns=ORIGIN), base.drop(columns=ORIGIN), obj=name)
    # origin: csv line / Excel row (after two title rows and the header) / SPSS case
    first = base.set_index("respondent_id")["source_row"]
    assert first.min() == 2
    assert frames["phieu.xlsx"]["source_row"].min() == 4
    assert frames["phieu.sav"]["source_row"].min() == 1
    assert frames["theo-don-vi.xlsx"]["source_file"].str.startswith("theo-don-vi.xlsx#").all()


def test_several_files_per_year_keep_their_origin(tmp_path, cfg, rows):
    root = project(tmp_path, "p")
    raw = root / "data/raw/2023"
    samples.write_csv(cfg, rows[:10], raw / "dot-1.csv", delimiter=";")
    samples.write_xlsx(cfg, rows[10:], raw / "dot-2.xlsx")
    (raw / "_ghi-chu.csv").write_text("ignored", encoding="utf-8")   # files starting with _ are skipped
    res = run_intake(YEAR, root=root)
    assert res.rows_read == len(rows) and res.quarantined == 0
    assert [f["file"] for f in res.files] == ["dot-1.csv", "dot-2.xlsx"]
    assert [f["rows_read"] for f in res.files] == [10, len(rows) - 10]
    assert set(res.responses["source_file"]) == {"dot-1.csv", "dot-2.xlsx#Phiếu khảo sát"}


def test_fatal_error_leaves_previous_output(tmp_path, cfg, rows):
    root = project(tmp_path, "p")
    raw = root / "data/raw/2023"
    samples.write_csv(cfg, rows, raw / "phieu.csv")
    run_intake(YEAR, root=root)
    files = sorted(p for d in ("data/processed", "outputs") for p in (root / d).rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    (raw / "hong.xlsx").write_bytes(b"not a workbook")
    from sipas.base.errors import SipasError

    with pytest.raises(SipasError, match="hong.xlsx"):
        run_intake(YEAR, root=root)
    assert {p: p.read_bytes() for p in files} == before


def test_unknown_methodology_is_fatal(tmp_path):
    root = project(tmp_path, "p")
    reg = root / "params/units/2023.yaml"
    reg.write_text(reg.read_text("utf-8").replace("methodology: sipas-2017", "methodology: sipas-2099"), "utf-8")
    from sipas.base.errors import SipasError

    with pytest.raises(SipasError, match="unknown methodology 'sipas-2099'"):
        run_intake(YEAR, root=root)


def test_quality_annex_is_self_contained_and_escaped(tmp_path, cfg, rows):
    root = project(tmp_path, "p")
    bad = [dict(r) for r in rows]
    bad[2]["unit_id"] = "<script>alert(1)</script>"
    samples.write_csv(cfg, bad, root / "data/raw/2023/phieu.csv")
    run_intake(YEAR, root=root)
    html = (root / "outputs/2023/quality.html").read_text("utf-8")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html and "src=" not in html
    assert "Chất lượng dữ liệu" in html and "Lai Châu" in html
    for u in cfg.units:
        assert u.name in html


# ------------------------------------------------------------------- demo key

KIND_TO_OUTCOME = {            # demo generator kind -> (quarantine reason | flag)
    "out_of_range": "invalid_answer",
    "invalid_profile": "profile_cleared",      # issue 12: the value is cleared, the answers kept
    "duplicate_id": "duplicate_id",
    "unknown_unit": "unknown_unit",
    "date_outside_period": "date_out_of_period",
    "nearly_empty": "too_few_answers",
    "straight_line": "interviewer_duplicate",   # identical non-constant vectors, one interviewer
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from sipas.demo import write_demo_data

    root = tmp_path_factory.mktemp("demo") / "p"
    shutil.copytree(REPO / "params", root / "params")
    write_demo_data(YEAR, root=root)
    res = run_intake(YEAR, root=root)
    key = json.loads((root / "data/raw/2023/_demo_key.json").read_text("utf-8"))
    return root, res, key


def test_demo_bad_records_caught(demo):
    root, res, key = demo
    report = res.report
    quarantined = {q["row"]: q for q in report["quarantined"]}
    flagged = {f["row"]: f for f in report["flagged"]}
    assert res.rows_read == key["rows"]
    for b in key["bad_records"]:
        want = KIND_TO_OUTCOME[b["kind"]]
        if want in ("interviewer_duplicate", "straight_line", "profile_cleared"):
            assert b["row"] in flagged and want in flagged[b["row"]]["flags"], b
        else:
            assert b["row"] in quarantined, b
            assert quarantined[b["row"]]["reason"] == want, (b, quarantined[b["row"]])
    # nothing else is quarantined: every quarantined row is an injected one
    injected = {b["row"] for b in key["bad_records"]}
    assert set(quarantined) <= injected
    expected_q = sum(n for k, n in key["counts"].items() if KIND_TO_OUTCOME[k] in
                     {r for r in KIND_TO_OUTCOME.values() if r not in ("interviewer_duplicate", "profile_cleared")})
    assert res.quarantined == expected_q
    assert res.accepted + res.quarantined == res.rows_read


def test_demo_personal_data_never_written(demo):
    root, res, key = demo
    raw = pd.read_csv(root / "data/raw/2023" / key["file"], dtype=str, keep_default_na=False,
                      encoding="utf-8-sig")
    personal = [c.label for c in load_year(YEAR, root).fields.personal]
    values = {v for c in personal if c in raw for v in raw[c] if len(v) >= 6}
    assert len(values) > 1000
    blobs = []
    for d in ("data/processed", "outputs"):
        for p in (root / d).rglob("*"):
            if p.is_file():
                if p.suffix == ".xlsx":
                    import zipfile
                    z = zipfile.ZipFile(p)
                    blobs.append(b"".join(z.read(n) for n in z.namelist()).decode("utf-8", "ignore"))
                elif p.suffix == ".parquet":
                    df = pd.read_parquet(p)
                    cells = {str(v) for c in df.columns for v in df[c].dropna().unique()}
                    blobs.append("\n".join(sorted(cells)))
                else:
                    blobs.append(p.read_text("utf-8", errors="ignore"))
    text = "\n".join(blobs)
    by_prefix: dict[str, list[str]] = {}
    for v in values:
        by_prefix.setdefault(v[:6], []).append(v)

    def leaks(t: str) -> set[str]:
        return {v for i in range(len(t)) for v in by_prefix.get(t[i:i + 6], ()) if t.startswith(v, i)}

    assert not leaks(text), sorted(leaks(text))[:5]
    probe = sorted(values)[0]
    assert probe in leaks(text[:1000] + probe)   # the search itself finds a planted value
