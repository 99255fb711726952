"""``sipas release --year Y``: freeze the published set of a year as a numbered decision.

Refuses (:class:`ReleaseError`, exit 2) when ``params/release/<year>.yaml`` is missing,
or when the year's last run is not a clean, current build: a step failed, a recorded
output is missing or changed on disk, the processed data changed since, or the caller
(the CLI) found the code or params changed (:func:`stale_reasons`).

Otherwise it writes ``outputs/<year>/release/v<N>/``: the HTML, PDF and Excel annexes, the
tables, the manifest, and the official Word documents rebuilt with the decision's number,
date and signer (no DỰ THẢO) with their PDF; ``release.json`` (what was released, from
which run) and ``SHA256SUMS`` (``sha256sum -c`` checks it). Files are made read-only and
no later run writes there. Releasing again with nothing changed writes nothing; a
corrected re-release (``--reason`` required) is ``v<N+1>`` with an errata page
(``official/dinh-chinh-<year>.docx`` and ``errata.csv``) listing every published figure
that changed since the previous version (a diff of the tables) and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sipas.base.config import Paths
from sipas.base.errors import SipasError
from sipas.publishing.official.settings import load_release, release_path

COPIED = ("index.html", "province.html", "province.pdf", "quality.html", "manifest.json")
ERRATA_COLUMNS = ["unit_id", "unit_name", "item_id", "item_label", "field", "old", "new"]


class ReleaseError(SipasError):
    pass


@dataclass
class Released:
    version: str
    folder: Path
    created: bool
    files: int
    errata: int = 0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_dir(p: Paths, year: int) -> Path:
    return p.outputs(year) / "release"


def versions(p: Paths, year: int) -> list[str]:
    d = release_dir(p, year)
    found = [x.name for x in d.iterdir() if x.is_dir() and x.name[:1] == "v" and x.name[1:].isdigit()] \
        if d.is_dir() else []
    return sorted(found, key=lambda v: int(v[1:]))


def stale_reasons(p: Paths, year: int) -> list[str]:
    """What makes the year's outputs not releasable, read from its manifest."""
    path = p.outputs(year) / "manifest.json"
    if not path.is_file():
        return [f"no run recorded ({path} missing)"]
    m = json.loads(path.read_text(encoding="utf-8"))
    arts = {a["id"]: a for a in m.get("artefacts", [])}
    out = []
    for need in ("tables", "docx", "workbook", "index"):
        if need not in arts:
            out.append(f"step '{need}' never built (run with --formats html,pdf,xlsx,docx)")
    for a in arts.values():
        if a.get("status") != "ok":
            out.append(f"step '{a['id']}' {a.get('status')}: {a.get('error', '')}".rstrip(": "))
            continue
        for o in a.get("outputs", []):
            f = p.outputs(year) / o["path"]
            if not f.is_file():
                out.append(f"{o['path']} missing")
            elif f.stat().st_size != o["bytes"] or _sha(f) != o["sha256"]:
                out.append(f"{o['path']} changed on disk since the run")
    data = m.get("data", {})
    if data.get("sha256") and p.responses(year).is_file() and _sha(p.responses(year)) != data["sha256"]:
        out.append("the processed data changed since the last run")
    return out


def _published_files(p: Paths, year: int) -> list[Path]:
    """The outputs of the last run (from the manifest), minus the draft Word documents
    and their PDF (rebuilt numbered), plus the tables."""
    base = p.outputs(year)
    m = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    files = {base / o["path"] for a in m.get("artefacts", []) if a["id"] not in ("docx", "docx-pdf")
             for o in a.get("outputs", [])}
    files |= {base / n for n in COPIED if (base / n).is_file()}
    files |= {f for f in p.tables(year).glob("*.csv")}
    return sorted(f for f in files if f.is_file() and "release" not in f.relative_to(base).parts[:1])


