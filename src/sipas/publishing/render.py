"""Executed notebook -> one self-contained HTML page without code: the one render path.

:func:`notebook_html` is what every page built from a notebook goes through (unit
annexes, the province report, the trends annex), whoever executed the notebook (the
warm-kernel executor of :mod:`sipas.running.executor`, for the batch, the tests and the
trends alike). The notebook is the page's table of contents: its cells' outputs *and*
its markdown cells appear in order (an analyst's added paragraph, table or chart shows
where it was put); code is never shown, and cells tagged ``note`` (remarks for the
analyst in JupyterLab) are left out. The page template wraps the cells with the house
CSS inlined, a table of contents built from the ``h2`` headings (markdown ones
included), and no script, font or stylesheet from anywhere else, so a page opens
offline and prints on A4.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from sipas.publishing.templating import env, macros

if TYPE_CHECKING:  # the driver imports this module for annex_chrome: no nbformat (0.2 s) there
    import nbformat

_PKG = Path(__file__).parent


FOOTER = "Tạo tự động bởi sipas từ dữ liệu khảo sát; số liệu tái lập được."
NOTE_TAG = "note"  # a cell for the analyst only (JupyterLab), not on the page


@lru_cache(maxsize=1)
def css() -> str:
    return (_PKG / "assets" / "sipas.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _exporter():
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = (NOTE_TAG,)
    # optimistic_validation: the notebook is validated once, after the last preprocessor, not after
    # each of the dozen (a quarter of the CPU of the page: 65 -> 49 ms; the page unchanged)
    return _exporter_class()(config=config, template_name="basic", exclude_input=True, exclude_input_prompt=True,
                             exclude_output_prompt=True, anchor_link_text="", optimistic_validation=True)


def _exporter_class():
    """nbconvert's HTMLExporter, its BeautifulSoup pass streamed (:mod:`sipas.publishing.soupless`:
    the same page; notebook_html 59 -> 22 ms per 2025 annex); with other versions of nbconvert, bs4 or soupsieve
    than the ones that pass was written against, the exporter as it is."""
    from nbconvert import HTMLExporter

    from sipas.publishing import soupless

    if not soupless.supported():
        return HTMLExporter

    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class StreamingHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            # HTMLExporter.from_notebook_node of nbconvert 7.17 up to its soup: the same filters, the template
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                     resources=resources)
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            page, missing_alt = soupless.round_trip(page)
            if missing_alt:
                self.log.warning("Alternative text is missing on %s image(s).", missing_alt)
            return page, resources

    return StreamingHTMLExporter


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "muc"


_H2 = re.compile(r"<h2(?P<attrs>[^>]*)>(?P<inner>.*?)</h2>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _with_toc(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Give every h2 a stable id (slug of its text) and list them for the contents."""
    toc: list[tuple[str, str]] = []
    seen: dict[str, int] = {}

    def fix(m: re.Match) -> str:
        text = html.unescape(_TAGS.sub("", m.group("inner"))).replace("¶", "").strip()
        slug = _slug(text)
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug = f"{slug}-{seen[slug]}"
        toc.append((slug, text))
        attrs = re.sub(r'\s*id="[^"]*"', "", m.group("attrs"))
        return f'<h2 id="{slug}"{attrs}>{m.group("inner")}</h2>'

    body = _H2.sub(fix, body)
    if toc:
        at = body.find("<h2 ")
        body = body[:at] + str(macros().toc(toc)) + "\n" + body[at:]
    return body, toc


def page(title: str, body: str, kicker: str = "", footer: str = FOOTER, nav=None, toc: bool = False) -> str:
    """Wrap ``body`` (trusted HTML) in the house page; ``toc`` adds contents before the first h2."""
    if toc:
        body, _ = _with_toc(body)
    return env().get_template("page.html.j2").render(
        title=title, body=Markup(body), css=Markup(css()), kicker=kicker, footer=footer, nav=nav or [])


def notebook_html(nb: nbformat.NotebookNode, title: str, kicker: str = "", footer: str = FOOTER, nav=None) -> str:
    """An executed notebook as a finished page (its outputs and markdown in order, no code,
    contents, inline CSS). The one function every notebook page goes through."""
    body, _ = _exporter().from_notebook_node(nb)
    m = re.search(r"<body[^>]*>(.*)</body>", body, re.S)
    inner = m.group(1) if m else body
    inner = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", inner, flags=re.S)
    return page(title, inner, kicker=kicker, footer=footer, nav=nav, toc=True)


def annex_chrome(province: str, year: int, top_level: bool = False) -> dict:
    """``kicker``, ``footer`` and ``nav`` of a year's annex page (what surrounds the
    notebook's cells); ``top_level``: the page sits beside the year's index
    (``province.html``), else one folder down (``units/<id>.html``)."""
    return {"kicker": f"Tỉnh {province} · Khảo sát sự hài lòng năm {year}", "footer": FOOTER,
            "nav": ((f"Trang chủ năm {year}", "index.html" if top_level else "../index.html"),)}
