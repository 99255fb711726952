"""HTML of the pages' parts, from the Jinja2 macros of ``templates/macros.html.j2``.

Owns the Python side of each macro (the environment, autoescape on, is in
:mod:`sipas.publishing.templating`): a table (:func:`table_html`), tiles, a figure,
citizens' comments, headings, paragraphs, lists, the footnote of intervals and
reliability marks. Values are escaped by the
templates; text the package already built as markup (narrative sentences, links) is
passed as :class:`markupsafe.Markup` and kept. The functions return plain ``str`` (so
that sections can join them; a Markup joined with a str would escape the str).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import pandas as pd
from markupsafe import Markup

from sipas.base import formats as fmt
from sipas.publishing.templating import macros
from sipas.publishing.text import FLAG_MARK, FLAG_MARKS, ci_text, flag_mark, is_suppressed


def _pct_cell(v, lo=None, hi=None, flag=None, digits: int = 2) -> tuple[str, tuple[str, bool, str]]:
    """A percentage of :func:`table_html`: its text and (reliability mark, suppressed, interval)
    (the table macro writes the cell: a macro call per cell is most of a long table's time)."""
    mark = flag_mark(flag) if flag is not None else ""
    ci = ci_text(lo, hi) if lo is not None else ""
    return fmt.pct(v, digits), (mark, bool(mark) and is_suppressed(flag), ci)


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _rows(df: pd.DataFrame):
    """The rows of ``df`` as mappings column -> value: the values ``df.iterrows()`` gives
    (it builds a Series from each row of ``df.values``, as here), without building a
    Series per row (most of a long table's time). A row of text and missing values only
    still goes through a Series, which makes it a ``str`` one (None becomes NaN)."""
    cols = list(df.columns)
    if not df.columns.is_unique:  # a label names several columns: a row's r[col] is a Series
        cols = None
    for v in df.values:
        if cols is None or (v.dtype == object and all(_str_or_missing(x) for x in v)):
            yield pd.Series(v, index=df.columns)
        else:
            yield dict(zip(cols, v))


def _str_or_missing(x) -> bool:
    return isinstance(x, str) or x is None or x is pd.NA or (isinstance(x, float) and x != x)


def table_html(df: pd.DataFrame, columns: dict[str, str], pct: tuple[str, ...] = (),
               num: tuple[str, ...] = (), caption: str | None = None, css: str = "sipas-table",
               ci: dict[str, tuple[str, str]] | None = None, flags: dict[str, str] | None = None,
               group: str | None = None, html_cols: tuple[str, ...] = (), pp: tuple[str, ...] = (),
               note: str | None = None, highlight: tuple[str, str] | None = None) -> str:
    """An escaped HTML table: ``columns`` maps frame columns to Vietnamese headers;
    ``pct`` columns print as 82,66%, ``num`` with thousands dots, ``pp`` as differences in
    percentage points. ``ci`` maps a pct column to its (low, high) columns, shown under
    the figure; ``flags`` maps a pct column to a flag column (asterisk). ``group`` names
    a column whose changes start a band row instead of repeating it on every row.
    ``html_cols`` hold trusted markup built by the package (links), and ``note`` is
    trusted markup; every other value is escaped. ``highlight`` = (column, value) marks that row."""
    ci = ci or {}
    flags = flags or {}
    right = set(pct) | set(num) | set(pp)
    head = [(h, c in right) for c, h in columns.items()]
    rows = []
    last = object()
    for r in _rows(df):
        band = None
        if group is not None and r[group] != last:
            last = band = r[group]
            band = str(band)
        cells = []
        for col in columns:
            v = r[col]
            if col in pct:
                lo, hi = (r.get(ci[col][0]), r.get(ci[col][1])) if col in ci else (None, None)
                cells.append((True, *_pct_cell(v, lo, hi, r.get(flags[col]) if col in flags else None)))
            elif col in num:
                cells.append((True, fmt.number(v), None))
            elif col in pp:
                cells.append((True, fmt.pp(v).replace(" điểm %", ""), None))
            elif col in html_cols:
                cells.append((False, Markup(v), None))
            else:
                cells.append((False, _text(v), None))
        rows.append((band, highlight is not None and r.get(highlight[0]) == highlight[1], cells))
    return str(macros().table(head, rows, css, caption, Markup(note) if note else None, len(columns)))


def flag_note(rep) -> str:
    """Footnote: the interval legend, and the meaning of each reliability mark in use
    (wording from :func:`sipas.estimation.indices.flag_footnote`)."""
    from sipas.estimation.indices import FLAG_NOTES, flag_footnote
    from sipas.estimation.policy import NOTES as POLICY_NOTES

    parts = []
    if rep.has_intervals:
        parts.append(Markup.escape(f"Số nhỏ dưới mỗi tỷ lệ: {rep.ci_method_text} {rep.level_text} (đơn vị: %)."))
    if rep.has_flags:
        for code in rep.flag_codes:
            if code in POLICY_NOTES:           # publication policy "caution" (sipas.estimation.policy)
                parts.append(macros().flagnote(FLAG_MARKS[code], POLICY_NOTES[code].split(" ", 1)[1]))
                continue
            if code not in FLAG_NOTES:
                raise ValueError(f"reliability flag {code!r} has no footnote in sipas.estimation.indices.FLAG_NOTES")
            text = flag_footnote([code]).split(") ", 1)[-1]
            parts.append(macros().flagnote(FLAG_MARKS.get(code, FLAG_MARK), text))
    return str(Markup(" ").join(parts))


def show(markup: str):
    """Display HTML in a notebook (and so in the rendered annex)."""
    from IPython.display import HTML, display

    display(HTML(markup))


def figure_html(fig, alt: str, caption: str | None = None, dpi: int = 144, width: str = "100%") -> str:
    """A matplotlib figure as an embedded PNG in a ``<figure>``; the figure is closed.

    144 dpi: 1008 pixels across the 7-inch column the charts are drawn for (1.5 device
    pixels per CSS pixel on screen, 144 dpi on paper), sharp in both. zlib level 3 makes
    these flat-coloured PNGs about 7% larger than the default level 6 in about two thirds
    of the time."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    canvas = fig.canvas
    _pooled_canvas()(fig)  # draws on the renderer of the last figure of this size (same pixels)
    try:
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    finally:
        fig.set_canvas(canvas)
    w_in = fig.get_figwidth()
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return str(macros().figure(data, alt, width, f"{w_in:.1f}", caption))


_KEPT = threading.local()  # .renderers: (width, height, dpi, rcParams) -> the Agg renderer last used
RENDERERS_KEPT = 4  # sizes (a renderer holds its pixels: about 5 MB for a chart)


def kept_renderers() -> dict:
    """This thread's kept renderers (a thread never draws on another's)."""
    if not hasattr(_KEPT, "renderers"):
        _KEPT.renderers = {}
    return _KEPT.renderers


@lru_cache(maxsize=1)
def _pooled_canvas():
    """An Agg canvas class whose renderer is kept for the next figure of the same pixel
    size, dpi and rcParams. Every draw starts by clearing the renderer, so the pixels are
    a fresh renderer's; what is kept is its cache of text sizes (matplotlib's is per
    renderer), which the charts of one annex after another share: their tick labels,
    item names and legends (a fifth of drawing the element chart). Keyed on every
    rcParam, so an annex that changes the fonts or the hinting never gets the sizes
    measured under another annex's settings."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = _text_caching_renderer()

    class PooledCanvas(FigureCanvasAgg):
        def get_renderer(self):
            w, h = self.get_width_height(physical=True)
            key = (w, h, self.figure.dpi, tuple((k, repr(v)) for k, v in sorted(mpl.rcParams.items())))
            kept = kept_renderers()
            r = kept.pop(key, None) or renderer(w, h, self.figure.dpi)
            kept[key] = r  # the most recently used last
            while len(kept) > RENDERERS_KEPT:
                del kept[next(iter(kept))]
            self.renderer = r
            return r

    return PooledCanvas


