"""A published demo year for the annex tests: 2022 and 2023 tables, a comment carrying
markup and personal data, and the pages rendered in-process (no kernel), built once per
test session on a copy of the session's demo project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .demo_project import REPO, copy_project

UNIT = "so-tu-phap"
DISTRICT = "tam-duong"
EVIL = ("Giải quyết chậm. Cán bộ rất tốt <script>alert('xss')</script> <img src=x onerror=alert(1)> "
        "gọi tôi 0912 345 678 hoặc an.nguyen@example.vn & cảm ơn")
SCREENSHOTS = REPO / "outputs" / "screenshots"
_BUILT: dict[str, Path] = {}


def published(demo: Path, base: Path) -> Path:
    if "root" in _BUILT:
        return _BUILT["root"]
    root = copy_project(base / "published")
    shutil.copytree(demo / "data", root / "data", dirs_exist_ok=True)
    shutil.copytree(demo / "outputs" / "2023" / "tables", root / "outputs" / "2023" / "tables", dirs_exist_ok=True)
    if (demo / "outputs" / "2023" / "quality.html").is_file():
        shutil.copy2(demo / "outputs" / "2023" / "quality.html", root / "outputs" / "2023" / "quality.html")
    from sipas.base.config import paths
    from sipas.demo import write_demo_data
    from sipas.estimation.tables import write_tables
    from sipas.intake import run_intake

    p = paths(root)  # in-process (the CLI path is tested elsewhere): saves interpreter starts
    write_demo_data(2022, paths=p)
    run_intake(2022, paths=p)
    write_tables(2022, p)
    # a citizen's comment with markup and personal data, first in the unit's order
    resp = root / "data" / "processed" / "2023" / "responses.parquet"
    df = pd.read_parquet(resp)
    first = df[df.unit_id == UNIT].sort_values("respondent_id").index[0]  # quoted first (theme "thời gian")
    df.loc[first, "comment"] = EVIL
    df.to_parquet(resp, index=False)
    write_tables(2023, p)
    _render(root)
    _BUILT["root"] = root
    return root


def _render(root: Path) -> None:
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.base.io import write_text
    from sipas.publishing import charts
    from sipas.publishing.annex import province_page, unit_page
    from sipas.publishing.report import Report
    from sipas.publishing.site import write_index, write_site_index

    charts.set_theme()
    p = paths(root)
    rep = Report(2023, root)
    out = p.outputs(2023)
    for u in (UNIT, DISTRICT):
        write_text(out / "units" / f"{u}.html", unit_page(rep, u))
    write_text(out / "province.html", province_page(rep))
    write_text(out / "manifest.json", '{"year": 2023}\n')
    for year in (2022, 2023):  # 2022: the front door only (the site index lists both years)
        write_index(YearConfig(year, p))
    write_site_index(p)
