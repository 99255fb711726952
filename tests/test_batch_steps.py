"""The ledger of declared steps (no kernel): what it decides, records and reports."""

from __future__ import annotations

import json

import pytest

from sipas.running import cache
from sipas.running.manifest import Manifest
from sipas.running.steps import Ledger, Step


def _ledger(tmp_path, force=False) -> Ledger:
    return Ledger(Manifest.load(tmp_path / "manifest.json", 2023), tmp_path, 2023, force)


def _step(tmp_path, calls: list, **inputs) -> Step:
    def build():
        calls.append(1)
        out = tmp_path / "page.html"
        out.write_text(f"<p>{inputs}</p>", encoding="utf-8")
        return [out]

    return Step("page", "page", "page", {"code": "c1", "tables": "t1", **inputs}, build, {"year": 2023})


def test_a_step_is_built_once_recorded_and_rebuilt_only_for_a_reason(tmp_path):
    calls: list = []
    first = _ledger(tmp_path).build(_step(tmp_path, calls))
    assert (first.ok, first.rebuilt, first.reason, len(calls)) == (True, True, "new (no previous build)", 1)
    entry = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["artefacts"][0]
    assert entry["id"] == "page" and entry["key"] == cache.key_of(entry["inputs"]) and entry["status"] == "ok"
    assert entry["outputs"] == [{"path": "page.html", "sha256": cache.file_sha(tmp_path / "page.html"),
                                 "bytes": (tmp_path / "page.html").stat().st_size}]
    again = _ledger(tmp_path).build(_step(tmp_path, calls))  # a new run reads the saved manifest
    assert (again.rebuilt, again.reason, len(calls)) == (False, "up to date", 1)
    assert _ledger(tmp_path).decide(_step(tmp_path, calls, tables="t2")) == "tables changed"
    assert _ledger(tmp_path).decide(_step(tmp_path, calls, code="c2", tables="t2")) == \
        "sipas code changed, tables changed"
    assert _ledger(tmp_path, force=True).decide(_step(tmp_path, calls)) == "forced (--force)"
    (tmp_path / "page.html").write_text("edited by hand", encoding="utf-8")
    assert _ledger(tmp_path).decide(_step(tmp_path, calls)) == "output missing or changed on disk"


def test_a_failing_builder_is_a_failed_step_unless_fatal(tmp_path):
    def broken():
        raise ValueError("bảng hỏng")

    out = _ledger(tmp_path).build(Step("x", "x", "x", {"a": "1"}, broken))
    assert (out.ok, out.status, out.error) == (False, "failed", "ValueError: bảng hỏng")
    assert _ledger(tmp_path).decide(Step("x", "x", "x", {"a": "1"}, broken)) == "previous build failed"
    with pytest.raises(ValueError):
        _ledger(tmp_path).build(Step("x", "x", "x", {"a": "1"}, broken, fatal=ValueError))
