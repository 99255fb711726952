"""Field files as they really arrive (issue 12): what clerks do to Excel files, dates
from en-US exports, shifted CSV rows, personal data in comments, the crashes that
became messages, SPSS label/name conflicts, and the small things that used to refuse a
whole file. Every test builds its file from the codebook (``sipas.intake.samples``)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from openpyxl.styles import Font

from sipas.base.codebook import load_year
from sipas.base.errors import SipasError
from sipas.intake import IntakeError, run_intake, samples
from sipas.intake.pii import mask

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "intake_corpus"
YEAR = 2023
UNITS = ["tam-duong", "so-tu-phap"]


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "proj"
    shutil.copytree(REPO / "params", r / "params")
    return r


def rows(cfg, n=4, seed=5):
    return samples.sample_rows(cfg, per_unit=n, units=UNITS, seed=seed)


def intake(root, *files, **kw):
    return run_intake(YEAR, [str(f) for f in files], root=root, **kw)


def _xlsx(cfg, rs, path, **kw) -> Path:
    return samples.write_xlsx(cfg, rs, path, **kw)


# ------------------------------------------------------------- Excel: hidden things


def test_hidden_and_very_hidden_sheets_are_skipped_and_named(cfg, root, tmp_path):
    f = _xlsx(cfg, rows(cfg), tmp_path / "in.xlsx")
    wb = openpyxl.load_workbook(f)
    for name, state in (("Thử nghiệm", "hidden"), ("Cũ 2022", "veryHidden")):
        ws = wb.copy_worksheet(wb.worksheets[0])
        ws.title = name
        ws.sheet_state = state
    wb.save(f)
    res = intake(root, f)
    assert res.rows_read == 8 and res.accepted == 8          # not 24: the copies are skipped
    text = res.summary()
    assert "hidden sheet 'Thử nghiệm' skipped" in text and "veryHidden sheet 'Cũ 2022' skipped" in text


def test_hidden_struck_and_void_rows_are_flagged_or_quarantined(cfg, root, tmp_path):
    f = _xlsx(cfg, rows(cfg), tmp_path / "in.xlsx")
    wb = openpyxl.load_workbook(f)
    ws = wb.worksheets[0]
    ws.row_dimensions[3].hidden = True                     # filtered away: kept, flagged
    for c in ws[4]:
        c.font = Font(strike=True)                         # struck through: void
    ws.cell(row=1, column=ws.max_column + 1, value="Ghi chú")
    ws.cell(row=5, column=ws.max_column, value="PHIẾU HỎNG")
    ws.cell(row=6, column=ws.max_column, value="Không tính - trùng")
    wb.save(f)
    res = intake(root, f)
    q = res.quarantine.set_index("source_row")
    assert set(q.index) == {4, 5, 6} and set(q["reason"]) == {"marked_void"}
    assert q.loc[5, "value"] == "PHIẾU HỎNG" and q.loc[5, "column"] == "Ghi chú"
    assert res.flags.get("hidden_row") == 1
    assert [r for r in res.report["flagged"] if "hidden_row" in r["flags"]][0]["row"] == 3
    assert res.accepted + res.quarantined == res.rows_read == 8


def test_formula_without_cached_value_stops_with_cells_named(cfg, root, tmp_path):
    f = _xlsx(cfg, rows(cfg), tmp_path / "in.xlsx")
    wb = openpyxl.load_workbook(f)
    ws = wb.worksheets[0]
    col = [c.value for c in ws[1]].index("C1_2") + 1
    for r in (2, 3):
        ws.cell(row=r, column=col, value=f"=MAX(1,{ws.cell(row=r, column=col - 1).coordinate})")
    wb.save(f)                                             # openpyxl stores no computed value
    with pytest.raises(IntakeError) as e:
        intake(root, f)
    msg = str(e.value)
    letter = openpyxl.utils.get_column_letter(col)
    assert "2 formula cells without a computed value" in msg and f"{letter}2, {letter}3" in msg
    assert "Phiếu khảo sát" in msg and "LibreOffice" in msg
    assert not (root / "data/processed").exists()


def _encrypt_flags(raw: bytes) -> bytes:
    """Set the 'encrypted' bit of every zip entry (what a partly encrypted export looks like)."""
    b = bytearray(raw)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            b[i + off] |= 1
            i = b.find(sig, i + 4)
    return bytes(b)


def test_encrypted_workbook_is_a_clear_message(cfg, root, tmp_path):
    f = _xlsx(cfg, rows(cfg), tmp_path / "in.xlsx")
    f.write_bytes(_encrypt_flags(f.read_bytes()))
    with pytest.raises(IntakeError, match="encrypted"):
        intake(root, f)


# ------------------------------------------------------------------------ dates


def _dates(rs, fmt):
    import datetime as dt
    for r in rs:
        d = dt.datetime.strptime(r["interview_date"], "%d/%m/%Y")
        r["interview_date"] = fmt(d)
    return rs


def test_month_day_order_is_decided_from_values_over_12(cfg, root, tmp_path):
    rs = _dates(rows(cfg), lambda d: f"{d.month}/{d.day}/{d.year}")
    assert any(int(r["interview_date"].split("/")[1]) > 12 for r in rs)
    f = samples.write_csv(cfg, rs, tmp_path / "en_us.csv")
    res = intake(root, f)
    assert res.quarantined == 0
    want = sorted(pd.to_datetime([r["interview_date"] for r in rs], format="%m/%d/%Y").date)
    assert sorted(res.responses["interview_date"]) == want
    assert "month/day/year" in res.summary()


def test_ambiguous_day_month_uses_the_setting_and_says_so(cfg, root, tmp_path):
    rs = rows(cfg)
    for i, r in enumerate(rs):          # period 1/8-31/10/2023: both orders fit every date
        r["interview_date"] = f"{8 + i % 3}/{9 + i % 2}/2023"
    f = samples.write_csv(cfg, rs, tmp_path / "amb.csv")
    res = intake(root, f, write=False)
    summary = res.summary()
    assert "ambiguous" in summary and "date_order" in summary
    (root / "params/intake.yaml").write_text("date_order: mdy\n", encoding="utf-8")
    res2 = intake(root, f, write=False)
    first = res.responses.set_index("respondent_id")["interview_date"]
    second = res2.responses.set_index("respondent_id")["interview_date"]
    common = first.index.intersection(second.index)
    assert len(common) and all(a.day == b.month and a.month == b.day for a, b in zip(first[common], second[common]))


def test_excel_serial_dates_in_csv(cfg, root, tmp_path):
    import datetime as dt
    rs = _dates(rows(cfg), lambda d: str((d.date() - dt.date(1899, 12, 30)).days))
    f = samples.write_csv(cfg, rs, tmp_path / "serial.csv")
    res = intake(root, f)
    assert res.quarantined == 0
    assert "Excel serial numbers" in res.summary()


# ---------------------------------------------------------------- shifted columns


def test_unquoted_comma_in_address_is_a_shifted_row_and_no_email_leaks(cfg, root, tmp_path):
    rs = rows(cfg)
    text = samples.to_csv(cfg, rs, bom=False).decode("utf-8").splitlines()
    # an address with an unquoted comma: every later cell moves one column right
    line = text[2].split(",")
    addr = [h for _, h in samples.headers(cfg)].index("Địa chỉ")
    line[addr] = line[addr] + ",Tam Đường"
    text[2] = ",".join(line)
    f = tmp_path / "shift.csv"
    f.write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    res = intake(root, f)
    q = res.quarantine
    assert list(q["source_row"]) == [3] and list(q["reason"]) == ["malformed_row"]
    raw = (root / "data/processed/2023/quarantine.xlsx").read_bytes()
    z = zipfile.ZipFile(io.BytesIO(raw))
    blob = b"".join(z.read(n) for n in z.namelist()).decode("utf-8", "ignore")
    assert "@example.vn" not in blob


def test_email_in_an_answer_column_is_a_shifted_row(cfg, root, tmp_path):
    rs = rows(cfg)
    rs[1]["gender"] = "nguoidan1.tam-duong@example.vn"
    f = samples.write_csv(cfg, rs, tmp_path / "mail.csv")
    res = intake(root, f)
    assert list(res.quarantine["reason"]) == ["malformed_row"]
    assert "@" not in str(res.report)


# ------------------------------------------------------------ personal data in text


PII = yaml.safe_load((CORPUS / "pii_vi.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", PII["masked"], ids=lambda c: c["text"][:30])
def test_pii_corpus_masked(case):
    assert mask(case["text"]) == case["masked"]


@pytest.mark.parametrize("text", PII["kept"])
def test_pii_corpus_kept(text):
    assert mask(text) == text


def test_comments_are_masked_before_data_processed(cfg, root, tmp_path):
    rs = rows(cfg)
    rs[0]["comment"] = "Tôi là Nguyễn Văn An, gọi 09 1234 5678 hoặc an.nguyen@gmail.com"
    rs[1]["comment"] = "CMND 123 456 789 của tôi bị giữ"
    f = samples.write_csv(cfg, rs, tmp_path / "pii.csv")
    res = intake(root, f)
    df = pd.read_parquet(root / "data/processed/2023/responses.parquet")
    text = " ".join(df["comment"].dropna())
    for leak in ("Nguyễn Văn An", "1234 5678", "gmail", "123 456 789"):
        assert leak not in text
    assert "[SĐT]" in text and "[CCCD]" in text and res.flags["pii_masked"] == 2


# ------------------------------------------------------------------ crashes -> messages


def test_more_questionnaires_than_served_is_a_clear_error(cfg, root, tmp_path):
    units = yaml.safe_load((root / "params/units/2023.yaml").read_text(encoding="utf-8"))
    for u in units["units"]:
        if u["id"] == "so-tu-phap":
            u["served"] = 2
    (root / "params/units/2023.yaml").write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    f = samples.write_csv(cfg, rows(cfg), tmp_path / "many.csv")
    with pytest.raises(IntakeError) as e:
        intake(root, f)
    msg = str(e.value)
    assert "Sở Tư pháp (so-tu-phap): 4 questionnaires, served 2" in msg and len(msg) < 1000
    assert not (root / "data/processed").exists()


def test_truncated_processed_parquet_is_a_clear_error(cfg, root, tmp_path):
    from sipas.base.codebook import load_year as ly
    from sipas.base.microdata import estimation_frame, load_responses

    f = samples.write_csv(cfg, rows(cfg), tmp_path / "ok.csv")
    intake(root, f)
    p = root / "data/processed/2023/responses.parquet"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    c = ly(YEAR, root)
    for fn in (load_responses, estimation_frame):
        with pytest.raises(SipasError, match="damaged or truncated"):
            fn(c)


# ------------------------------------------------------------------------ SPSS


def test_spss_label_wins_over_a_name_naming_another_item(cfg, root, tmp_path):
    import pyreadstat

    rs = rows(cfg)
    f = samples.write_sav(cfg, rs, tmp_path / "a.sav")
    df, meta = pyreadstat.read_sav(str(f))
    # the gender variable renamed C1_1 (a criterion), its label still "Giới tính"
    labels = dict(zip(meta.column_names, meta.column_labels))
    g = next(n for n, lab in labels.items() if lab == "Giới tính")
    df = df.rename(columns={"C1_1": "X1", g: "C1_1"})
    new_labels = [labels["C1_1"] if n == "X1" else labels[g] if n == "C1_1" else labels[n] for n in df.columns]
    vl = {("X1" if k == "C1_1" else "C1_1" if k == g else k): v for k, v in meta.variable_value_labels.items()}
    pyreadstat.write_sav(df, str(f), column_labels=new_labels, variable_value_labels=vl)
    res = intake(root, f)
    base = intake(root, samples.write_sav(cfg, rs, tmp_path / "b.sav"))
    assert res.quarantined == 0
    cols = ["respondent_id", "gender", "c1_1"]
    pd.testing.assert_frame_equal(res.responses[cols], base.responses[cols])
    assert "labelled 'Giới tính'" in res.summary()


# ------------------------------------------------------- small things, whole files


def test_sheet_name_abbreviations_legend_sheet_and_per_sheet_numbers(cfg, root, tmp_path):
    rs = samples.sample_rows(cfg, per_unit=3, units=["than-uyen", "tp-lai-chau", "so-tnmt"], seed=3)
    names = {"Huyện Than Uyên": "H. Than Uyên", "Thành phố Lai Châu": "TP Lai Châu",
             "Sở Tài nguyên và Môi trường": "Sở TN&MT"}
    for r in rs:
        r["respondent_id"] = r["respondent_id"].rsplit("-", 1)[-1].lstrip("0")   # 1, 2, 3 on each sheet
    f = _xlsx(cfg, rs, tmp_path / "units.xlsx", sheets_by_unit=True)
    wb = openpyxl.load_workbook(f)
    for ws in wb.worksheets:
        ws.title = names[ws.title]
    legend = wb.create_sheet("Hướng dẫn", 0)
    legend.append(["Mã phiếu", "Điều tra viên", "Ngày phỏng vấn", "C1_1"])
    legend.append(["số thứ tự", "mã ĐTV", "dd/mm/yyyy", "1-5, 98, 99"])
    wb.save(f)
    res = intake(root, f)
    assert res.rows_read == 9 and res.quarantined == 0
    assert sorted(res.responses["respondent_id"])[:3] == ["so-tnmt-1", "so-tnmt-2", "so-tnmt-3"]
    text = res.summary()
    assert "restart on every sheet" in text and "Hướng dẫn" in text


def test_cmnd_and_cccd_columns_are_both_dropped(cfg, root, tmp_path):
    rs = rows(cfg)
    cols = samples.headers(cfg) + [("id2", "CMND")]
    for r in rs:
        r["id2"] = "123456789"
    f = tmp_path / "two_ids.csv"
    import csv
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([h for _, h in cols])
        for r in rs:
            w.writerow([r.get(i, "") for i, _ in cols])
    res = intake(root, f)
    assert res.quarantined == 0 and "CMND" in res.summary()
    assert "123456789" not in res.responses.to_csv()


def test_header_variants_and_a_late_header_row(cfg, root, tmp_path):
    rs = rows(cfg)
    hm = {"unit_id": "Tên đơn vị", "interview_date": "Ngày khảo sát", "c1_1": "Câu 1.1", "c2_3": "Câu 2.3"}
    data = samples.to_csv(cfg, rs, header_map=hm, bom=False).decode("utf-8")
    f = tmp_path / "late.csv"
    f.write_text("".join(f"Dòng tiêu đề {i}\r\n" for i in range(40)) + data, encoding="utf-8")
    res = intake(root, f)
    assert res.rows_read == 8 and res.quarantined == 0
    assert res.responses["source_row"].min() == 42


def test_tcvn3_text_in_a_workbook_is_named(cfg, root, tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("bc", CORPUS / "build_corpus.py")
    bc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bc)
    f = _xlsx(cfg, rows(cfg), tmp_path / "tcvn3.xlsx")
    wb = openpyxl.load_workbook(f)
    for row in wb.worksheets[0].iter_rows():
        for c in row:
            if isinstance(c.value, str) and not c.value.isascii():
                c.value = bc.to_tcvn3(c.value).decode("cp1252", errors="replace")
    wb.save(f)
    with pytest.raises(IntakeError, match=r"TCVN3 \(ABC\)"):
        intake(root, f)


def test_one_bad_profile_cell_keeps_the_answers(cfg, root, tmp_path):
    rs = rows(cfg)
    trips = next((v.id for v in cfg.methodology.profile if v.type == "integer"), None)
    assert trips
    rs[2][trips] = "250"
    f = samples.write_csv(cfg, rs, tmp_path / "age.csv")
    res = intake(root, f)
    assert res.quarantined == 0 and res.flags["profile_cleared"] == 1
    row = res.responses.set_index("respondent_id").loc[rs[2]["respondent_id"]]
    assert pd.isna(row[trips]) and row["c1_1"] == int(rs[2]["c1_1"])
    cleared = [r for r in res.report["flagged"] if "profile_cleared" in r["flags"]]
    assert cleared[0]["cleared"][0]["value"] == "250"


# ------------------------------------------------------------ tablets and online forms


def _kobo_export(cfg, rs, path, form: bytes, *, multiple="space", values="xml") -> Path:
    """A KoboToolbox export of ``rs`` as fielded with the generated ``form``: headers with
    group names, XML values (codes) or labels, select_multiple as one column or 0/1s."""
    import csv

    from sipas.intake.xlsform import read_xlsform

    xf = read_xlsform(form)
    by_list: dict[str, dict[str, str]] = {}
    for c in xf["choices"]:
        by_list.setdefault(c["list_name"], {})[str(c["label"])] = str(c["name"])
    head, getters, group = [], [], None
    for q in xf["survey"]:
        t, name = q["type"], q["name"]
        if t == "begin_group":
            group = name
            continue
        if t == "end_group":
            group = None
            continue
        full = f"{group}/{name}" if group else name
        if t.startswith("select_multiple"):
            items = list(by_list[name].values())
            if multiple == "space":
                head.append(full)
                getters.append(lambda r, items=items: " ".join(i for i in items if r.get(i)))
            else:
                for i in items:
                    head.append(f"{full}/{i}")
                    getters.append(lambda r, i=i: "1" if r.get(i) else "0")
            continue
        lst = by_list.get(t.split()[1]) if t.startswith("select_one") else None

        def get(r, name=name, lst=lst):
            v = r.get(name)
            if lst and values == "xml" and v not in (None, ""):
                return lst.get(str(v), v)
            return v
        head.append(full)
        getters.append(get)
    head += ["_id", "_uuid", "_submission_time", "_index", "_submitted_by"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for k, r in enumerate(rs, start=1):
            w.writerow([g(r) for g in getters] + [1000 + k, f"uuid-{k:04d}", "2023-08-20T09:00:00", k, "dtv_kobo"])
    return path


@pytest.mark.parametrize("multiple,values", [("space", "xml"), ("columns", "labels")])
def test_xlsform_round_trip_through_a_kobo_export(cfg, root, tmp_path, multiple, values):
    from sipas.intake.channels import xlsform_bytes

    form = xlsform_bytes(cfg.methodology, cfg.fields, cfg.units)
    rs = rows(cfg, n=5)
    for r in rs:
        r["unit_id"] = cfg.registry.unit(next(u.id for u in cfg.units if u.name == r["unit_id"])).id
    kobo = _kobo_export(cfg, rs, tmp_path / "kobo.csv", form, multiple=multiple, values=values)
    paper = samples.write_csv(cfg, rs, tmp_path / "paper.csv")
    a = intake(root, kobo, write=False)
    b = intake(root, paper, write=False)
    assert a.quarantined == b.quarantined == 0
    drop = ["source_file", "source_row", "flags"]
    pd.testing.assert_frame_equal(a.responses.drop(columns=drop), b.responses.drop(columns=drop))
    assert a.files[0]["mode"] == "tablet" and b.files[0]["mode"] == "paper"
    assert a.report["collection_modes"] == {"tablet": 1}
    assert {u["collection_mode"] for u in a.units if u["accepted"]} == {"tablet"}


def test_kobo_export_without_id_date_interviewer_uses_its_meta_columns(cfg, root, tmp_path):
    from sipas.intake.channels import xlsform_bytes

    form = xlsform_bytes(cfg.methodology, cfg.fields, None)
    rs = rows(cfg)
    for r in rs:
        r.pop("respondent_id"), r.pop("interviewer"), r.pop("interview_date")
    f = _kobo_export(cfg, rs, tmp_path / "meta.csv", form)
    res = intake(root, f, write=False)
    assert res.quarantined == 0
    assert sorted(res.responses["respondent_id"])[0] == "uuid-0001"
    assert set(res.responses["interviewer"]) == {"dtv_kobo"}
    assert set(res.responses["interview_date"].astype(str)) == {"2023-08-20"}


def test_xlsform_cli_writes_a_form(root, monkeypatch, capsys):
    from sipas.cli import main
    from sipas.intake.xlsform import read_xlsform

    monkeypatch.setenv("SIPAS_ROOT", str(root))
    monkeypatch.chdir(root)
    out = root / "form.xlsx"
    try:
        main(["xlsform", "--method", "sipas-2017", "--output", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    xf = read_xlsform(out.read_bytes())
    names = [q["name"] for q in xf["survey"]]
    assert "c1_1" in names and "interview_date" in names
    assert {c["list_name"] for c in xf["choices"]} >= {"scale_" + k for k in load_year(YEAR, REPO).methodology.scales}


def test_google_forms_csv_export(cfg, root, tmp_path):
    import csv

    rs = rows(cfg)
    m = cfg.methodology
    cols = [("unit_id", "Đơn vị"), ("commune", "Xã, phường, thị trấn")] + [(v.id, v.label) for v in m.profile] + [(c.id, c.label) for c in m.criteria]
    scale = {c.id: {str(x.code): x.label for x in (*m.scale_of(c).values, *m.scale_of(c).missing)} for c in m.criteria}
    f = tmp_path / "google.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Dấu thời gian", "Địa chỉ email"] + [h for _, h in cols])
        for k, r in enumerate(rs):
            stamp = f"2023/09/{10 + k:02d} 10:22:33 SA GMT+7"
            w.writerow([stamp, f"a{k}@gmail.com"] + [scale.get(i, {}).get(r.get(i), r.get(i)) for i, _ in cols])
    res = intake(root, f, write=False)
    assert res.rows_read == 8 and res.quarantined == 0, res.quarantine[["reason", "column", "value", "detail"]].to_dict("records")
    assert res.files[0]["mode"] == "online"
    assert sorted(res.responses["interview_date"].astype(str))[0] == "2023-09-10"
    assert "gmail" not in res.responses.to_csv()


def test_response_rate_where_the_registry_gives_forms_sent(cfg, root, tmp_path):
    units = yaml.safe_load((root / "params/units/2023.yaml").read_text(encoding="utf-8"))
    for u in units["units"]:
        if u["id"] == "so-tu-phap":
            u["sent"] = 10
    (root / "params/units/2023.yaml").write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    res = intake(root, samples.write_csv(cfg, rows(cfg), tmp_path / "r.csv"))
    u = next(u for u in res.units if u["unit_id"] == "so-tu-phap")
    assert u["response_rate"] == 0.4 and u["collection_mode"] == "paper"
    html = (root / "outputs/2023/quality.html").read_text("utf-8")
    assert "Tỷ lệ phản hồi" in html and "40,0" in html or "40.0" in html
