"""The ranking chart: bars with every name for small peer groups and for the province's
league table; a unit's position among many (the communes of a province) otherwise;
titles wrapped instead of running off the figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from sipas.publishing import charts  # noqa: E402

LONG = ("Chỉ số hài lòng của người dân đối với sự phục vụ của cơ quan hành chính nhà nước: "
        "UBND các xã, phường, năm 2025")


def ranking(n: int) -> pd.DataFrame:
    v = np.linspace(0.95, 0.65, n)
    v[3] = v[2]  # a tie: both rank 3
    df = pd.DataFrame({"unit_id": [f"xa-{i:03d}" for i in range(n)], "unit_name": [f"Xã số {i:03d}" for i in range(n)],
                       "sipas": v, "ci_low": v - 0.04, "ci_high": np.minimum(v + 0.04, 1.0)})
    df.insert(0, "rank", df["sipas"].rank(method="min", ascending=False).astype(int))
    return df


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def tick_names(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]


def test_small_peer_group_names_every_unit():
    r = ranking(charts.LABELLED_MAX)
    fig = charts.ranking_chart(r, "Chỉ số hài lòng: sở, ban, ngành, năm 2023", 0.8, "Bình quân", "xa-005")
    assert tick_names(fig) == list(r["unit_name"])


def test_province_league_table_keeps_every_name_however_many():
    r = ranking(90)
    fig = charts.ranking_chart(r, LONG, 0.8, "Bình quân")
    assert tick_names(fig) == list(r["unit_name"])


@pytest.mark.parametrize("unit, k", [("xa-003", 3), ("xa-060", 61)])
def test_unit_among_many_shows_its_position(unit, k):
    r = ranking(charts.LABELLED_MAX + 1 if unit == "xa-003" else 90)
    n = len(r)
    fig = charts.ranking_chart(r, LONG, 0.8, "Bình quân", unit)
    ax = fig.axes[0]
    assert fig.get_figheight() == pytest.approx(3.4)  # not 0.3 inch per unit
    assert not any("Xã số" in t for t in tick_names(fig))
    texts = [t.get_text() for t in ax.texts]
    # the tie at positions 3 and 4 shares rank 3: the label quotes the rank, not the position
    name = r.loc[r.unit_id == unit, "unit_name"].iloc[0]
    assert f"{name}: " in " ".join(texts) and f"(hạng {k}/{n})" in " ".join(texts)
    # the highlighted point is where the unit is: position k+1 on the x axis, its SIPAS on y
    big = [c for c in ax.collections if hasattr(c, "get_offsets") and len(c.get_offsets()) == 1]
    x, y = big[-1].get_offsets()[0]
    assert x == r.index[r.unit_id == unit][0] + 1
    assert y == pytest.approx(r.loc[r.unit_id == unit, "sipas"].iloc[0])
    # every other unit is drawn, unnamed
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")
               and not hasattr(c, "get_segments")) == n


def test_long_titles_wrap_short_ones_do_not():
    fig = charts.ranking_chart(ranking(5), LONG, highlight="xa-001")
    lines = fig.get_suptitle().split("\n")
    assert len(lines) == 2 and all(len(x) <= charts.TITLE_CHARS for x in lines)
    assert " ".join(lines) == LONG
    short = "Chỉ số hài lòng về sự phục vụ hành chính: UBND cấp huyện, năm 2023"
    assert charts.ranking_chart(ranking(5), short).get_suptitle() == short


def test_the_theme_is_seaborns_whitegrid_without_importing_seaborn():
    """charts.set_theme writes seaborn's theme out as rcParams (importing seaborn costs a kernel
    1.1 s): every rcParam as seaborn.set_theme with the same arguments sets it, but the
    colormap name (seaborn's "rocket" exists only once seaborn is imported)."""
    import seaborn as sns

    def theme(apply) -> dict:
        with matplotlib.rc_context():
            matplotlib.rcdefaults()
            apply()
            return dict(matplotlib.rcParams)

    ours = theme(charts.set_theme)
    theirs = theme(lambda: sns.set_theme(style="whitegrid", palette=charts.PALETTE, font="DejaVu Sans",
                                         rc=charts.HOUSE_RC))
    assert theirs.pop("image.cmap") == "rocket" and ours.pop("image.cmap") == "viridis"
    assert ours == theirs
    assert ours["axes.prop_cycle"].by_key()["color"][0] == matplotlib.colors.to_rgb(charts.PALETTE[0])


def _png(fig) -> bytes:
    import base64
    import re

    from sipas.publishing.markup import figure_html

    return base64.b64decode(re.search(r'base64,([^"]+)"', figure_html(fig, "x")).group(1))


def _fresh_png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=144, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return buf.getvalue()


def test_a_kept_renderer_draws_the_pixels_of_a_fresh_one():
    """figure_html draws each chart on the renderer of the last chart of its size (its
    cache of text sizes is reused): the PNG is byte for byte that of a fresh renderer, for
    a chart after a different one of the same size, and after an rcParam that changes the
    text's layout (the kept sizes are never used under other settings)."""
    from sipas.publishing import markup

    markup.kept_renderers().clear()
    charts.set_theme()
    a, b = ranking(12), ranking(12).assign(unit_name=[f"Phường {i}" for i in range(12)])
    expected = [_fresh_png(charts.ranking_chart(df, LONG, highlight="xa-004")) for df in (a, b, a)]
    got = [_png(charts.ranking_chart(df, LONG, highlight="xa-004")) for df in (a, b, a)]
    assert got == expected
    assert len(markup.kept_renderers()) == 1  # one size: one renderer, used three times
    with matplotlib.rc_context({"text.hinting": "auto"}):
        fresh = _fresh_png(charts.ranking_chart(a, LONG, highlight="xa-004"))
        assert fresh != expected[0]  # the setting does move the text
        assert _png(charts.ranking_chart(a, LONG, highlight="xa-004")) == fresh
    assert _png(charts.ranking_chart(a, LONG, highlight="xa-004")) == expected[0]


def test_kept_glyphs_draw_the_pixels_of_a_fresh_renderer():
    """The kept renderer keeps each string's layout and each glyph's bitmap by the
    sub-pixel part of its position: text at fractional positions, rotated, in two sizes
    and weights, drawn over again (every glyph a kept one, at other whole-pixel offsets),
    gives the PNG of a fresh renderer byte for byte."""
    from sipas.publishing import markup

    charts.set_theme()

    def chart(shift: float):
        fig, ax = plt.subplots(figsize=(5, 3))
        for k in range(12):
            ax.text(0.013 * k + shift, 0.07 * k + shift / 3, "Phường Đoàn Kết 82,66%", fontsize=7 + k % 3,
                    rotation=(0, 90, 33)[k % 3], fontweight="bold" if k % 2 else "normal")
        ax.set_title("Chỉ số hài lòng")
        return fig

    markup.kept_renderers().clear()
    for shift in (0.0, 0.0, 0.0031, 0.0107):
        assert _png(chart(shift)) == _fresh_png(chart(shift))


@pytest.mark.parametrize("widths", [[0.8, 0.7, 0.9, 0.75], [np.nan, 0.7, 0.9, np.nan], [np.nan] * 4])
def test_hatched_bars_as_one_patch_are_barh_pixel_for_pixel(widths):
    """The element chart draws each series' bars as one patch (its hatch is rendered once):
    the PNG, the axis limits and the legend are those of ``barh`` with the same
    properties, NaN bars included (nothing drawn, as barh draws nothing for them)."""

    def chart(one_patch: bool):
        fig, ax = plt.subplots(figsize=(4, 3))
        y = np.arange(4)
        for j, (hatch, color) in enumerate(zip(charts.HATCHES, charts.PALETTE)):
            v = np.asarray(widths if j == 1 else [0.6, 0.65, 0.5, 0.55], dtype=float)
            props = {"hatch": hatch, "edgecolor": "white", "linewidth": 0.3, "label": f"s{j}", "zorder": 2}
            if one_patch:
                charts._bars(ax, y + (j - 1) * 0.27, v, 0.25, facecolor=color, **props)
            else:
                ax.barh(y + (j - 1) * 0.27, v, height=0.25, color=color, **props)
        ax.set_xlim(0, 1)
        fig.legend(loc="lower center", ncol=3, frameon=False)
        return fig, ax.get_ylim()

    (a, lim_a), (b, lim_b) = chart(False), chart(True)
    assert lim_a == lim_b
    assert _fresh_png(a) == _fresh_png(b)


def test_a_closed_chart_is_garbage_at_once():
    """Nothing of the module keeps a chart alive once it is closed (a formatter shared by every
    axis held the last one's figure: a warm kernel froze it, as garbage, at its next reset)."""
    import gc
    import weakref

    from sipas.publishing.markup import figure_html

    refs = []
    for unit in ("xa-003", None):  # position chart (y axis in %), ranking chart (x axis in %)
        fig = charts.ranking_chart(ranking(charts.LABELLED_MAX + 1), LONG, 0.8, "Bình quân", unit)
        figure_html(fig, "alt")
        refs.append(weakref.ref(fig))
        del fig
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_glyph_cache_only_for_the_matplotlib_it_repeats(monkeypatch):
    """The glyph-keeping renderer repeats matplotlib 3.11's private text drawing: under any
    other matplotlib the charts are drawn by matplotlib's own renderer."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import RendererAgg

    from sipas.publishing import markup

    markup._text_caching_renderer.cache_clear()
    try:
        monkeypatch.setattr(mpl, "__version__", "3.99.0")
        assert markup._text_caching_renderer() is RendererAgg
        markup._text_caching_renderer.cache_clear()
        monkeypatch.setattr(mpl, "__version__", markup.MATPLOTLIB_TEXT_API + "0")
        assert markup._text_caching_renderer() is not RendererAgg
    finally:
        markup._text_caching_renderer.cache_clear()


def test_kept_font_heights_are_those_matplotlib_reads():
    """The kept renderer keeps each font's ascent, descent and line gap (matplotlib reads them
    from the font's tables at each text layout): a text's layout is the one matplotlib's own
    renderer gives, the first time and once kept, in several sizes, weights and dpis."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from sipas.publishing import markup

    charts.set_theme()

    def layout(text, renderer):
        bbox, lines, descent = text._get_layout(renderer)
        return bbox.bounds, lines, descent

    for dpi in (100, 144):
        kept = markup._text_caching_renderer()(200, 200, dpi)
        assert type(kept) is not RendererAgg
        for size, weight in ((7.5, "normal"), (8.5, "bold"), (10.5, "bold"), (12, "normal")):
            text = Text(0, 0, "Phường Đoàn Kết\n82,66%", fontsize=size, fontweight=weight)
            text.set_figure(Figure(dpi=dpi))
            theirs = layout(text, RendererAgg(200, 200, dpi))
            assert layout(text, kept) == theirs
            assert layout(text, kept) == theirs
        assert len(kept._font_heights) == 4
