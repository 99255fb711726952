"""What the year's front door says about the official documents: a row with the Word and
PDF report and annexes, and whether the year is a draft (DỰ THẢO) or released (which
decision, which version). ``sipas.publishing.site.documents`` adds these rows; the
release rewrites the status in its frozen copy of the page (:func:`released_status`).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

STATUS = re.compile(r'<span class="release-status">.*?</span>', re.S)


def _latest_release(out: Path) -> dict | None:
    d = out / "release"
    if not d.is_dir():
        return None
    vs = sorted((x for x in d.iterdir() if x.name[:1] == "v" and x.name[1:].isdigit() and (x / "release.json").is_file()),
                key=lambda x: int(x.name[1:]))
    return json.loads((vs[-1] / "release.json").read_text(encoding="utf-8")) if vs else None


def status_html(meta: dict | None) -> str:
    if meta is None:
        text = "DỰ THẢO: chưa ban hành (các văn bản dưới đây là bản dự thảo)"
    else:
        y, m, d = meta["date"].split("-")
        text = (f"Đã ban hành: Quyết định số {meta['decision']} ngày {d}/{m}/{y}, phiên bản {meta['version']} "
                f"(release/{meta['version']}/)")
    return f'<span class="release-status">{html.escape(text)}</span>'


def released_status(page: str, meta: dict) -> str:
    """The front door ``page`` with its status replaced by the release's."""
    return STATUS.sub(status_html(meta).replace("\\", "\\\\"), page, count=1)


def rows(out: Path, year: int) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(what, [(relative path, label, kind)]) for the official documents present."""
    found = [(f"official/bao-cao-{year}.docx", "Báo cáo (Word)", "Word"),
             (f"official/bao-cao-{year}.pdf", "Báo cáo (PDF)", "PDF từ bản Word")]
    found += [(f"official/phu-luc-{r}-{year}.{ext}", f"Phụ lục {r.upper()} ({ext.upper()})", ext.upper())
              for r in ("i", "ii", "iii", "iv") for ext in ("docx", "pdf")]
    present = [f for f in found if (out / f[0]).is_file()]
    if not present:
        return []
    return [("Văn bản ban hành (Word/PDF)", [("", status_html(_latest_release(out)), "status")] + present)]
