"""Incremental runs, the manifest, and interrupted runs, through the command line."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from sipas.base.codebook import YearConfig
from sipas.base.config import paths
from sipas.estimation.tables import write_tables
from sipas.running import cache
from sipas.running.plan import plan
from sipas.running.year import YearJob

from .demo_project import copy_project, sipas

UNITS = ("so-tu-phap", "tam-duong")  # a department and a district


def project(demo: Path, where: Path) -> Path:
    root = copy_project(where)
    shutil.copytree(demo / "data", root / "data", dirs_exist_ok=True)
    shutil.copytree(demo / "outputs" / "2023" / "tables", root / "outputs" / "2023" / "tables", dirs_exist_ok=True)
    return root


def run(root: Path, *args: str, check: bool = True):
    return sipas(root, "run", "--year", "2023", *[a for u in UNITS for a in ("--unit", u)], "--jobs", "1", *args,
                 check=check)


def manifest(root: Path) -> dict:
    return json.loads((root / "outputs" / "2023" / "manifest.json").read_text(encoding="utf-8"))


def rebuilt(root: Path) -> dict[str, str]:
    """What the next run would rebuild and why (decided without executing anything)."""
    cfg = YearConfig(2023, paths(root))
    job = YearJob(cfg, plan(cfg, list(UNITS)), ("html",), False, cache.source_hash(), cache.versions(), 60)
    build, _ = job.todo(False)
    return {a.name: why for a, _, why in build}


def edit_responses(root: Path, fn) -> None:
    path = root / "data" / "processed" / "2023" / "responses.parquet"
    df = pd.read_parquet(path)
    fn(df)
    df.to_parquet(path, index=False)


def shas(root: Path) -> dict[str, str]:
    out = root / "outputs" / "2023"
    return {p.relative_to(out).as_posix(): cache.file_sha(p)
            for p in sorted([*out.glob("units/*.html"), out / "province.html", *out.glob("notebooks/*.ipynb")])}


def test_incremental_runs_rebuild_exactly_what_changed(demo, tmp_path):
    root = project(demo, tmp_path / "p")
    first = run(root)
    assert "3 annexes written, 0 failed" in first.stderr
    m = manifest(root)
    ids = [a["id"] for a in m["artefacts"]]
    assert ids == sorted(ids) == ["annex:province", "annex:so-tu-phap", "annex:tam-duong", "index", "tables"]
    for a in m["artefacts"]:
        assert a["status"] == "ok" and a["key"] == cache.key_of(a["inputs"]) and a["outputs"], a["id"]
        for o in a["outputs"]:
            assert cache.file_sha(root / "outputs" / "2023" / o["path"]) == o["sha256"]
    annex = next(a for a in m["artefacts"] if a["id"] == "annex:tam-duong")
    assert set(annex["inputs"]) == {"code", "libraries", "params", "notebook", "parameters", "tables",
                                    "other_years", "unit_data"}
    assert annex["parameters"] == {"year": 2023, "unit_id": "tam-duong"}
    assert m["versions"]["python"] and m["versions"]["pandas"] and m["sipas"]["source_sha256"] == cache.source_hash()
    assert m["data"]["sha256"] == cache.file_sha(root / "data" / "processed" / "2023" / "responses.parquet")
    # the site's front door is a step too, recorded with the steps across years
    site = json.loads((root / "outputs" / "manifest.json").read_text(encoding="utf-8"))
    assert site["year"] is None and [a["id"] for a in site["artefacts"]] == ["site"]
    assert site["artefacts"][0]["outputs"][0]["path"] == "index.html"
    assert site["artefacts"][0]["outputs"][0]["sha256"] == cache.file_sha(root / "outputs" / "index.html")

    # nothing changed: nothing rebuilt, no worker started
    logs = root / "outputs" / "logs"
    shutil.rmtree(logs)
    again = run(root)
    assert "3 annexes written, 0 failed; 0 steps rebuilt, 6 up to date" in again.stderr
    assert manifest(root)["artefacts"] == m["artefacts"]
    assert not list(logs.glob("worker-*.log"))
    assert manifest(root)["inputs"]["notebooks"] == {
        nb: cache.file_sha(root / "notebooks" / nb) for nb in ("province_report.ipynb", "unit_annex.ipynb")}

    # a manifest that does not say what the last run read (an older sipas) makes the run
    # guess that something changed: the workers are started, then stopped unused
    path = root / "outputs" / "2023" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["inputs"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    guessed = run(root)
    assert "0 failed; 0 steps rebuilt, 6 up to date" in guessed.stderr
    assert list(logs.glob("worker-*.log"))
    assert manifest(root)["artefacts"] == m["artefacts"] and "inputs" in manifest(root)

    # a corrected comment of one unit: that unit's annex and the province report (which
    # depends on the data file whole), not the other unit
    def comment(df):
        i = df.index[df.unit_id == "tam-duong"][0]
        df.loc[i, "comment"] = "Ý kiến đã sửa: cán bộ tận tình"
    edit_responses(root, comment)
    assert rebuilt(root) == {"province": "data changed", "tam-duong": "unit's data changed"}
    proc = run(root)
    # province, tam-duong; not the tables (no table reads a comment), not the front doors
    assert "0 failed; 2 steps rebuilt, 4 up to date" in proc.stderr, proc.stderr
    incremental = shas(root)
    # what was skipped (so-tu-phap) is byte for byte what a forced build gives now
    sipas(root, "run", "--year", "2023", "--unit", "so-tu-phap", "--jobs", "1", "--force")
    assert shas(root) == incremental

    # a removed page is rebuilt, alone
    (root / "outputs" / "2023" / "units" / "so-tu-phap.html").unlink()
    assert rebuilt(root) == {"so-tu-phap": "output missing or changed on disk"}

    # a changed notebook rebuilds the annexes made from it, not the province report
    nb = root / "notebooks" / "unit_annex.ipynb"
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["Ghi chú mới"], "id": "note-x"})
    nb.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    assert rebuilt(root) == {"so-tu-phap": "notebook changed", "tam-duong": "notebook changed"}

    # a changed satisfaction answer moves the unit's figures, hence the tables (peer-group
    # and province figures every annex shows): every annex is rebuilt, and says why
    def answer(df):
        i = df.index[(df.unit_id == "so-tu-phap") & (df["c1_1"].fillna(0).astype(int) >= 4)][0]
        df.loc[i, "c1_1"] = 1
    edit_responses(root, answer)
    write_tables(2023, paths(root))
    why = rebuilt(root)
    assert set(why) == {"province", "so-tu-phap", "tam-duong"}
    assert why["tam-duong"] == "notebook changed, tables changed"
    assert why["so-tu-phap"] == "notebook changed, tables changed, unit's data changed"
    assert why["province"] == "data changed, tables changed"


def test_tables_are_keyed_on_what_they_read(demo, tmp_path):
    """The tables step reads the estimation frame (no comment, no provenance columns) and
    the previous year's when the change tests use it; its key follows exactly that."""
    from sipas.base.microdata import estimation_frame, estimation_hash

    root = project(demo, tmp_path / "t")
    shutil.rmtree(root / "outputs")

    def job() -> YearJob:
        cfg = YearConfig(2023, paths(root))
        return YearJob(cfg, plan(cfg, list(UNITS)), ("html",), False, cache.source_hash(), cache.versions(), 60)

    def tables() -> dict[str, str]:
        folder = root / "outputs" / "2023" / "tables"
        return {f.name: cache.file_sha(f) for f in sorted(folder.iterdir())}

    assert job().tables_reason() == "new (no previous build)"
    assert job().build_tables().ok
    assert job().tables_reason() is None
    before = tables()
    cfg = YearConfig(2023, paths(root))
    frame = estimation_frame(cfg)
    assert "comment" not in frame and "source_row" not in frame and "c1_1" in frame and "weight" in frame
    # the key the batch computes from the whole file it has read is the hash of that very frame
    whole = pd.read_parquet(root / "data" / "processed" / "2023" / "responses.parquet")
    assert estimation_hash(cfg, whole) == estimation_hash(cfg) == cache.frame_hash(frame)

    def comment_and_provenance(df):
        i = df.index[df.unit_id == "so-tu-phap"][:3]
        df.loc[i, "comment"] = "Một ý kiến khác hẳn"
        df.loc[i, "source_row"] = df.loc[i, "source_row"] + 1000
    edit_responses(root, comment_and_provenance)
    assert job().tables_reason() is None  # nothing the tables read has changed ...
    write_tables(2023, paths(root))
    assert tables() == before  # ... and indeed they come out byte for byte the same

    def answer(df):
        i = df.index[(df.unit_id == "so-tu-phap") & (df["c2_1"].fillna(0).astype(int) >= 4)][0]
        df.loc[i, "c2_1"] = 2
    edit_responses(root, answer)
    assert job().tables_reason() == "data changed"
    assert job().build_tables().ok and tables() != before
    tests_csv = root / "outputs" / "2023" / "tables" / "tests.csv"
    assert "change" not in set(pd.read_csv(tests_csv).test)  # no previous year yet

    # the previous year (same methodology: the change tests compare with it) appears
    prev = root / "data" / "processed" / "2022" / "responses.parquet"
    prev.parent.mkdir(parents=True)
    df = pd.read_parquet(root / "data" / "processed" / "2023" / "responses.parquet")
    df.assign(year=2022).to_parquet(prev, index=False)
    assert job().tables_reason() == "previous year's data changed"
    assert job().build_tables().ok
    assert "change" in set(pd.read_csv(tests_csv).test)  # now the change tests compare with it
    df.loc[df.index[0], "comment"] = "sửa ý kiến năm trước"
    df.assign(year=2022).to_parquet(prev, index=False)
    assert job().tables_reason() is None


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_a_killed_run_leaves_no_partial_file_and_the_next_run_does_the_rest(demo, tmp_path):
    root = project(demo, tmp_path / "k")
    env = {**os.environ, "SIPAS_ROOT": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "sipas.cli", "run", "--year", "2023", "--unit", ",".join(UNITS),
                             "--jobs", "1"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mpath = root / "outputs" / "2023" / "manifest.json"
    family: set[int] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        family |= set(_children(proc.pid))
        if mpath.exists() and any(a["id"].startswith("annex:") for a in json.loads(mpath.read_text())["artefacts"]):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("no annex finished in 90 s")
    family |= set(_children(proc.pid))
    proc.send_signal(signal.SIGKILL)  # the harshest interruption: no clean-up code runs in the driver
    proc.wait()
    # the workers notice their driver is gone, and their kernels their worker
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in family):
        time.sleep(0.2)
    alive = [p for p in family if _alive(p)]
    assert not alive, f"processes left behind: {alive}"
    out = root / "outputs" / "2023"
    for page in out.rglob("*.html"):  # whatever a reader finds is whole
        assert page.read_text(encoding="utf-8").rstrip().endswith("</html>"), page
    before = {a["id"]: a for a in json.loads(mpath.read_text())["artefacts"] if a["status"] == "ok"}
    assert any(i.startswith("annex:") for i in before)
    proc = sipas(root, "run", "--year", "2023", "--unit", ",".join(UNITS), "--jobs", "1")
    assert "3 annexes written, 0 failed" in proc.stderr
    after = {a["id"]: a for a in json.loads(mpath.read_text())["artefacts"]}
    assert set(after) == {"annex:province", "annex:so-tu-phap", "annex:tam-duong", "index", "tables"}
    assert all(a["status"] == "ok" for a in after.values())
    for i, a in before.items():  # what the killed run finished is not redone
        assert after[i]["built_at"] == a["built_at"] and after[i]["outputs"] == a["outputs"], i
    assert not list(out.rglob(".*.tmp-*")), "temporary files of the killed run are cleaned"