def table_diff(old_dir: Path, new_dir: Path) -> pd.DataFrame:
    """Every published figure of ``indices`` (estimate, interval, n) and ``sample``
    (achieved) whose printed value differs between two table folders."""
    from sipas.publishing.official.tables import pct_text

    rows = []
    key = ["unit_id", "item_id"]
    o, n = (pd.read_csv(d / "indices.csv") for d in (old_dir, new_dir))
    j = o.merge(n, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    for r in j.itertuples():
        name = r.unit_name_new if isinstance(r.unit_name_new, str) else r.unit_name_old
        label = r.item_label_new if isinstance(r.item_label_new, str) else r.item_label_old
        for field in ("estimate", "ci_low", "ci_high", "n"):
            a, b = getattr(r, f"{field}_old", None), getattr(r, f"{field}_new", None)
            fa, fb = ((str(int(x)) if not pd.isna(x) else "–") for x in (a, b)) if field == "n" else \
                (pct_text(a), pct_text(b))
            if fa != fb:
                rows.append([r.unit_id, name, r.item_id, label, field, fa, fb])
    so, sn = (pd.read_csv(d / "sample.csv") for d in (old_dir, new_dir))
    s = so.merge(sn, on="unit_id", how="outer", suffixes=("_old", "_new"))
    for r in s.itertuples():
        if r.achieved_old != r.achieved_new:
            rows.append([r.unit_id, r.unit_name_new, "", "Số phiếu hợp lệ", "achieved",
                         str(r.achieved_old), str(r.achieved_new)])
    return pd.DataFrame(rows, columns=ERRATA_COLUMNS)


def _same_tables(a: Path, b: Path) -> bool:
    fa = sorted(f.name for f in a.glob("*.csv"))
    return fa == sorted(f.name for f in b.glob("*.csv")) and all(_sha(a / f) == _sha(b / f) for f in fa)


def _errata_doc(p: Paths, year: int, rel, diff: pd.DataFrame, reason: str, previous: str, version: str,
                path: Path) -> Path:
    from sipas.publishing.official.documents import Context
    from sipas.publishing.official.settings import load_official
    from sipas.publishing.report import Report

    ctx = Context(Report(year, p.root), load_official(p), rel)
    b = ctx.builder("phu-luc-doc.docx", "ĐÍNH CHÍNH", f"SỐ LIỆU KẾT QUẢ ĐO LƯỜNG SỰ HÀI LÒNG NĂM {year} "
                    f"(PHIÊN BẢN {version[1:]} THAY THẾ PHIÊN BẢN {previous[1:]})")
    b.text([f"Lý do đính chính: {reason}", f"Có {len(diff)} số liệu thay đổi so với phiên bản {previous[1:]}:"])
    names = {"estimate": "Tỷ lệ hài lòng", "ci_low": "Cận dưới KTC", "ci_high": "Cận trên KTC", "n": "Số câu trả lời",
             "achieved": "Số phiếu hợp lệ"}
    body = [[str(i), r.unit_name, r.item_label, names.get(r.field, r.field), r.old, r.new]
            for i, r in enumerate(diff.itertuples(), start=1)]
    b.table(["STT", "Đơn vị", "Chỉ số", "Nội dung", "Đã công bố", "Đính chính"], body, [10, 40, 50, 25, 20, 20],
            right={4, 5}, center={0})
    return b.save(path)


def release(p: Paths, year: int, reason: str | None = None, extra_stale: list[str] | None = None) -> Released:
    """Freeze the year's published set (see the module doc)."""
    rel = load_release(p, year)
    if rel is None:
        raise ReleaseError("no decision for this year: the documents stay drafts (DỰ THẢO)",
                           file=release_path(p, year),
                           hint="create it with number, date and signer (see params/release/2023.yaml)")
    stale = (extra_stale or []) + stale_reasons(p, year)
    if stale:
        raise ReleaseError("the year's outputs are not a clean, current build: " + "; ".join(stale[:8])
                           + (f" (and {len(stale) - 8} more)" if len(stale) > 8 else ""), file=p.outputs(year),
                           hint=f"run `sipas run --year {year} --formats html,pdf,xlsx,docx` and fix any failure")
    have = versions(p, year)
    last = release_dir(p, year) / have[-1] if have else None
    if last is not None and _same_tables(last / "tables", p.tables(year)):
        return Released(have[-1], last, False, len(_sums(last)))
    if last is not None and not (reason or "").strip():
        raise ReleaseError(f"{have[-1]} is already released and the tables have changed since",
                           file=last, hint="a corrected re-release needs --reason \"why the figures changed\"")
    version = f"v{len(have) + 1}"
    final = release_dir(p, year) / version
    stage = release_dir(p, year) / f".staging-{version}"
    if stage.exists():
        shutil.rmtree(stage)
    base = p.outputs(year)
    for f in _published_files(p, year):
        target = stage / f.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    from sipas.publishing.official.documents import build_year

    docs = build_year(p, year, release=rel, out_dir=stage / "official")
    n_errata = 0
    if last is not None:
        diff = table_diff(last / "tables", p.tables(year))
        n_errata = len(diff)
        diff.to_csv(stage / "errata.csv", index=False)
        docs.append(_errata_doc(p, year, rel, diff, reason.strip(), have[-1], version,
                                stage / "official" / f"dinh-chinh-{year}.docx"))
    pdf_note = ""
    from sipas.publishing.official.convert import NoLibreOffice, to_pdf

    try:
        to_pdf(docs)
    except NoLibreOffice as exc:
        pdf_note = exc.message
    meta = {"year": year, "version": version, "decision": f"{rel.number}/{rel.document_code}",
            "date": rel.date.isoformat(), "signer": rel.signer.model_dump(), "reason": reason or "",
            "previous_version": have[-1] if have else None, "errata": n_errata, "pdf": pdf_note or "ok",
            "run": json.loads((base / "manifest.json").read_text(encoding="utf-8")).get("run", {})}
    if (stage / "index.html").is_file():  # the frozen front door says released, not draft
        from sipas.publishing.official.site import released_status

        page = (stage / "index.html").read_text(encoding="utf-8")
        (stage / "index.html").write_text(released_status(page, meta), encoding="utf-8")
    (stage / "release.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
    sums = sorted((str(f.relative_to(stage)), _sha(f)) for f in stage.rglob("*") if f.is_file())
    (stage / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums), encoding="utf-8")
    for f in stage.rglob("*"):
        if f.is_file():
            os.chmod(f, 0o444)
    os.replace(stage, final)
    return Released(version, final, True, len(sums) + 1, n_errata)


def _sums(folder: Path) -> list[str]:
    f = folder / "SHA256SUMS"
    return f.read_text(encoding="utf-8").splitlines() if f.is_file() else []
