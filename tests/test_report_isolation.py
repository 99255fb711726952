"""A report's tables are its own: the tables read once per process
(:func:`sipas.publishing.data.load_year_data`) are never handed out, so a notebook cell
that changes a frame the report gave it (assigns a column, sorts or drops in place,
writes values) changes nothing for the next annex rendered by the same process or warm
kernel."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from sipas.publishing.data import TABLE_NAMES, read_published
from sipas.publishing.report import Report, displayed

# what an analyst's cell may do to the frames a report hands out
MUTATIONS = {
    "assign a column": "rep.indices['unit_name'] = rep.indices['unit_name'].str.upper()",
    "write values": "rep.sample.loc[:, 'achieved'] = 0",
    "sort in place": "rep.profile.sort_values('share', inplace=True)",
    "drop rows in place": "rep.expectations.drop(rep.expectations.index[::2], inplace=True)",
    "drop a column in place": "rep.perceptions.drop(columns='share', inplace=True)",
    "write one value": "rep.groups.iat[0, rep.groups.columns.get_loc('n')] = -1",
    "replace a table": "rep.tables['ranks'] = rep.tables['ranks'].iloc[:0]",
    "change a table of the dict": "rep.tables['indices'].drop(rep.tables['indices'].index, inplace=True)",
    "clear the quoted comments": "rep.responses.drop(rep.responses.index, inplace=True)",
    "change the tests": "rep.tables['tests']['significant'] = ~rep.tables['tests']['significant']",
    "change a ranking": "rep.ranking('department').sort_values('unit_id', inplace=True)",
    "rank after a change": "rep.indices['estimate'] = 1 - rep.indices['estimate']\nrep.ranking('department')",
}


def _pristine(root, year: int) -> dict[str, pd.DataFrame]:
    from sipas.base.config import paths

    p = paths(root)
    out = {name: read_published(p, year, name) for name in TABLE_NAMES}
    out["responses"] = pd.read_parquet(p.responses(year), columns=["respondent_id", "unit_id", "comment"])
    return out


def _seen(rep: Report) -> dict[str, pd.DataFrame]:
    seen = dict(rep.tables)
    seen["responses"] = rep.responses
    return seen


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts and ends with nothing cached (a leak must not reach other tests)."""
    from sipas.publishing import data, rankings

    yield
    data._load.cache_clear()
    rankings._RANKINGS.clear()


@pytest.mark.parametrize("code", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_change_to_a_reports_frames_reaches_no_later_report(demo, code):
    from sipas.publishing import rankings

    ranking = Report(2023, demo).ranking("department")
    rankings._RANKINGS.clear()  # the first ranking after the change is computed afresh
    first = Report(2023, demo)
    exec(code, {"rep": first})
    later = Report(2023, demo)
    pristine = _pristine(demo, 2023)
    for name, frame in _seen(later).items():
        pd.testing.assert_frame_equal(frame, pristine[name], obj=name)
    pd.testing.assert_frame_equal(later.indices, displayed(pristine["indices"]))
    pd.testing.assert_frame_equal(later.ranking("department"), ranking)


def test_the_cached_arrays_cannot_be_written_through_numpy(demo):
    rep = Report(2023, demo)
    with pytest.raises(ValueError, match="read-only"):
        rep.indices["estimate"].to_numpy()[0] = 0.0
    assert Report(2023, demo).indices["estimate"].iloc[0] == rep.indices["estimate"].iloc[0]


# the changes that leave the tables usable: on a shared table the next annex would render, with wrong figures
ANALYST_CELL = "\n".join(MUTATIONS[k] for k in ("assign a column", "write values", "sort in place",
                                                "drop rows in place", "clear the quoted comments"))


@pytest.mark.slow
def test_an_annex_after_one_that_changed_its_tables_is_the_annex_of_a_fresh_kernel(demo, tmp_path):
    """A warm kernel renders a unit annex whose notebook ends with a cell that changes the
    report's tables, then another unit's annex: byte-identical to that annex rendered
    by a brand-new kernel."""
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths
    from sipas.running import kernel as kernels
    from sipas.running.cache import source_hash, versions
    from sipas.running.executor import AnnexTask, run_task
    from sipas.running.plan import plan
    from sipas.running.year import YearJob

    cfg = YearConfig(2023, paths(demo))
    annexes = {a.name: a for a in plan(cfg, ["so-tu-phap", "tam-duong"])}
    job = YearJob(cfg, list(annexes.values()), ("html",), False, source_hash(), versions(), 120)
    edited = nbformat.read(str(annexes["so-tu-phap"].notebook), as_version=4)
    cell = nbformat.v4.new_code_cell(ANALYST_CELL)
    del cell["id"]  # the notebook's format (4.4) has no cell ids
    edited.cells.append(cell)
    nbformat.write(edited, str(tmp_path / "edited.ipynb"))

    def task(name: str, where, notebook: str | None = None):
        t = job.task(annexes[name], ("html",))
        return AnnexTask(**{**t.__dict__, "html": str(where / f"{name}.html"), "notebook": notebook or t.notebook,
                            "executed": str(where / f"{name}.ipynb"), "log": str(where / f"{name}.log")})

    kernels.drop_kernel()
    res = run_task(task("so-tu-phap", tmp_path / "warm", str(tmp_path / "edited.ipynb")))
    assert res.ok, res.error
    executed = json.loads((tmp_path / "warm" / "so-tu-phap.ipynb").read_text(encoding="utf-8"))
    last = executed["cells"][-1]
    assert "".join(last["source"]) == ANALYST_CELL and last["execution_count"]  # the analyst's cell ran
    res = run_task(task("tam-duong", tmp_path / "warm"))
    assert res.ok, res.error
    kernels.drop_kernel()  # a brand-new kernel for the same annex
    res = run_task(task("tam-duong", tmp_path / "fresh"))
    assert res.ok, res.error
    kernels.drop_kernel()
    for suffix in (".html", ".ipynb"):
        warm_bytes = (tmp_path / "warm" / f"tam-duong{suffix}").read_bytes()
        assert warm_bytes == (tmp_path / "fresh" / f"tam-duong{suffix}").read_bytes(), suffix
