"""The malformed-input corpus (tests/intake_corpus/cases.yaml) through the CLI entry."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
import yaml

from sipas.cli import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "intake_corpus"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def _id(case: dict) -> str:
    return case.get("name") or case["file"]


def run_cli(args: list[str], root: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv("SIPAS_ROOT", str(root))
    monkeypatch.chdir(root)
    code = 0
    try:
        main(args)
    except SystemExit as exc:  # main() exits only for user errors; a bug would raise
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for d in ("data/processed", "outputs") for p in sorted((root / d).rglob("*")) if p.is_file()}


def test_corpus_is_large_enough():
    assert len(CASES) >= 25
    for case in CASES:
        if "file" in case:
            assert (CORPUS / case["file"]).is_file(), case["file"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_case(case, tmp_path, monkeypatch, capsys):
    root = tmp_path / "proj"
    shutil.copytree(REPO / "params", root / "params")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for name in case.get("copy_to_tmp", []):
        shutil.copy(CORPUS / name, scratch / name)
    # a previous good run, so that "nothing half-written" can be checked
    if "intake_yaml" in case:
        (root / "params/intake.yaml").write_text(case["intake_yaml"], encoding="utf-8")
    prev = root / "data/processed/2023"
    prev.mkdir(parents=True)
    (prev / "responses.parquet").write_bytes(b"previous run")
    before = snapshot(root)

    args = case.get("args") or ["validate", "--year", "2023", "--input", str(CORPUS / case["file"])]
    args = [a.format(corpus=CORPUS, tmp=scratch) for a in args]
    code, out = run_cli(args, root, monkeypatch, capsys)

    assert "Traceback" not in out
    assert code == case["exit"], out
    for text in case.get("message", []):
        assert text in out, f"{text!r} not in:\n{out}"
    if code != 0:
        assert snapshot(root) == before, "a failed run changed data/processed or outputs"
        assert not list(root.rglob(".*.tmp-*"))
        return
    report = json.loads((prev / "validation.json").read_text(encoding="utf-8"))
    got = {q["row"]: q["reason"] for q in report["quarantined"]}
    assert got == {int(k): v for k, v in case.get("quarantine", {}).items()}, out
    for row, reasons in case.get("all_reasons", {}).items():
        q = next(q for q in report["quarantined"] if q["row"] == int(row))
        assert q["reasons"] == reasons
    if "sheet" in case:
        assert {q["sheet"] for q in report["quarantined"]} == {case["sheet"]}
    t = report["totals"]
    assert t["accepted"] + t["quarantined"] == t["rows_read"] > 0
    # what was skipped, changed or flagged is named in the summary, validation.json and the annex
    annex = html.unescape((root / "outputs/2023/quality.html").read_text(encoding="utf-8"))
    named = json.dumps(report, ensure_ascii=False)
    for text in case.get("everywhere", []):
        assert text in out and text in named and text in annex, text
