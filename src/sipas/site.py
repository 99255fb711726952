"""Front doors: ``outputs/<year>/index.html`` and ``outputs/index.html``."""

from __future__ import annotations

import html

from . import fmt
from .codebook import YearConfig
from .config import Paths
from .indices import PROVINCE_ID, group_id
from .io import write_text
from .render import page
from .report import Report, table_html


def write_index(cfg: YearConfig, done) -> None:
    """The year's page: headline, rankings per unit type with links, the annexes."""
    rep = Report(cfg.year, cfg.paths.root)
    have = {t.name for t in done}
    parts = [f"<h1>Kết quả đo lường sự hài lòng năm {cfg.year}</h1>",
             f"<p>{html.escape(cfg.methodology.index_label)} chung của tỉnh {html.escape(rep.province)}: "
             f"<strong>{fmt.pct(rep.value(PROVINCE_ID))}</strong> ({html.escape(rep.aggregation_text)}).</p>"]
    if "province" in have:
        parts.append('<p><a href="province.html"><strong>Báo cáo toàn tỉnh</strong></a></p>')
    for t in rep.unit_types:
        r = rep.ranking(t).copy()
        r["link"] = [f'<a href="units/{u}.html">{html.escape(n)}</a>' if u in have else html.escape(n)
                     for u, n in zip(r.unit_id, r.unit_name)]
        label = rep.type_label(t, plural=True)
        parts.append(f"<h2>{html.escape(label)}</h2>")
        parts.append(f"<p>Bình quân: <strong>{fmt.pct(rep.value(group_id(t)))}</strong></p>")
        tbl = table_html(r, {"rank": "Hạng", "unit_name": "Đơn vị", "sipas": "Chỉ số chung",
                             **dict(rep.top_items)},
                         pct=("sipas", *[k for k, _ in rep.top_items]))
        # replace escaped names by links (names come from the registry, links from ids)
        for name, link in zip(r.unit_name, r.link):
            tbl = tbl.replace(f"<td>{html.escape(name)}</td>", f"<td>{link}</td>", 1)
        parts.append(tbl)
    parts.append('<h2>Bảng số liệu</h2><ul>' + "".join(
        f'<li><a href="tables/{n}.csv">{n}.csv</a></li>' for n in ("indices", "sample", "profile", "expectations"))
        + "</ul>")
    text = page(f"SIPAS {cfg.year} — {rep.province}", "\n".join(parts),
                kicker=f"Tỉnh {rep.province} · {cfg.methodology.short_title}",
                footer="Tạo tự động bởi sipas; số liệu tái lập được.", nav=[("Các năm", "../index.html")])
    write_text(cfg.paths.outputs(cfg.year) / "index.html", text)


def write_site_index(p: Paths) -> None:
    """``outputs/index.html``: one line per year that has a front page."""
    years = sorted((int(d.name) for d in p.outputs().iterdir() if d.name.isdigit() and (d / "index.html").exists()),
                   reverse=True)
    items = "".join(f'<li><a href="{y}/index.html">Năm {y}</a></li>' for y in years)
    write_text(p.outputs() / "index.html",
               page("SIPAS — các năm", f"<h1>Kết quả khảo sát sự hài lòng</h1><ul>{items}</ul>",
                    kicker="sipas", footer="Tạo tự động bởi sipas."))
