"""The streamed BeautifulSoup pass of :mod:`sipas.publishing.soupless` against the soup itself:
on the pages of real demo notebooks (two methods, the province report, the trends), on
notebooks carrying what analysts add (pandas tables, Styler, markdown with raw HTML,
images, errors), on seeded random tag soup and on hand-written cases; the stream is taken
for our pages, the soup where the stream is unsure."""

from __future__ import annotations

import base64
import logging
import random
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from sipas.publishing import render, soupless

from .annex_project import DISTRICT, UNIT, published, render_annexes

pytestmark = pytest.mark.skipif(not soupless.supported(), reason="the stream repeats bs4 4.15 / nbconvert 7.17")


def _stock() -> HTMLExporter:
    """nbconvert's own exporter, configured as :func:`render._exporter`."""
    ours = render._exporter()
    assert type(ours) is not HTMLExporter
    return HTMLExporter(config=ours.config, template_name="basic", exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, anchor_link_text="", optimistic_validation=True)


def _pages(nb, monkeypatch) -> tuple[str, str, str]:
    """nbconvert's page of ``nb``, ours, and the template's page the pass was given."""
    given = []
    real = soupless.round_trip
    monkeypatch.setattr(soupless, "round_trip", lambda page: given.append(page) or real(page))
    ours, _ = render._exporter().from_notebook_node(nb)
    monkeypatch.undo()
    stock, _ = _stock().from_notebook_node(nb)
    return stock, ours, given[0]


def assert_same(page: str, streamed: bool | None = None) -> None:
    want = soupless.souped(page)
    got = soupless.streamed(page)
    if streamed is not None:
        assert (got is not None) == streamed, page[:300]
    if got is not None:
        assert got == want, page[:300]


# ---------------------------------------------------------------- real pages

@pytest.fixture(scope="module")
def executed(demo, tmp_path_factory) -> list[Path]:
    """Executed notebooks of the annex tests' published project (2023: province report,
    a department, a district; the comment with markup), plus 2022 (the other method) and
    the 2022-2023 trends, executed here the way ``sipas run`` does."""
    from sipas.base.config import paths
    from sipas.publishing import trends
    from sipas.running.executor import AnnexTask, run_task

    root = published(demo, tmp_path_factory.getbasetemp())
    render_annexes(root, 2022, ["province", UNIT])
    p = paths(root)
    trends.write_trends_table([2022, 2023], paths=p)
    page = trends.trends_spec([2022, 2023], p)
    page["executed"].parent.mkdir(parents=True, exist_ok=True)
    res = run_task(AnnexTask(year=2023, name="trends", notebook=str(page["notebook"]), parameters=page["parameters"],
                             html=str(page["html"]), executed=str(page["executed"]),
                             log=str(p.outputs() / "notebooks" / "trends.log"), title=page["title"],
                             kicker=page["kicker"], footer=page["footer"], nav=page["nav"]))
    assert res.ok, res.error
    nbs = [p.outputs(y) / "notebooks" / f"{n}.ipynb" for y, n in
           ((2023, "province"), (2023, UNIT), (2023, DISTRICT), (2022, "province"), (2022, UNIT))]
    return [*nbs, page["executed"]]


@pytest.mark.slow  # the fixture renders annexes in a warm kernel
def test_real_pages_are_streamed_and_the_same(executed, monkeypatch):
    for path in executed:
        stock, ours, page = _pages(nbformat.read(path, as_version=4), monkeypatch)
        assert ours == stock, path
        assert soupless.streamed(page) is not None, f"{path}: fell back to the soup"
        assert soupless.souped(page)[0] == stock
        assert_same(page, streamed=True)


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _analyst_notebook() -> nbformat.NotebookNode:
    """Cells an analyst adds, with the outputs their code gives (no kernel needed)."""
    df = pd.DataFrame({"Đơn vị": ["Sở A & B", "<Huyện>", "x \"q\" 'y'"], "Tỷ lệ": [0.5, 0.25, float("nan")]},
                      index=pd.Index(["a", "b", "c"], name="mã"))
    styled = df.style.format({"Tỷ lệ": "{:.1%}"}, na_rep="–").highlight_max(color="#fde").set_caption("Bảng <1>")
    html = {"text/html": df.to_html(), "text/plain": repr(df)}
    cells = [
        new_markdown_cell("## Nhận xét thêm\n\nMột đoạn *in nghiêng*, `mã`, <b>đậm</b> &amp; &copy; &#8211; &#150;"
                          "<br>dòng<br/>mới\n\n<!-- ghi chú --> <details><summary>Xem</summary><p>ẩn</details>\n\n"
                          "<img src='x.png'> <img src=\"y.png\" alt=\"có\"> <div class='jp-OutputArea-output'>t</div>\n\n"
                          "| a | b |\n|---|---|\n| 1 | <i>2</i> |\n\n$x^2 < y$\n\n<pre>  a\n\n  b</pre>"),
        new_code_cell("df", outputs=[new_output("execute_result", data=html, execution_count=1)]),
        new_code_cell("styled", outputs=[new_output("display_data", data={"text/html": styled.to_html()})]),
        new_code_cell("plot", outputs=[new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]),
        new_code_cell("print", outputs=[new_output("stream", name="stdout", text="a < b & c\n\n   \n\tx\n")]),
        new_code_cell("raw", outputs=[new_output("display_data", data={
            "text/html": "<table class='x  y'><tr><td headers='h1   h2'>1</td><td>2</table><p>open <span>span",
            "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'><rect width='1' height='1'/></svg>"})]),
        new_code_cell("err", outputs=[new_output("error", ename="KeyError", evalue="'x'",
                                                 traceback=["\x1b[0;31mKeyError\x1b[0m: 'x' <here>"])]),
        new_code_cell("latex", outputs=[new_output("display_data", data={"text/latex": "$\\alpha < 1$",
                                                                          "text/markdown": "**md** <u>u</u>"})]),
    ]
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


