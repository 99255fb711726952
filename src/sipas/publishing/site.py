"""Front doors: ``outputs/<year>/index.html`` and ``outputs/index.html``.

A year's page holds the headline figures, the documents of the year in every format
that exists on disk (province report HTML/PDF, the Excel annex, the data-quality annex
that intake writes, the run manifest, the tidy tables) and one ranking table per unit
type whose unit names link to the unit annexes (with a PDF link beside each when the
PDF exists). Links are relative, so the folder can be copied or zipped as it is.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.io import write_text
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing.data import years_with_tables
from sipas.publishing.markup import flag_note
from sipas.publishing.render import FOOTER, page
from sipas.publishing.report import Report, lc
from sipas.publishing.sections import headline_tiles, ranking_table
from sipas.publishing.templating import env, macros


def excel_name(year: int) -> str:
    return f"phu-luc-{year}.xlsx"


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{fmt.number(n / 1024)} KB" if n < 1024 * 1024 else f"{fmt.number(n / 1024 / 1024, 1)} MB"


def _doc(out: Path, rel: str, label: str, kind: str, size: bool = True) -> tuple[str, str, str] | None:
    """(label, href, "kind, size") of a document that exists under ``out``."""
    p = out / rel
    return (label, rel, f"{kind}, {_size(p)}" if size else kind) if p.is_file() else None


def documents(out: Path, year: int) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(what, [(label, href, note)]) for the year's documents that exist under ``out``."""
    rows = []
    report = [x for x in (_doc(out, "province.html", "HTML", "trang web"), _doc(out, "province.pdf", "PDF", "A4"))
              if x]
    if report:
        rows.append(("Báo cáo kết quả toàn tỉnh", report))
    xl = _doc(out, excel_name(year), excel_name(year), "Excel: Phụ lục I–IV")
    if xl:
        rows.append(("Phụ lục số liệu (Excel)", [xl]))
    from sipas.publishing.official import site as official  # issue 14: the Word/PDF documents, draft or released

    for what, docs in official.rows(out, year):
        # a status (draft / released) is markup made by official.site.status_html (escaped there)
        links = [Markup(label) if kind == "status" else _doc(out, rel, label, kind) for rel, label, kind in docs]
        rows.append((what, [x for x in links if x]))
    q = _doc(out, "quality.html", "HTML", "kiểm tra dữ liệu đầu vào")
    if q:
        rows.append(("Chất lượng dữ liệu", [q]))
    # no size for the run's log: the page is written mid-run, when the manifest holds the steps
    # recorded so far (and what a previous run left), with durations and worker ids: the page
    # would change with the run's history
    m = _doc(out, "manifest.json", "manifest.json", "JSON", size=False)
    if m:
        rows.append(("Nhật ký lần chạy", [m]))
    tables = [x for x in (_doc(out, f"tables/{n}.csv", f"{n}.csv", "CSV")
                          for n in ("indices", "tests", "sample", "profile", "expectations")) if x]
    if tables:
        rows.append(("Bảng số liệu (dạng dài, UTF-8)", tables))
    return rows


def _unit_cell(out: Path, uid: str, name: str, linked: bool) -> str:
    """A unit's name in a ranking of the front door: a link to its annex (and its PDF)."""
    pdf = (out / "units" / f"{uid}.pdf").is_file()
    return str(macros().unit_link(name, f"units/{uid}.html" if linked else None, f"units/{uid}.pdf" if pdf else None))


def write_index(cfg: YearConfig, done=None) -> Path:
    """The year's page. ``done``: the annex tasks that succeeded in this run (objects
    with a ``name``); None = link every annex found on disk."""
    rep = Report(cfg.year, cfg.paths.root)
    out = cfg.paths.outputs(cfg.year)
    names = None if done is None else {t.name for t in done}

    def has(uid: str) -> bool:
        return (out / "units" / f"{uid}.html").is_file() and (names is None or uid in names)

    rankings = []
    for t in rep.unit_types:
        r = rep.ranking(t)
        links = {u: _unit_cell(out, u, n, has(u)) for u, n in zip(r.unit_id, r.unit_name)}
        rankings.append((lc(rep.type_label(t, plural=True)), fmt.pct(rep.value(group_id(t))), len(r),
                         Markup(ranking_table(rep, r, links))))
    body = env().get_template("year_index.html.j2").render(
        title=f"Kết quả đo lường sự hài lòng năm {cfg.year}",
        subtitle=f"{cfg.methodology.index_label}, tỉnh {rep.province}; chỉ số chung của tỉnh: {rep.aggregation_text}.",
        tiles=Markup(headline_tiles(rep)), docs=documents(out, cfg.year),
        n_units=sum(has(u.id) for u in cfg.units), n_all=len(cfg.units),
        n_pdf=sum((out / "units" / f"{u.id}.pdf").is_file() for u in cfg.units),
        rankings=rankings, note=Markup(flag_note(rep)))
    text = page(f"SIPAS {cfg.year} — {rep.province}", body, kicker=f"Tỉnh {rep.province} · {cfg.methodology.short_title}",
                footer=FOOTER, nav=[("Các năm", "../index.html")], toc=True)
    return write_text(out / "index.html", text)


def write_site_index(p: Paths) -> Path:
    """``outputs/index.html``: one row per year with a front page, headline figures and links."""
    years = sorted((int(d.name) for d in p.outputs().iterdir()
                    if d.name.isdigit() and (d / "index.html").exists()), reverse=True) if p.outputs().is_dir() else []
    with_tables = set(years_with_tables(p))
    rows = []
    for y in years:
        out = p.outputs(y)
        row = {"year": y, "province": None, "groups": [], "achieved": None,
               "docs": [(lab, f"{y}/{rel}") for rel, lab in
                        (("province.html", "Báo cáo"), ("province.pdf", "Báo cáo PDF"), (excel_name(y), "Excel"),
                         ("quality.html", "Chất lượng dữ liệu")) if (out / rel).is_file()]}
        if y in with_tables:
            rep = Report(y, p.root)
            row.update(province=fmt.pct(rep.value(PROVINCE_ID)), achieved=fmt.number(rep.sample.achieved.sum()),
                       groups=[(rep.type_label(t, plural=True), fmt.pct(rep.value(group_id(t))))
                               for t in rep.unit_types])
        rows.append(row)
    body = env().get_template("site_index.html.j2").render(years=rows,
                                                          trends=(p.outputs() / "trends.html").is_file())
    return write_text(p.outputs() / "index.html", page("SIPAS — các năm", body, kicker="sipas", footer=FOOTER))
