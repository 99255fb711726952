"""A published demo year for the annex tests: 2022 and 2023 tables, a comment carrying
markup and personal data, and the pages rendered the one way pages are rendered (the
notebooks executed in a warm kernel by :func:`sipas.running.executor.run_task`, then
:func:`sipas.publishing.render.notebook_html`), built once per test session on a copy
of the session's demo project."""

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


def render_annexes(root: Path, year: int, names: list[str], notebook: Path | None = None) -> None:
    """Execute and render annexes of ``year`` (unit ids and/or "province") as ``sipas run``
    does; ``notebook`` replaces the unit notebook (an analyst's edited copy)."""
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.publishing.render import annex_chrome
    from sipas.running.executor import AnnexTask, run_task
    from sipas.running.plan import PROVINCE_TASK, plan

    cfg = YearConfig(year, paths(root))
    for a in plan(cfg, [n for n in names if n != PROVINCE_TASK]):
        if a.name not in names:
            continue
        nb = notebook if notebook is not None and a.name != PROVINCE_TASK else a.notebook
        a.executed.parent.mkdir(parents=True, exist_ok=True)
        res = run_task(AnnexTask(year=year, name=a.name, notebook=str(nb), parameters=dict(a.parameters),
                                 html=str(a.html), executed=str(a.executed),
                                 log=str(cfg.paths.outputs(year) / "logs" / f"{a.name}.log"), title=a.title,
                                 **annex_chrome(cfg.settings.province, year, a.name == PROVINCE_TASK)))
        assert res.ok, res.error


def _render(root: Path) -> None:
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.base.io import write_text
    from sipas.publishing.site import write_index, write_site_index

    p = paths(root)
    out = p.outputs(2023)
    render_annexes(root, 2023, ["province", UNIT, DISTRICT])
    write_text(out / "manifest.json", '{"year": 2023}\n')
    for year in (2022, 2023):  # 2022: the front door only (the site index lists both years)
        write_index(YearConfig(year, p))
    write_site_index(p)


def annex_tasks(demo: Path, year: int, names: list[str]):
    """``task(name, where, notebook=None)``: the driver's task for annex ``name`` of
    ``demo`` (``names`` planned, the province report with them), writing its files under
    ``where`` and optionally executing another notebook; for tests that run annexes in
    this process's kernel (:func:`sipas.running.executor.run_task`)."""
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.running.cache import source_hash, versions
    from sipas.running.executor import AnnexTask
    from sipas.running.plan import plan
    from sipas.running.year import YearJob

    cfg = YearConfig(year, paths(demo))
    annexes = {a.name: a for a in plan(cfg, names)}
    job = YearJob(cfg, list(annexes.values()), ("html",), False, source_hash(), versions(), 120)

    def task(name: str, where: Path, notebook: str | None = None):
        t = job.task(annexes[name], ("html",))
        return AnnexTask(**{**t.__dict__, "html": str(where / f"{name}.html"), "notebook": notebook or t.notebook,
                            "executed": str(where / f"{name}.ipynb"), "log": str(where / f"{name}.log")})

    return task


def assert_warm_annex_is_fresh(task, name: str, tmp_path: Path) -> None:
    """Annex ``name`` run in the current (warm) kernel, then in a brand-new one: the same
    HTML and executed notebook, byte for byte."""
    from sipas.running import kernel as kernels
    from sipas.running.executor import run_task

    for where in ("warm", "fresh"):
        res = run_task(task(name, tmp_path / where))
        assert res.ok, res.error
        kernels.drop_kernel()  # the next run starts a brand-new kernel
    for suffix in (".html", ".ipynb"):
        warm_bytes = (tmp_path / "warm" / f"{name}{suffix}").read_bytes()
        assert warm_bytes == (tmp_path / "fresh" / f"{name}{suffix}").read_bytes(), suffix
