"""``sipas release``: refuses without a decision or on a stale/failed build; freezes a
checksummed, numbered, read-only set; a second release with nothing changed writes
nothing; changed tables need a reason and give v2 with an errata of every changed figure."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest
from docx import Document

from sipas.base.config import paths
from sipas.publishing.official.release import ReleaseError, release, stale_reasons, table_diff

from .annex_project import published


def _sha(f) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()


@pytest.fixture
def root(demo, tmp_path_factory, tmp_path, monkeypatch):
    """A copy of the published demo year with a manifest of clean steps (as a run leaves it)."""
    monkeypatch.setenv("SIPAS_SOFFICE", "/nonexistent/soffice")  # fast: Word only (PDF: test_official_pdf)
    src = published(demo, tmp_path_factory.getbasetemp())
    r = tmp_path / "project"
    def skip(folder, names):  # earlier releases and Word files of the shared copy
        return [n for n in names if n in ("release", "official") and folder.rstrip("/").endswith("2023")]

    shutil.copytree(src, r, ignore=skip)
    p = paths(r)
    base = p.outputs(2023)
    from sipas.base.codebook import YearConfig
    from sipas.publishing.official.documents import build_year
    from sipas.publishing.site import write_index

    build_year(p, 2023)
    write_index(YearConfig(2023, p))  # the front door lists the draft documents
    tables = sorted(p.tables(2023).glob("*.csv"))
    arts = [{"id": i, "status": "ok", "outputs": [{"path": str(f.relative_to(base)), "sha256": _sha(f),
                                                   "bytes": f.stat().st_size} for f in files]}
            for i, files in (("tables", tables), ("annex:province", [base / "province.html"]),
                             ("docx", []), ("workbook", []), ("index", [base / "index.html"]))]
    (base / "manifest.json").write_text(json.dumps({"year": 2023, "artefacts": arts,
                                                    "data": {"sha256": _sha(p.responses(2023))}}), encoding="utf-8")
    return r


def test_refuses_without_decision_or_when_stale(root):
    p = paths(root)
    assert stale_reasons(p, 2023) == []
    (root / "params" / "release" / "2023.yaml").rename(root / "params" / "release" / "hidden.yaml")
    with pytest.raises(ReleaseError, match="no decision for this year"):
        release(p, 2023)
    (root / "params" / "release" / "hidden.yaml").rename(root / "params" / "release" / "2023.yaml")
    (p.outputs(2023) / "province.html").write_text("edited by hand", encoding="utf-8")
    with pytest.raises(ReleaseError, match="province.html changed on disk"):
        release(p, 2023)
    m = json.loads((p.outputs(2023) / "manifest.json").read_text(encoding="utf-8"))
    m["artefacts"][1].update(status="failed", error="cell 3: ValueError")
    (p.outputs(2023) / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(ReleaseError, match="annex:province' failed: cell 3: ValueError"):
        release(p, 2023, extra_stale=["the sipas code changed since the last run"])
    assert not (p.outputs(2023) / "release").exists()


def test_release_freeze_then_untouched_then_errata(root):
    p = paths(root)
    r1 = release(p, 2023)
    assert r1.created and r1.version == "v1" and r1.folder == p.outputs(2023) / "release" / "v1"
    sums = (r1.folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    files = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in sums}
    assert {"province.html", "tables/indices.csv", "release.json", "official/bao-cao-2023.docx",
            "official/phu-luc-i-2023.docx", "official/units/so-tu-phap.docx"} <= set(files)
    for name, digest in files.items():
        f = r1.folder / name
        assert _sha(f) == digest and not f.stat().st_mode & 0o222, name   # checksummed, read-only
    meta = json.loads((r1.folder / "release.json").read_text(encoding="utf-8"))
    assert meta["decision"] == "2385/QĐ-UBND" and meta["date"] == "2023-12-29" and meta["version"] == "v1"
    doc = Document(str(r1.folder / "official" / "phu-luc-i-2023.docx"))
    texts = [q.text for q in doc.paragraphs]
    assert "(Kèm theo Quyết định số 2385/QĐ-UBND ngày 29/12/2023 của Ủy ban nhân dân tỉnh Lai Châu)" in texts
    assert "DỰ THẢO" not in doc.sections[0].header._element.xml
    block = "\n".join(c.text for row in doc.tables[0].rows for c in row.cells)
    assert "Lai Châu, ngày 29 tháng 12 năm 2023" in block
    report = Document(str(r1.folder / "official" / "bao-cao-2023.docx"))
    signer = "\n".join(c.text for row in report.tables[-1].rows for c in row.cells)
    assert "CHỦ TỊCH" in signer and "Lê Văn Lương" in signer and "TM. ỦY BAN NHÂN DÂN" in signer

    draft = (p.outputs(2023) / "index.html").read_text(encoding="utf-8")
    assert "DỰ THẢO: chưa ban hành" in draft and 'href="official/bao-cao-2023.docx"' in draft
    frozen = (r1.folder / "index.html").read_text(encoding="utf-8")
    assert "Đã ban hành: Quyết định số 2385/QĐ-UBND ngày 29/12/2023, phiên bản v1" in frozen
    assert "DỰ THẢO" not in frozen

    before = {f: _sha(f) for f in r1.folder.rglob("*") if f.is_file()}
    r2 = release(p, 2023)
    assert not r2.created and r2.version == "v1"
    assert {f: _sha(f) for f in r1.folder.rglob("*") if f.is_file()} == before

    # a corrected figure: needs a reason, then v2 with the errata; v1 untouched
    idx_csv = p.tables(2023) / "indices.csv"
    idx = pd.read_csv(idx_csv)
    row = idx.index[(idx.unit_id == "so-tu-phap") & (idx.item_id == "sipas")][0]
    idx.loc[row, "estimate"] += 0.0123
    idx.to_csv(idx_csv, index=False)
    m = json.loads((p.outputs(2023) / "manifest.json").read_text(encoding="utf-8"))
    for o in m["artefacts"][0]["outputs"]:
        if o["path"] == "tables/indices.csv":
            o.update(sha256=_sha(idx_csv), bytes=idx_csv.stat().st_size)
    (p.outputs(2023) / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(ReleaseError, match="needs --reason"):
        release(p, 2023)
    r3 = release(p, 2023, reason="Sửa số phiếu nhập sai của Sở Tư pháp")
    assert r3.created and r3.version == "v2" and r3.errata == 1
    errata = pd.read_csv(r3.folder / "errata.csv")
    assert list(errata[["unit_id", "item_id", "field"]].itertuples(index=False, name=None)) == [
        ("so-tu-phap", "sipas", "estimate")]
    old = idx.loc[row, "estimate"] - 0.0123
    assert errata.old[0] == f"{100 * old:.2f}".replace(".", ",") + "%"
    page = "\n".join(q.text for q in Document(str(r3.folder / "official" / "dinh-chinh-2023.docx")).paragraphs)
    assert "Sửa số phiếu nhập sai của Sở Tư pháp" in page and "PHIÊN BẢN 2 THAY THẾ PHIÊN BẢN 1" in page
    assert {f: _sha(f) for f in r1.folder.rglob("*") if f.is_file()} == before


def test_diff_of_identical_tables_is_empty(root):
    t = paths(root).tables(2023)
    assert table_diff(t, t).empty


def test_cli_refuses_with_exit_2(root, monkeypatch, capsys):
    from sipas.cli import main

    monkeypatch.chdir(root)
    monkeypatch.setenv("SIPAS_ROOT", str(root))
    with pytest.raises(SystemExit) as exc:
        main(["release", "--year", "2022"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "params/release/2022.yaml: no decision for this year" in err and "Traceback" not in err
