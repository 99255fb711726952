"""Front doors: ``outputs/<year>/index.html`` and ``outputs/index.html``.

A year's page holds the headline figures, the documents of the year in every format
that exists on disk (province report HTML/PDF, the Excel annex, the data-quality annex
that intake writes, the run manifest, the tidy tables) and one ranking table per unit
type whose unit names link to the unit annexes (with a PDF link beside each when the
PDF exists). Links are relative, so the folder can be copied or zipped as it is.
"""

from __future__ import annotations

import html
from pathlib import Path

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.io import write_text
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing.data import years_with_tables
from sipas.publishing.markup import flag_note, title_html
from sipas.publishing.render import FOOTER, page
from sipas.publishing.report import Report, lc
from sipas.publishing.sections import headline_tiles, ranking_table


def excel_name(year: int) -> str:
    return f"phu-luc-{year}.xlsx"


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{fmt.number(n / 1024)} KB" if n < 1024 * 1024 else f"{fmt.number(n / 1024 / 1024, 1)} MB"


def _doc(out: Path, rel: str, label: str, kind: str) -> str | None:
    p = out / rel
    if not p.is_file():
        return None
    return f'<a href="{html.escape(rel)}">{html.escape(label)}</a> <span class="muted">({kind}, {_size(p)})</span>'


def documents(out: Path, year: int) -> list[tuple[str, list[str]]]:
    """(what, [links]) for the year's documents that exist under ``out``."""
    rows = []
    report = [x for x in (_doc(out, "province.html", "HTML", "trang web"), _doc(out, "province.pdf", "PDF", "A4"))
              if x]
    if report:
        rows.append(("Báo cáo kết quả toàn tỉnh", report))
    xl = _doc(out, excel_name(year), excel_name(year), "Excel: Phụ lục I–IV")
    if xl:
        rows.append(("Phụ lục số liệu (Excel)", [xl]))
    q = _doc(out, "quality.html", "HTML", "kiểm tra dữ liệu đầu vào")
    if q:
        rows.append(("Chất lượng dữ liệu", [q]))
    m = _doc(out, "manifest.json", "manifest.json", "JSON")
    if m:
        rows.append(("Nhật ký lần chạy", [m]))
    tables = [x for x in (_doc(out, f"tables/{n}.csv", f"{n}.csv", "CSV")
                          for n in ("indices", "tests", "sample", "profile", "expectations")) if x]
    if tables:
        rows.append(("Bảng số liệu (dạng dài, UTF-8)", tables))
    return rows


def write_index(cfg: YearConfig, done=None) -> Path:
    """The year's page. ``done``: the annex tasks that succeeded in this run (objects
    with a ``name``); None = link every annex found on disk."""
    rep = Report(cfg.year, cfg.paths.root)
    out = cfg.paths.outputs(cfg.year)
    names = None if done is None else {t.name for t in done}

    def has(uid: str) -> bool:
        return (out / "units" / f"{uid}.html").is_file() and (names is None or uid in names)

    parts = [title_html(f"Kết quả đo lường sự hài lòng năm {cfg.year}",
                        f"{cfg.methodology.index_label}, tỉnh {rep.province}; "
                        f"chỉ số chung của tỉnh: {rep.aggregation_text}."), headline_tiles(rep)]
    docs = documents(out, cfg.year)
    parts.append("<h2>Tài liệu công bố</h2>")
    if docs:
        parts.append('<div class="table-wrap"><table class="sipas-table formats"><tbody>' + "".join(
            f"<tr><th scope=\"row\">{html.escape(what)}</th><td>"
            + " · ".join(f'<span class="doc">{link}</span>' for link in links) + "</td></tr>" for what, links in docs)
            + "</tbody></table></div>")
    n_units = sum(has(u.id) for u in cfg.units)
    n_pdf = sum((out / "units" / f"{u.id}.pdf").is_file() for u in cfg.units)
    parts.append(f"<p>Phụ lục theo đơn vị: {n_units}/{len(cfg.units)} trang web"
                 + (f", {n_pdf} bản PDF" if n_pdf else "") + "; liên kết ở tên đơn vị trong các bảng xếp hạng dưới đây.</p>")
    for t in rep.unit_types:
        r = rep.ranking(t)
        links = {}
        for u, n in zip(r.unit_id, r.unit_name):
            cell = f'<a href="units/{u}.html">{html.escape(n)}</a>' if has(u) else html.escape(n)
            if (out / "units" / f"{u}.pdf").is_file():
                cell += f' <a class="pdf" href="units/{u}.pdf" title="Bản PDF">PDF</a>'
            links[u] = cell
        label = rep.type_label(t, plural=True)
        parts.append(f"<h2>Xếp hạng {html.escape(lc(label))}</h2>")
        parts.append(f"<p>Bình quân: <strong>{fmt.pct(rep.value(group_id(t)))}</strong>; {len(r)} đơn vị.</p>")
        parts.append(ranking_table(rep, r, links))
    note = flag_note(rep)
    if note:
        parts.append(f'<p class="table-note">{note}</p>')
    text = page(f"SIPAS {cfg.year} — {rep.province}", "\n".join(parts),
                kicker=f"Tỉnh {rep.province} · {cfg.methodology.short_title}", footer=FOOTER,
                nav=[("Các năm", "../index.html")], toc=True)
    return write_text(out / "index.html", text)