def test_notebook_an_analyst_extends_is_the_same(monkeypatch, caplog):
    nb = _analyst_notebook()
    with caplog.at_level(logging.WARNING):
        stock, ours, page = _pages(nb, monkeypatch)
    assert ours == stock
    assert soupless.streamed(page) is not None  # comments, details, unclosed tags: all streamed
    assert 'alt="No description has been provided for this image"' in ours
    assert "Alternative text is missing on" in caplog.text  # nbconvert's warning kept
    assert_same(page)


def test_a_notebook_with_a_template_falls_back_to_the_soup(monkeypatch):
    nb = new_notebook(cells=[new_markdown_cell("<template><div class='jp-Cell-inputWrapper'>x</div></template>")])
    stock, ours, page = _pages(nb, monkeypatch)
    assert ours == stock
    assert soupless.streamed(page) is None


# ---------------------------------------------------------------- random tag soup

NAMES = ["div", "span", "img", "br", "p", "pre", "textarea", "script", "style", "a", "td", "th", "table", "tr",
         "li", "meta", "link", "input", "hr", "DIV", "Img", "x-y", "svg", "b", "template", "rt", "iframe", "title"]
CLASSES = ["jp-Notebook", "jp-Cell-inputWrapper", "jp-OutputArea-output", "jp-notebook", "x", "", "a  b",
           "\tjp-Notebook\n", "jp-OutputArea-output\u00a0y", "jp-Cell-inputWrapper\u2003z"]
VALUES = ["v", "", "a&b", "a<b>c", 'say "hi"', "it's", "both ' and \"", "&amp;", "&#39;", "&#x27;", "&#150;",
          "&nbsp;x", "&bogus;", "&amp", "0", "utf-8", "text/html; charset=ISO-8859-1", "Content-Type", "tiếng Việt"]
KEYS = ["id", "alt", "ALT", "tabindex", "class", "rel", "headers", "charset", "http-equiv", "content", "title",
        "data-x", "src", "accesskey"]
TEXTS = ["a < b", "x > y", "&amp;", "&nbsp;", "&#128;", "&#x80;", "&#0;", "&#1114112;", "&#xD800;", "&notreal;",
         "&amp", "&#65", "&#x41z", "&copy", "   ", "\n\t ", "\r", "\x0c", " \n ", "\u00a0", "Hà Nội", "&",
         "&#;", "&#x;", "<", ">", "</", "<!", "< div>", "<>", "</>", "'\"", "\u2003", "&lt;b&gt;", "]]>", "&#32;&#10;"]
SPECIAL = ["<!-- c -->", "<!---->", "<!-- a -- b -->", "<!DOCTYPE html>", "<!doctype HTML PUBLIC 'x'>",
           "<![CDATA[x < y]]>", "<?php echo 1 ?>", "<?xml version='1.0'?>", "<!weird decl>", "<!--unclosed",
           "<!DOCTYPE>", "<![if !IE]>"]


def _attrs(rng: random.Random) -> str:
    out = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4])):
        key = rng.choice(KEYS)
        if rng.random() < 0.4 or key == "class":
            key = "class" if rng.random() < 0.6 else key
            val = rng.choice(CLASSES) + (" " + rng.choice(CLASSES) if rng.random() < 0.3 else "")
        else:
            val = rng.choice(VALUES)
        form = rng.random()
        if form < 0.08:
            out.append(key)  # no value
        elif form < 0.16 and val and not any(c in val for c in " \"'=<>`"):
            out.append(f"{key}={val}")
        elif '"' in val:
            out.append(f"{key}='{val}'" if "'" not in val else f'{key}="{val.replace(chr(34), "&quot;")}"')
        else:
            out.append(f'{key}="{val}"')
    return "".join(" " + a for a in out)


