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

from .annex_project import annex_tasks, assert_warm_annex_is_fresh

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
    from sipas.publishing import data, report

    yield
    data._load.cache_clear()
    report._SHARED.clear()


@pytest.mark.parametrize("code", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_change_to_a_reports_frames_reaches_no_later_report(demo, code):
    from sipas.publishing import report

    ranking = Report(2023, demo).ranking("department")
    report._SHARED.clear()  # the first ranking after the change is computed afresh
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
    from sipas.running import kernel as kernels
    from sipas.running.executor import run_task

    task = annex_tasks(demo, 2023, ["so-tu-phap", "tam-duong"])
    edited = nbformat.read(task("so-tu-phap", tmp_path).notebook, as_version=4)
    cell = nbformat.v4.new_code_cell(ANALYST_CELL)
    del cell["id"]  # the notebook's format (4.4) has no cell ids
    edited.cells.append(cell)
    nbformat.write(edited, str(tmp_path / "edited.ipynb"))

    kernels.drop_kernel()
    res = run_task(task("so-tu-phap", tmp_path / "warm", str(tmp_path / "edited.ipynb")))
    assert res.ok, res.error
    executed = json.loads((tmp_path / "warm" / "so-tu-phap.ipynb").read_text(encoding="utf-8"))
    last = executed["cells"][-1]
    assert "".join(last["source"]) == ANALYST_CELL and last["execution_count"]  # the analyst's cell ran
    assert_warm_annex_is_fresh(task, "tam-duong", tmp_path)


def test_the_tests_built_once_per_process_follow_a_reports_own_test_table(demo):
    """The test table as the pages use it is built once per process and tables read;
    a report whose test table was changed (in place or replaced) reads its own, and the
    next report the table as read."""
    first = Report(2023, demo)
    kind, scope, item = first.tests.loc[0, ["kind", "unit_id", "item_id"]]
    before = first.test(kind, scope, item)
    assert before is not None
    changed = Report(2023, demo)
    changed.tables["tests"]["significant"] = ~changed.tables["tests"]["significant"]
    assert changed.test(kind, scope, item)["significant"] == (not before["significant"])
    replaced = Report(2023, demo)
    replaced._tests_raw = replaced._tests_raw.iloc[::-1].reset_index(drop=True)
    assert replaced.test(kind, scope, item) == before
    assert replaced.tests.loc[len(replaced.tests) - 1, "unit_id"] == scope
    handed = Report(2023, demo)
    handed.tests.sort_values("unit_id", ascending=False, inplace=True, kind="mergesort")
    assert handed.test(kind, scope, item) == before
    assert Report(2023, demo).test(kind, scope, item) == before
    assert Report(2023, demo).tests.loc[0, "unit_id"] == scope


def test_a_replaced_frame_is_what_its_report_shows(demo):
    # the figures a report shares with the others of its kernel (lookups, rankings, criteria)
    # are computed from its own frame once a cell replaced it, for that report only
    rep = Report(2023, demo)
    unit = rep.cfg.units[0]
    before = rep.value(unit.id), rep.criteria(unit.id).estimate.tolist(), rep.ranking(unit.type).sipas.tolist()
    rep.indices = rep.indices.assign(estimate=0.5)
    assert rep.value(unit.id) == 0.5
    assert set(rep.criteria(unit.id).estimate) == {0.5}
    assert set(rep.ranking(unit.type).sipas) == {0.5}
    later = Report(2023, demo)
    assert (later.value(unit.id), later.criteria(unit.id).estimate.tolist(),
            later.ranking(unit.type).sipas.tolist()) == before
    assert 0.5 not in before[1]