def write_site_index(p: Paths) -> Path:
    """``outputs/index.html``: one row per year with a front page, headline figures and links."""
    years = sorted((int(d.name) for d in p.outputs().iterdir()
                    if d.name.isdigit() and (d / "index.html").exists()), reverse=True) if p.outputs().is_dir() else []
    with_tables = set(years_with_tables(p))
    rows = []
    for y in years:
        out = p.outputs(y)
        cells = [f'<td><a href="{y}/index.html"><strong>Năm {y}</strong></a></td>']
        if y in with_tables:
            rep = Report(y, p.root)
            groups = " · ".join(f"{html.escape(rep.type_label(t, plural=True))}: {fmt.pct(rep.value(group_id(t)))}"
                                for t in rep.unit_types)
            cells.append(f'<td class="num"><strong>{fmt.pct(rep.value(PROVINCE_ID))}</strong></td><td>{groups}</td>'
                         f'<td class="num">{fmt.number(rep.sample.achieved.sum())}</td>')
        else:
            cells.append('<td class="num">–</td><td></td><td class="num">–</td>')
        docs = [f'<a href="{y}/{rel}">{lab}</a>' for rel, lab in
                (("province.html", "Báo cáo"), ("province.pdf", "Báo cáo PDF"), (excel_name(y), "Excel"),
                 ("quality.html", "Chất lượng dữ liệu")) if (out / rel).is_file()]
        cells.append(f"<td>{' · '.join(docs)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = ('<div class="table-wrap"><table class="sipas-table years"><thead><tr><th scope="col">Năm</th>'
             '<th class="num" scope="col">Chỉ số chung của tỉnh</th><th scope="col">Theo nhóm đơn vị</th>'
             '<th class="num" scope="col">Phiếu hợp lệ</th><th scope="col">Tài liệu</th></tr></thead><tbody>'
             + "".join(rows) + "</tbody></table></div>")
    body = ("<h1>Kết quả khảo sát sự hài lòng của người dân, tổ chức</h1>"
            "<p class=\"subtitle\">Đối với sự phục vụ của cơ quan hành chính nhà nước — các năm đã công bố.</p>"
            + (table if years else "<p>Chưa có năm nào được công bố.</p>"))
    if (p.outputs() / "trends.html").is_file():
        body += ('<h2>Xu hướng qua các năm</h2><p><a href="trends.html"><strong>Phụ lục xu hướng</strong></a>: '
                 "chỉ số của tỉnh, từng sở, ban, ngành và từng địa bàn qua các năm; so sánh chỉ trong cùng "
                 "phương pháp và cùng đơn vị.</p>")
    return write_text(p.outputs() / "index.html", page("SIPAS — các năm", body, kicker="sipas", footer=FOOTER))
