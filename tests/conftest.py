"""Shared fixtures: a tiny project whose every number can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]

TINY_METHOD = """
id: tiny
title: "Bộ câu hỏi thử nghiệm"
short_title: "Thử nghiệm"
index_label: "Chỉ số hài lòng"
scales:
  s5:
    label: "5 mức"
    values:
      - {code: 1, label: "Rất không hài lòng"}
      - {code: 2, label: "Không hài lòng"}
      - {code: 3, label: "Bình thường"}
      - {code: 4, label: "Hài lòng"}
      - {code: 5, label: "Rất hài lòng"}
    positive: [4, 5]
    negative: [1, 2]
    missing:
      - {code: 98, label: "Không biết"}
      - {code: 99, label: "Không áp dụng"}
default_scale: s5
elements:
  - id: e1
    label: "Tiếp cận"
    criteria:
      - {id: c1_1, label: "Tiêu chí một"}
      - {id: c1_2, label: "Tiêu chí hai"}
  - id: e2
    label: "Góp ý"
    criteria:
      - {id: c2_1, label: "Tiêu chí ba"}
profile:
  - id: gender
    label: "Giới tính"
    categories:
      - {code: nam, label: "Nam"}
      - {code: nu, label: "Nữ"}
expectations:
  label: "Mong đợi"
  items:
    - {id: exp_1, label: "Rút ngắn thời gian"}
comment: {id: comment, label: "Ý kiến khác"}
"""

TINY_UNITS = """
year: 2023
methodology: tiny
survey_period: {start: 2023-08-01, end: 2023-10-31}
design:
  psu: {district: commune, department: respondent_id}
unit_types:
  - {id: department, label: "Sở", label_plural: "Các sở"}
  - {id: district, label: "Huyện", label_plural: "Các huyện"}
units:
  - {id: d1, name: "Huyện Một", type: district, served: 100, communes: ["Xã A", "Xã B"]}
  - {id: s1, name: "Sở Một", type: department, served: 30}
"""


def make_tiny_root(root: Path) -> Path:
    (root / "params" / "methodology").mkdir(parents=True)
    (root / "params" / "units").mkdir(parents=True)
    (root / "params" / "methodology" / "tiny.yaml").write_text(TINY_METHOD, encoding="utf-8")
    (root / "params" / "units" / "2023.yaml").write_text(TINY_UNITS, encoding="utf-8")
    (root / "params" / "settings.yaml").write_text('province: "Thử"\n', encoding="utf-8")
    (root / "params" / "fields.yaml").write_text(
        (REPO / "params" / "fields.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return root


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return make_tiny_root(tmp_path / "tiny")


def tiny_responses() -> pd.DataFrame:
    """Seven questionnaires; d1 weight 100/4 = 25, s1 weight 30/3 = 10."""
    na = pd.NA
    rows = [
        # id,  unit, c1_1, c1_2, c2_1, weight
        ("r1", "d1", 5, 4, 3, 25.0),
        ("r2", "d1", 3, 98, 99, 25.0),
        ("r3", "d1", 4, 2, 5, 25.0),
        ("r4", "d1", na, 5, 1, 25.0),
        ("r5", "s1", 5, 5, 5, 10.0),
        ("r6", "s1", 1, 4, 99, 10.0),
        ("r7", "s1", 4, 3, 98, 10.0),
    ]
    df = pd.DataFrame(rows, columns=["respondent_id", "unit_id", "c1_1", "c1_2", "c2_1", "weight"])
    for c in ("c1_1", "c1_2", "c2_1"):
        df[c] = df[c].astype("Int16")
    df["unit_type"] = df["unit_id"].map({"d1": "district", "s1": "department"})
    return df


# ------------------------------------------------------------ demo project

from . import demo_project  # noqa: E402


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """Root of a project copy with demo 2023 data, processed data and tables, built
    once per session through the command line."""
    return demo_project.build(tmp_path_factory.mktemp("demo") / "project")


# Test modules whose tests start Jupyter kernels, Dask clusters or a browser: marked
# ``slow`` (they still run in ``make test``; ``make test-fast`` leaves them out). A new
# test of that kind elsewhere carries ``@pytest.mark.slow`` itself.
SLOW_MODULES = {"test_batch", "test_batch_incremental", "test_browser", "test_dask", "test_end_to_end", "test_faults",
                "test_methods_run", "test_notebooks", "test_pdf"}
SLOW_TESTS = {"test_trends.py::test_batch_trends_step_is_incremental"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        if name in SLOW_MODULES or f"{name}.py::{item.originalname}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
