"""Executed notebook -> one self-contained HTML page without code.

nbconvert's ``basic`` template renders the code cells' outputs only (code and the
notebook's own markdown notes for analysts are left out); the
page template wraps them with the house CSS inlined, a table of contents built from
the ``h2`` headings, and no script, font or stylesheet from anywhere else, so an
annex opens offline and prints on A4.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import jinja2
import nbformat

_PKG = Path(__file__).parent


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_PKG / "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              keep_trailing_newline=True)


@lru_cache(maxsize=1)
def css() -> str:
    return (_PKG / "assets" / "sipas.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="basic", exclude_input=True, exclude_markdown=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, anchor_link_text="")


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
        items = "".join(f'<li><a href="#{i}">{html.escape(t)}</a></li>' for i, t in toc)
        nav = f'<nav class="toc" aria-label="Mục lục"><strong>Mục lục</strong><ol>{items}</ol></nav>\n'
        at = body.find("<h2 ")
        body = body[:at] + nav + body[at:]
    return body, toc


def page(title: str, body: str, kicker: str = "", footer: str = "", nav=None, toc: bool = False) -> str:
    """Wrap ``body`` (trusted HTML) in the house page; ``toc`` adds contents before the first h2."""
    if toc:
        body, _ = _with_toc(body)
    return _env().get_template("page.html.j2").render(
        title=title, body=_markup(body), css=_markup(css()), kicker=kicker, footer=footer, nav=nav or [])


def _markup(text: str):
    from markupsafe import Markup

    return Markup(text)


def notebook_html(nb: nbformat.NotebookNode, title: str, kicker: str = "", footer: str = "", nav=None) -> str:
    """An executed notebook as a finished annex page (no code, contents, inline CSS)."""
    body, _ = _exporter().from_notebook_node(nb)
    m = re.search(r"<body[^>]*>(.*)</body>", body, re.S)
    inner = m.group(1) if m else body
    inner = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", inner, flags=re.S)
    return page(title, inner, kicker=kicker, footer=footer, nav=nav, toc=True)


def write_notebook_html(nb_path: Path, html_path: Path, **kw) -> Path:
    from sipas.base.io import write_text

    nb = nbformat.read(nb_path, as_version=4)
    return write_text(html_path, notebook_html(nb, **kw))
