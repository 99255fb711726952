"""End to end through the command line on the demo project: tables, annexes, front doors."""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata

import numpy as np
import pandas as pd
import pytest

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import paths

from .demo_project import copy_project, sipas

UNITS = ("so-tu-phap", "tam-duong")


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def ran(demo):
    proc = sipas(demo, "run", "--year", "2023", *[a for u in UNITS for a in ("--unit", u)], "--jobs", "2")
    return demo, proc


def test_run_writes_annexes_and_front_doors(ran):
    root, proc = ran
    out = root / "outputs" / "2023"
    for u in UNITS:
        assert (out / "units" / f"{u}.html").is_file()
    assert (out / "province.html").is_file()
    assert (out / "index.html").is_file()
    assert (root / "outputs" / "index.html").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    for u in UNITS:
        assert f'href="units/{u}.html"' in index
    assert "3 annexes written, 0 failed" in proc.stderr


def test_annex_html_has_no_code_and_vietnamese_figures(ran):
    root, _ = ran
    cfg = YearConfig(2023, paths(root))
    indices = pd.read_csv(root / "outputs" / "2023" / "tables" / "indices.csv")
    for u in UNITS:
        text = (root / "outputs" / "2023" / "units" / f"{u}.html").read_text(encoding="utf-8")
        name = cfg.registry.unit(u).name
        assert unicodedata.normalize("NFC", name) in text and unicodedata.is_normalized("NFC", text)
        value = indices[(indices.unit_id == u) & (indices.item_id == "sipas")].estimate.iloc[0]
        assert fmt.pct(value) in text and re.search(r"\d+,\d\d%", text)
        # no code: neither inputs nor the library calls that produce the outputs
        assert "show_md(" not in text and "import " not in text and "input_area" not in text
        # self-contained: nothing loaded from elsewhere
        assert "<script" not in text and not re.search(r"""(src|href)=["']https?:""", text)
        assert text.count("data:image/png;base64") >= 2


def test_indices_equal_independent_recomputation(demo):
    """Recompute every unit's indices from the processed microdata with plain pandas."""
    cfg = YearConfig(2023, paths(demo))
    df = pd.read_parquet(demo / "data" / "processed" / "2023" / "responses.parquet")
    table = pd.read_csv(demo / "outputs" / "2023" / "tables" / "indices.csv")
    method = cfg.methodology
    got = table.set_index(["unit_id", "item_id"])["estimate"]
    unit_sipas = {}
    for unit_id, g in df.groupby("unit_id"):
        elements = []
        for e in method.elements:
            crits = []
            for c in e.criteria:
                answers = g[c.id].dropna().astype(int)
                valid = answers[answers.between(1, 5)]
                share = (valid >= 4).mean()
                assert got[(unit_id, c.id)] == pytest.approx(share, abs=1e-9), (unit_id, c.id)
                crits.append(share)
            elements.append(np.mean(crits))
            assert got[(unit_id, e.id)] == pytest.approx(elements[-1], abs=1e-9), (unit_id, e.id)
        unit_sipas[unit_id] = np.mean(elements)
        assert got[(unit_id, "sipas")] == pytest.approx(unit_sipas[unit_id], abs=1e-9), unit_id
    assert len(unit_sipas) == len(cfg.units)
    # province by the default option, the unweighted mean of the units
    assert cfg.settings.province_aggregation == "unit_mean"
    assert got[("province", "sipas")] == pytest.approx(np.mean(list(unit_sipas.values())), abs=1e-9)


def test_rerun_is_byte_identical(demo, tmp_path):
    """demo data, intake and tables twice: the same bytes."""
    other = copy_project(tmp_path / "again")
    for step in (("demo-data",), ("validate",), ("estimate",)):
        sipas(other, *step, "--year", "2023")
    for rel in ("data/processed/2023/responses.parquet", "outputs/2023/tables/indices.csv",
                "outputs/2023/tables/indices.parquet", "outputs/2023/tables/sample.csv"):
        assert sha(demo / rel) == sha(other / rel), rel


def test_failing_unit_does_not_stop_the_others(demo, tmp_path):
    root = copy_project(tmp_path / "broken")
    for sub in ("data", "outputs"):
        shutil.copytree(demo / sub, root / sub, dirs_exist_ok=True)
    nb = root / "notebooks" / "unit_annex.ipynb"
    text = nb.read_text(encoding="utf-8")
    text = text.replace('"unit = rep.unit(unit_id)', '"assert unit_id != \\"tam-duong\\", \\"hỏng có chủ ý\\"\\n",\n    "unit = rep.unit(unit_id)', 1)
    nb.write_text(text, encoding="utf-8")
    shutil.rmtree(root / "outputs" / "2023" / "units", ignore_errors=True)
    proc = sipas(root, "run", "--year", "2023", "--unit", "so-tu-phap", "--unit", "tam-duong", check=False)
    assert proc.returncode == 1
    assert "FAILED" in proc.stderr and "tam-duong" in proc.stderr and "hỏng có chủ ý" in proc.stderr
    assert (root / "outputs" / "2023" / "units" / "so-tu-phap.html").is_file()
    assert not (root / "outputs" / "2023" / "units" / "tam-duong.html").exists()
    assert "Traceback" not in proc.stderr


def test_unknown_unit_is_a_clear_error(demo):
    proc = sipas(demo, "run", "--year", "2023", "--unit", "so-khong-co", check=False)
    assert proc.returncode == 2
    assert "so-khong-co" in proc.stderr and "known ids" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_year_is_a_clear_error(demo):
    proc = sipas(demo, "run", "--year", "1999", check=False)
    assert proc.returncode == 2 and "no unit registry for year 1999" in proc.stderr
    assert "Traceback" not in proc.stderr
