"""A province's own XLSForm read to map a KoboToolbox/ODK export whose question and
choice names are not the codebook's (issue 12): ``--xlsform`` or the form found next to
the export in ``data/raw/<year>/``."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sipas.base.codebook import load_year
from sipas.intake import IntakeError, run_intake, samples
from sipas.intake.channels import xlsform_bytes

REPO = Path(__file__).resolve().parents[1]
YEAR = 2023
UNITS = ["tam-duong", "so-tu-phap"]
DROP = ["source_file", "source_row", "flags"]


@pytest.fixture(scope="module")
def cfg():
    return load_year(YEAR, REPO)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "proj"
    shutil.copytree(REPO / "params", r / "params")
    return r


def province_form(cfg, path: Path) -> Path:
    """The generated form as a province would edit it: every question renamed
    (``cau_07``), groups renamed, scale choices renamed with the order reversed
    (``a`` = the highest code), gender ``m``/``f``, expectation choices ``md1``...;
    the labels (question and answer texts) are kept."""
    wb = openpyxl.load_workbook(io.BytesIO(xlsform_bytes(cfg.methodology, cfg.fields, cfg.units)))
    survey, choices = wb["survey"], wb["choices"]
    k = 0
    for row in survey.iter_rows(min_row=2):
        t, name = row[0].value, row[1]
        if t == "begin_group":
            name.value = f"nhom_{name.value[4:]}"
        elif t and t != "end_group":
            k += 1
            name.value = f"cau_{k:02d}"
            if t.startswith("select_multiple"):
                row[0].value = "select_multiple mong_doi"
    by_list: dict[str, list] = {}
    for row in choices.iter_rows(min_row=2):
        by_list.setdefault(row[0].value, []).append(row)
    for lst, rows in by_list.items():
        if lst.startswith("scale_"):
            valid = sorted((r for r in rows if int(r[1].value) < 9), key=lambda r: -int(r[1].value))
            for letter, r in zip("abcdefg", valid):
                r[1].value = letter
            for r in rows:
                if str(r[1].value).isdigit():
                    r[1].value = f"kb{r[1].value}"
        elif lst == "gender":
            for r in rows:
                r[1].value = {"nam": "m", "nu": "f"}[r[1].value]
        elif lst == "expectations":
            for j, r in enumerate(rows, start=1):
                r[0].value = "mong_doi"
                r[1].value = f"md{j}"
    wb.save(path)
    return path


def export(cfg, rs, form: Path, path: Path, *, multiple="space") -> Path:
    """A KoboToolbox export of ``rs`` fielded with ``form``: group paths, choice names."""
    wb = openpyxl.load_workbook(form)
    lists: dict[str, dict[str, str]] = {}
    for lst, name, label in wb["choices"].iter_rows(min_row=2, values_only=True):
        lists.setdefault(lst, {})[str(label)] = str(name)
    method = cfg.methodology
    code_label = {str(c.code): c.label for s in method.scales.values() for c in (*s.values, *s.missing)}
    head, cols, group = [], [], None
    qids = {}
    for t, name, *_ in wb["survey"].iter_rows(min_row=2, values_only=True):
        if t == "begin_group":
            group = name
        elif t == "end_group":
            group = None
        else:
            qids[name] = (t, f"{group}/{name}" if group else name)
    # the survey order is the generated one: admin, profile, criteria, perceptions, multiple, comment
    gen = [q for q in openpyxl.load_workbook(io.BytesIO(xlsform_bytes(method, cfg.fields, cfg.units)))["survey"]
           .iter_rows(min_row=2, values_only=True) if q[0] not in ("begin_group", "end_group")]
    for (gt, gname, *_), (name, (t, full)) in zip(gen, qids.items()):
        lst = lists.get(t.split()[1]) if " " in t else None
        if t.startswith("select_multiple"):
            names = list(lst.values())
            items = [it.id for it in method.expectations.items]
            if multiple == "space":
                head.append(full)
                cols.append(lambda r, names=names, items=items: " ".join(
                    n for n, it in zip(names, items) if r.get(it)))
            else:
                for n, it in zip(names, items):
                    head.append(f"{full}/{n}")
                    cols.append(lambda r, it=it: "1" if r.get(it) else "0")
            continue

        def get(r, gname=gname, lst=lst):
            v = r.get(gname)
            if gname == "unit_id":
                return lst[v] if v in lst else v
            if lst and v not in (None, ""):
                return lst.get(code_label.get(str(v), str(v)), v)
            return v
        head.append(full)
        cols.append(get)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head + ["_id", "_uuid", "_submission_time", "_index"])
    for n, r in enumerate(rs, start=1):
        w.writerow([g(r) for g in cols] + [n, f"uuid-{n}", "2023-08-20T09:00:00", n])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("multiple", ["space", "columns"])
def test_a_province_form_maps_its_own_names_back_to_the_codebook(cfg, root, tmp_path, multiple):
    rs = samples.sample_rows(cfg, per_unit=4, units=UNITS, seed=3)
    form = province_form(cfg, tmp_path / "bieu_mau.xlsx")
    kobo = export(cfg, rs, form, tmp_path / "kobo.csv", multiple=multiple)
    assert "cau_" in kobo.read_text(encoding="utf-8").splitlines()[0]
    paper = samples.write_csv(cfg, rs, tmp_path / "paper.csv")
    a = run_intake(YEAR, [str(kobo)], root=root, write=False, xlsform=form)
    b = run_intake(YEAR, [str(paper)], root=root, write=False)
    assert a.rows_read == a.accepted == len(rs) and a.quarantined == 0
    pd.testing.assert_frame_equal(a.responses.drop(columns=DROP), b.responses.drop(columns=DROP))
    # the reversed letters gave the codebook's codes, not the letters' positions
    assert sorted(a.responses["c1_1"].dropna().unique()) == sorted(b.responses["c1_1"].dropna().unique())
    assert any("bieu_mau.xlsx: XLSForm used" in w for w in a.warnings)
    assert any("named through the form" in n for n in a.files[0]["notes"])


def test_without_the_form_the_export_is_not_read(cfg, root, tmp_path):
    rs = samples.sample_rows(cfg, per_unit=2, units=UNITS, seed=3)
    kobo = export(cfg, rs, province_form(cfg, tmp_path / "f.xlsx"), tmp_path / "kobo.csv")
    with pytest.raises(IntakeError, match="required columns missing"):
        run_intake(YEAR, [str(kobo)], root=root, write=False)


def test_the_form_next_to_the_export_is_found_and_not_read_as_data(cfg, root, tmp_path):
    raw = root / "data/raw" / str(YEAR)
    raw.mkdir(parents=True)
    rs = samples.sample_rows(cfg, per_unit=3, units=UNITS, seed=4)
    form = province_form(cfg, raw / "bieu_mau.xlsx")
    export(cfg, rs, form, raw / "kobo.csv")
    res = run_intake(YEAR, root=root)
    assert [f["file"] for f in res.files] == ["kobo.csv"]
    assert res.rows_read == res.accepted == len(rs)
    assert any("bieu_mau.xlsx: XLSForm used" in w for w in res.warnings)
    assert any("XLSForm used" in w for w in res.report["warnings"])
    shutil.copy(form, raw / "second_form.xlsx")
    with pytest.raises(IntakeError, match="two XLSForms"):
        run_intake(YEAR, root=root, write=False)


def test_paper_file_beside_a_form_keeps_the_codebook_codes(cfg, root, tmp_path):
    """The form's reversed letters must not touch a paper file's codes 1-5."""
    rs = samples.sample_rows(cfg, per_unit=3, units=UNITS, seed=6)
    form = province_form(cfg, tmp_path / "f.xlsx")
    paper = samples.write_csv(cfg, rs, tmp_path / "paper.csv")
    a = run_intake(YEAR, [str(paper)], root=root, write=False, xlsform=form)
    b = run_intake(YEAR, [str(paper)], root=root, write=False)
    pd.testing.assert_frame_equal(a.responses, b.responses)


def test_cli_xlsform_option_and_a_missing_form(cfg, root, tmp_path, monkeypatch, capsys):
    from sipas.cli import main

    monkeypatch.setenv("SIPAS_ROOT", str(root))
    monkeypatch.chdir(root)
    rs = samples.sample_rows(cfg, per_unit=2, units=UNITS, seed=3)
    form = province_form(cfg, tmp_path / "f.xlsx")
    kobo = export(cfg, rs, form, tmp_path / "kobo.csv")
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--year", str(YEAR), "--input", str(kobo), "--xlsform", str(tmp_path / "nope.xlsx")])
    assert exc.value.code == 2 and "XLSForm not found" in capsys.readouterr().err
    try:
        main(["validate", "--year", str(YEAR), "--input", str(kobo), "--xlsform", str(form)])
    except SystemExit as e:
        assert e.code in (0, None)
    assert f"read {len(rs)}, accepted {len(rs)}" in capsys.readouterr().out
