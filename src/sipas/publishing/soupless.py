"""nbconvert's last pass over a page, streamed: the same characters, without the soup.

nbconvert 7.17's ``HTMLExporter.from_notebook_node`` renders its template, then parses the
page with BeautifulSoup (``html.parser``), gives every ``img`` without ``alt`` a
placeholder one, makes ``.jp-Notebook div.jp-Cell-inputWrapper`` and
``.jp-Notebook div.jp-OutputArea-output`` focusable (``tabindex="0"``) and returns
``str(soup)``: more than half of the CPU of turning a notebook into a page. :func:`round_trip`
gives the same string without the tree: bs4's own parser (``BeautifulSoupHTMLParser``:
the same tokenizer, the same charrefs, entities, duplicate attributes and end tags of
void elements) feeds :class:`_Stream`, which stands in for the ``BeautifulSoup`` object
and writes what ``str(soup)`` would, as the tags come: the tree's order is the order of
the events, and a tag's ancestors (all the two selectors look at) are the open tags. Where
a rule would need more than that (a ``template``, whose contents soupsieve does not
enter) or bs4 rejects the markup, the soup itself runs, as in nbconvert. Written against
bs4 4.15, soupsieve 4.1 and nbconvert 7.17 (:data:`VERSIONS`): with others, nbconvert's
exporter as it is (:func:`sipas.publishing.render._exporter`).
"""

from __future__ import annotations

import html
from collections import Counter

import bs4
import nbconvert
import soupsieve
from bs4 import BeautifulSoup
from bs4.builder import HTMLParserTreeBuilder
from bs4.builder._htmlparser import BeautifulSoupHTMLParser
from bs4.dammit import EntitySubstitution
from bs4.element import DEFAULT_OUTPUT_ENCODING, AttributeValueWithCharsetSubstitution, PreformattedString, Tag
from bs4.exceptions import ParserRejectedMarkup
from bs4.formatter import HTMLFormatter

VERSIONS = {bs4: "4.15.", soupsieve: "4.1.", nbconvert: "7.17."}  # the ones whose behaviour is repeated
ALT = "No description has been provided for this image"
NOTEBOOK, FOCUSABLE = "jp-Notebook", ("jp-Cell-inputWrapper", "jp-OutputArea-output")

_CDATA = HTMLFormatter.REGISTRY["minimal"].cdata_containing_tags  # strings written as they are
_quoted = EntitySubstitution.quoted_attribute_value


class _Unsure(Exception):
    """Markup this stream does not reproduce with certainty: the soup decides."""


class _Opened:
    __slots__ = ("is_empty_element",)

    def __init__(self, void: bool):
        self.is_empty_element = void


_VOID, _OPEN = _Opened(True), _Opened(False)