TEXT_CACHE_MAX = 50_000  # laid-out strings plus glyph bitmaps (a few hundred bytes each)
MATPLOTLIB_TEXT_API = "3.11."  # the matplotlib whose private text drawing the renderer below repeats


@lru_cache(maxsize=1)
def _text_caching_renderer():
    """Matplotlib's Agg renderer, but a plain (not math) string's glyph layout and each
    glyph's bitmap are kept for the next time they are drawn: the charts of one annex
    after another draw the same tick labels, names and legends, and laying out and
    rasterising them was a sixth of drawing a chart. The pixels are the same: the layout
    is a function of the font, size, dpi, string and flags; a glyph's bitmap of the font,
    size, dpi, transform, flags and the sub-pixel part of its position (FreeType moves a
    glyph by whole pixels without changing its bitmap), so the bitmap is stored with that
    fraction in its key and placed by the whole pixels (``RendererAgg.draw_text``,
    ``_draw_text_glyphs_and_boxes`` of matplotlib 3.11, line for line otherwise)."""
    import matplotlib
    import numpy as np
    from matplotlib import ft2font
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
    from matplotlib.font_manager import fontManager, get_font

    # written against matplotlib 3.11's private text API (FT2Font._layout, _set_transform,
    # _render_glyph): with any other version, matplotlib's own renderer
    if not matplotlib.__version__.startswith(MATPLOTLIB_TEXT_API) or not all(
            hasattr(ft2font.FT2Font, a) for a in ("_layout", "_set_transform", "_render_glyph")) \
            or not hasattr(ft2font, "RenderMode"):
        return RendererAgg
    RenderMode = ft2font.RenderMode

    layouts: dict = {}
    glyphs: dict = {}

    class TextCachingRenderer(RendererAgg):
        def _get_font_height_metrics(self, prop):
            """The font's ascent, descent and line gap at the size of ``prop`` (the hook that
            ``Text._get_layout`` asks the renderer first; matplotlib 3.11 otherwise reads them from
            the font's tables at each layout): its computation, kept per font properties (equal
            when their hashes are, as in matplotlib's font lookup) for this renderer, whose dpi
            is the figure's and whose rcParams never change (:func:`_pooled_canvas`)."""
            kept = self.__dict__.setdefault("_font_heights", {})
            key = hash(prop)
            if key not in kept:
                kept[key] = (None, None, None)  # no table: matplotlib measures "lp"
                font = get_font(fontManager._find_fonts_by_props(prop))
                for table_name, linegap_key, ascent_key, descent_key in (
                        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                        ("hhea", "lineGap", "ascent", "descent")):
                    table = font.get_sfnt_table(table_name)
                    if table is None:
                        continue
                    scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * self.dpi / 72
                    kept[key] = (table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale)
                    break
            return kept[key]

        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if ismath or not gc.get_antialiased():
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            font = self._prepare_font(prop)
            flags = get_hinting_flag()
            features = mtext.get_fontfeatures() if mtext is not None else None
            language = mtext.get_language() if mtext is not None else None
            size = prop.get_size_in_points()
            key = (font, s, size, self.dpi, flags, features, language)
            try:
                items = layouts.get(key)
            except TypeError:  # an unhashable feature or language list: no cache
                key, items = None, None
            if items is None:
                items = [(item.ft_object, item.glyph_index, item.x, item.y)
                         for item in font._layout(s, flags=flags, features=features, language=language)]
                if key is not None:
                    if len(layouts) > TEXT_CACHE_MAX:
                        layouts.clear()
                    layouts[key] = items
            cos = math.cos(math.radians(angle))
            sin = math.sin(math.radians(angle))
            matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[1, 0], [0, 1]]).round().astype(int)
            mkey = tuple(matrix.ravel().tolist())
            height = self.height
            for ft, glyph, dx, dy in items:  # dy is upwards
                ox = round(0x40 * (x + dx * cos - dy * sin))
                oy = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y is upwards
                gkey = (ft, size, self.dpi, glyph, mkey, ox & 63, oy & 63, flags)
                got = glyphs.get(gkey)
                if got is None:
                    ft.set_size(size, self.dpi)
                    ft._set_transform(matrix, [ox & 63, oy & 63])
                    bitmap = ft._render_glyph(glyph, flags, RenderMode.NORMAL)
                    if len(glyphs) > TEXT_CACHE_MAX:
                        glyphs.clear()
                    got = glyphs[gkey] = (bitmap.buffer, bitmap.left, bitmap.top)
                buffer, left, top = got
                # draw_text_image's y is downwards & the bitmap bottom side
                self._renderer.draw_text_image(buffer, left + (ox >> 6), int(height) - (top + (oy >> 6))
                                               + buffer.shape[0], 0, gc)

    return TextCachingRenderer


def comments_html(comments: list[str]) -> str:
    """Citizens' free text, escaped: markup in a comment shows as text, never runs."""
    return str(macros().comments(comments))


def heading(number: int | str | None, text: str, level: int = 2) -> str:
    return str(macros().heading(f"{number}. {text}" if number not in (None, "") else text, level))


def paragraphs(sentences: list[str]) -> str:
    """Trusted sentences (already escaped by :mod:`sipas.publishing.narrative`) as paragraphs."""
    return str(macros().paragraphs([Markup(s) for s in sentences if s]))


def list_html(items: list[str], ordered: bool = False) -> str:
    """Trusted items (narrative) as a list."""
    return str(macros().list([Markup(x) for x in items], ordered))


def tiles_html(items: list[tuple[str, str, str]]) -> str:
    """Headline tiles: (label, value, note) each; pass Markup for a value or note with markup."""
    return str(macros().tiles(items))


def title_html(title: str, subtitle: str) -> str:
    """A page's ``h1`` and the line under it."""
    return str(macros().title(title, subtitle))


def with_ci(value, ci: str) -> str:
    """A figure with its interval under it (``ci``: already formatted)."""
    return str(macros().with_ci(value, ci))