def _soup(rng: random.Random, size: int) -> str:
    parts, stack = [], []
    for _ in range(size):
        r = rng.random()
        if r < 0.32:
            name = rng.choice(NAMES)
            slash = "/" if rng.random() < 0.1 else ""
            parts.append(f"<{name}{_attrs(rng)}{slash}>")
            stack.append(name)
        elif r < 0.55 and stack:
            # mostly the right end tag, sometimes one further down, a void one or a stray one
            name = stack.pop() if rng.random() < 0.8 else rng.choice(NAMES)
            parts.append(f"</{name}>")
        elif r < 0.9:
            parts.append(rng.choice(TEXTS))
        elif r < 0.93:
            parts.append(rng.choice(SPECIAL))
        else:
            parts.append(rng.choice(["<div class='jp-Notebook'>", "<div class=\"jp-Cell-inputWrapper\">",
                                     "<div class='jp-OutputArea-output' tabindex='-1'>", "<img src=x>",
                                     "<img alt src=y>", "</div>"]))
    return "".join(parts)


@pytest.mark.filterwarnings("ignore::bs4.XMLParsedAsHTMLWarning")  # an <?xml ...?> in the soup
@pytest.mark.parametrize("seed", range(6))
def test_random_tag_soup_streamed_as_the_soup_writes_it(seed):
    rng = random.Random(seed)
    streamed = fell = 0
    for _ in range(250):
        page = _soup(rng, rng.randint(1, 60))
        got = soupless.streamed(page)
        if got is None:
            fell += 1
            continue
        streamed += 1
        assert got == soupless.souped(page), page
    # both paths exercised: most soups streamed, those with a template or rejected markup not
    assert streamed > 150 and fell > 5, (streamed, fell)


# ---------------------------------------------------------------- hand-written cases

CASES = {
    # streamed
    "<div class='jp-Notebook'><div class='jp-Cell-inputWrapper x'>a</div></div>": True,
    "<div class='jp-Cell-inputWrapper jp-Notebook'>not inside</div>": True,
    "<div class='jp-Notebook'><p><div class=jp-OutputArea-output tabindex=5>b</div></p></div>": True,
    "<div class='jp-Notebook'><span class='jp-OutputArea-output'>not a div</span></div>": True,
    "<section class='jp-Notebook'><div class=' jp-OutputArea-output\t'>x</div></section>": True,
    "<img src=a><img src=b alt=''><img src=c alt><IMG SRC=d><img/>": True,
    "<br></br><br/></br></br><p>a</br>b</p>": True,
    "<p>a<div>b</p>c</div>d</span>": True,
    "<b><i>x</b>y</i>": True,
    "<div>   </div><div> \n </div><pre>   </pre><pre>\n\n</pre><textarea> </textarea><pre><b>  </b></pre>": True,
    "<pre><pre>a</pre> </pre> <p> </p>": True,
    "<script>if (a < b && c > d) {}</script><style>p > a { x: '&amp;' }</style>": True,
    "<script>  </script><style>\n</style>": True,
    "<a rel='nofollow  noopener' href='x?a=1&amp;b=2'>l</a><td headers=' a  b '>c</td>": True,
    "<meta charset='ISO-8859-1'><meta http-equiv='Content-Type' content='text/html; charset=latin1'>": True,
    "<p title=\"it's\" data-a='say \"hi\"' data-b=\"&quot;'\">q</p>": True,
    "<p id=a id=b class=x class=y>dup</p>": True,
    "&#128;&#x80;&#150;&#0;&#1114112;&#xD800;&#65&#x41z&notreal;&copy&amp&nbsp;&#32;": True,
    "<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head><body><!-- c --><![CDATA[x]]><?pi x?></body></html>":
        True,
    "<!DOCTYPE>": True,
    "<div>unclosed <span>to the end": True,
    "": True,
    "plain text only & <": True,
    "<![CDATA[ unclosed": True,
    "<!DOCTYPE html [ <!ENTITY x y> ]>": True,
    "<!ELEMENT x>": True,
    "<!-": True,
    "<a <b>": True,
    '<a b="c>': True,
    "&#99999999999999999999;": True,
    # the soup
    "<template><div class='jp-Notebook'><div class='jp-Cell-inputWrapper'></div></div></template>": False,
}


@pytest.mark.filterwarnings("ignore::bs4.XMLParsedAsHTMLWarning")
@pytest.mark.parametrize("page", list(CASES))
def test_hand_written_case(page):
    assert_same(page, streamed=CASES[page])


def test_markup_the_soup_rejects_is_rejected_as_nbconvert_does():
    from bs4.exceptions import ParserRejectedMarkup

    assert soupless.streamed("<![foo bar]>x") is None
    with pytest.raises(ParserRejectedMarkup):
        soupless.round_trip("<![foo bar]>x")


def test_alt_count_is_the_soups():
    page = "<div><img src=a><img src=b alt=x><img src=c></div>"
    assert soupless.streamed(page)[1] == soupless.souped(page)[1] == 2


def test_other_versions_get_nbconvert_s_exporter(monkeypatch):
    monkeypatch.setitem(soupless.VERSIONS, soupless.bs4, "4.16.")
    assert not soupless.supported()
    assert render._exporter_class() is HTMLExporter