class _Stream:
    """The ``BeautifulSoup`` methods ``BeautifulSoupHTMLParser`` calls (``handle_starttag``,
    ``handle_endtag``, ``handle_data``, ``endData``), each writing its part of ``str(soup)``
    (``Tag.decode``, minimal formatter) instead of growing a tree."""

    def __init__(self):
        self.builder = HTMLParserTreeBuilder(store_line_numbers=False)
        self.out: list[str] = []
        self.current_data: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # open tags: name, inside a .jp-Notebook (or one itself)
        self.open = Counter()
        self.preserving = 0  # open pre/textarea: whitespace kept as it is
        self.missing_alt = 0
        self.contains_replacement_characters = False  # set by the parser, as on the soup

    def endData(self, containerClass=None) -> None:  # noqa: N802 (bs4's name)
        # BeautifulSoup.endData: an all-ASCII-space string outside pre/textarea is one "\n" or " "
        if not self.current_data:
            return
        data = "".join(self.current_data)
        self.current_data = []
        if not self.preserving and not data.strip(BeautifulSoup.ASCII_SPACES):
            data = "\n" if "\n" in data else " "
        if containerClass is not None:  # comment, doctype, declaration, CDATA, PI: PREFIX + text + SUFFIX
            if not issubclass(containerClass, PreformattedString):
                raise _Unsure(containerClass)
            self.out.append(containerClass.PREFIX + data + containerClass.SUFFIX)
        elif self.stack and self.stack[-1][0] in _CDATA:
            self.out.append(data)
        else:
            self.out.append(html.escape(data, False))  # EntitySubstitution.substitute_xml: & < >

    def handle_data(self, data: str) -> None:
        self.current_data.append(data)

    def handle_starttag(self, name, namespace, nsprefix, attrs, sourceline=None, sourcepos=None):
        self.endData()
        if name == "template":  # soupsieve neither selects in nor looks out of its contents
            raise _Unsure(name)
        builder = self.builder
        if name == "meta":  # its charset is written as the output encoding's: bs4's own Tag does it
            attrs = Tag(None, builder, name, attrs=attrs).attrs
        else:
            attrs = builder._replace_cdata_list_attribute_values(name, attrs)  # class="a  b" -> ["a", "b"]
        classes = attrs.get("class", ())
        inside = bool(self.stack) and self.stack[-1][1]
        if name == "img" and "alt" not in attrs:
            attrs["alt"] = ALT
            self.missing_alt += 1
        elif name == "div" and inside and (FOCUSABLE[0] in classes or FOCUSABLE[1] in classes):
            attrs["tabindex"] = "0"
        parts = ["<", name]
        for key, val in sorted(attrs.items()):  # Formatter.attributes: sorted
            if isinstance(val, list):
                val = " ".join(val)
            elif isinstance(val, AttributeValueWithCharsetSubstitution):  # a meta's charset
                val = val.substitute_encoding(DEFAULT_OUTPUT_ENCODING)
            parts += (" ", key, "=", _quoted(html.escape(val, False)))
        void = name in builder.empty_element_tags
        parts.append("/>" if void else ">")
        self.out.append("".join(parts))
        self.stack.append((name, inside or NOTEBOOK in classes))
        self.open[name] += 1
        if name in builder.preserve_whitespace_tags:
            self.preserving += 1
        return _VOID if void else _OPEN

    def handle_endtag(self, name, nsprefix=None) -> None:
        # BeautifulSoup._popToTag: close up to and including the latest open `name`, if any
        self.endData()
        if self.open[name]:
            while self._pop() != name:
                pass

    def _pop(self) -> str:
        name, _ = self.stack.pop()
        self.open[name] -= 1
        if name in self.builder.preserve_whitespace_tags:
            self.preserving -= 1
        if name not in self.builder.empty_element_tags:
            self.out.append(f"</{name}>")
        return name

    def close(self) -> str:
        self.endData()
        while self.stack:
            self._pop()
        return "".join(self.out)


def supported() -> bool:
    return all(module.__version__.startswith(v) for module, v in VERSIONS.items())


def streamed(page: str) -> tuple[str, int] | None:
    """``str(soup)`` of nbconvert's pass over ``page`` and the number of images given the
    placeholder alt, or None where the stream is not certain to give it."""
    stream = _Stream()
    args, kwargs = stream.builder.parser_args
    parser = BeautifulSoupHTMLParser(stream, *args, **kwargs)
    try:
        parser.feed(page)
        parser.close()
    except (_Unsure, ParserRejectedMarkup, AssertionError):
        return None
    return stream.close(), stream.missing_alt


def souped(page: str) -> tuple[str, int]:
    """nbconvert 7.17's own pass (``HTMLExporter.from_notebook_node``), the warning aside."""
    soup = BeautifulSoup(page, features="html.parser")
    missing_alt = 0
    for elem in soup.select("img:not([alt])"):
        elem.attrs["alt"] = ALT
        missing_alt += 1
    for elem in soup.select(".jp-Notebook div.jp-Cell-inputWrapper"):
        elem.attrs["tabindex"] = "0"
    for elem in soup.select(".jp-Notebook div.jp-OutputArea-output"):
        elem.attrs["tabindex"] = "0"
    return str(soup), missing_alt


def round_trip(page: str) -> tuple[str, int]:
    return streamed(page) or souped(page)