def test_watch_rebuilds_on_change_with_the_same_warm_worker_and_stops_cleanly(demo, tmp_path):
    import threading

    root = project(demo, tmp_path / "w")
    env = {**os.environ, "SIPAS_ROOT": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "sipas.cli", "run", "--year", "2023", "--unit", ",".join(UNITS),
                             "--jobs", "1", "--watch"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    family: set[int] = set()

    def wait_for_summary(n: int, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            family.update(_children(proc.pid))
            done = [ln for ln in list(lines) if "annexes written" in ln]
            if len(done) >= n:
                return done[n - 1]
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.1)
        proc.kill()
        pytest.fail(f"no run summary #{n} in {seconds} s:\n{''.join(lines)}")

    try:
        assert "3 annexes written, 0 failed" in wait_for_summary(1, 180)
        first = {a["id"]: a for a in manifest(root)["artefacts"]}

        def comment(df):
            i = df.index[df.unit_id == "tam-duong"][0]
            df.loc[i, "comment"] = "Ý kiến sửa trong lúc theo dõi"
        edit_responses(root, comment)
        assert "0 failed; 2 steps rebuilt, 4 up to date" in wait_for_summary(2, 90)
        second = {a["id"]: a for a in manifest(root)["artefacts"]}
        # the same worker process (its kernel warm) built the annex in both runs
        assert second["annex:tam-duong"]["worker"] == first["annex:tam-duong"]["worker"]
        assert second["annex:so-tu-phap"] == first["annex:so-tu-phap"]
        assert second["tables"] == first["tables"]

        # a corrected field file: the year's intake runs, then the run (one comment again)
        raw = root / "data" / "raw" / "2023" / "phieu-khao-sat-2023.csv"
        with open(raw, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        i = next(k for k, r in enumerate(rows) if k and unicodedata.normalize("NFC", r[1]) == "Huyện Tam Đường")
        rows[i][-1] = "Ý kiến sửa trong tệp gốc"
        with open(raw, "w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows(rows)
        # the unit, the province and the front doors (the year's and the site's), which now
        # link the quality page the intake wrote (outputs/2023/quality.html was not there before)
        assert "0 failed; 4 steps rebuilt, 2 up to date" in wait_for_summary(3, 120), "".join(lines[-20:])
        assert (root / "outputs" / "2023" / "quality.html").is_file()
        assert any("accepted" in ln and "quarantined" in ln for ln in lines), "".join(lines)
        assert any("index" in ln and "documents changed" in ln for ln in lines[-12:]), "".join(lines[-12:])
        comments = pd.read_parquet(root / "data" / "processed" / "2023" / "responses.parquet").comment
        assert (comments == "Ý kiến sửa trong tệp gốc").sum() == 1
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0 and any("stopped" in ln for ln in lines), "".join(lines)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in family):
        time.sleep(0.2)
    assert not [p for p in family if _alive(p)]
