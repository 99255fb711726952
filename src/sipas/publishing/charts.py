"""Charts for the annexes: one palette, Vietnamese labels, decimal commas, legible in
grayscale (the palette's colours differ in lightness; series also differ by hatch or
marker), sized for an A4 column.

Drawn with matplotlib axes under seaborn's "whitegrid" theme (faster than seaborn's
statistical plots, which these charts do not need), written out as rcParams: importing
seaborn (and the SciPy it imports) would cost every kernel about 1 s of CPU. Each function
returns the figure; :func:`sipas.publishing.report.figure_html` embeds it as a 144 dpi PNG
and closes it.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.colors import to_rgb
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.ticker import FuncFormatter

from sipas.base import formats as fmt

# dark blue, light blue, ochre, mid gray: lightness 27%, 70%, 52%, 45%
PALETTE = ["#1b4f72", "#8fbfe0", "#b9770e", "#5d6d7e"]
HATCHES = ["", "////", "...."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
LINESTYLES = ["-", "--", ":", "-."]
WIDTH = 7.0  # inches: fits an A4 column at 100%


# seaborn 0.13's set_theme(style="whitegrid", context="notebook", font="DejaVu Sans"), key for
# key (tests/test_charts.py compares it with seaborn's own), but for "image.cmap": seaborn's
# "rocket" exists only once seaborn is imported, and no chart here uses a colormap
_SEABORN_NOTEBOOK = {
    "axes.linewidth": 1.25, "grid.linewidth": 1, "lines.linewidth": 1.5, "lines.markersize": 6, "patch.linewidth": 1,
    "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.width": 1, "ytick.minor.width": 1,
    "xtick.major.size": 6, "ytick.major.size": 6, "xtick.minor.size": 4, "ytick.minor.size": 4, "font.size": 12,
    "axes.labelsize": 12, "axes.titlesize": 12, "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 11,
    "legend.title_fontsize": 12}
_SEABORN_WHITEGRID = {
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out", "ytick.direction": "out",
    "xtick.color": ".15", "ytick.color": ".15", "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": "DejaVu Sans", "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                                                      "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True, "xtick.top": False,
    "ytick.right": False, "axes.grid": True, "axes.facecolor": "white", "axes.edgecolor": ".8",
    "grid.color": ".8", "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True,
    "axes.spines.top": True, "xtick.bottom": False, "ytick.left": False}
HOUSE_RC = {"figure.dpi": 100, "savefig.dpi": 144, "axes.titleweight": "bold", "axes.titlesize": 11,
            "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "legend.fontsize": 8,
            "svg.hashsalt": "sipas", "axes.spines.right": False, "axes.spines.top": False,
            "axes.titlelocation": "left", "grid.color": "#e5e8e8",
            # unhinted glyphs are as legible at 144 dpi, and laying out
            # Vietnamese text (most of a chart's drawing time) costs about half
            "text.hinting": "none"}


def set_theme() -> None:
    """Call once per notebook: the house style (DejaVu Sans carries Vietnamese glyphs) over
    seaborn's whitegrid theme, the palette as the colour cycle."""
    plt.rcParams.update(_SEABORN_NOTEBOOK)
    plt.rcParams.update(_SEABORN_WHITEGRID)
    plt.rcParams["axes.prop_cycle"] = cycler("color", [to_rgb(c) for c in PALETTE])
    plt.rcParams.update(HOUSE_RC)


def _pct(x, _pos) -> str:
    return fmt.pct(x, 0)


def _pct_formatter() -> FuncFormatter:
    """A formatter for one axis: a formatter keeps the axis it was last given, so one shared
    by every chart would hold the last figure alive after it is closed (a warm kernel froze it
    as garbage at its next reset: a figure per annex until the next full collection)."""
    return FuncFormatter(_pct)


TITLE_CHARS = 80  # characters of a 10.5 pt bold title across the 7-inch figure


def _title(fig, ax, title: str) -> None:
    """The title over the whole figure, left-aligned (a long title never runs off the
    axes, whatever the width of the unit names), on two lines when it is longer than the
    figure is wide (the 2023-2026 index name alone is 80 characters)."""
    fig.suptitle(_wrap(title, TITLE_CHARS) if len(title) > TITLE_CHARS else title, x=0.01, ha="left",
                 fontsize=10.5, fontweight="bold")


def _layout(fig, labels, legend_below: bool = False, legend_right: float = 0.0) -> None:
    """Margins from the label lengths (no tight_layout: it costs a full draw)."""
    longest = max((max(len(x) for x in str(t).split("\n")) for t in labels), default=4)
    w, h = fig.get_size_inches()
    left = min(0.5, (longest * 0.066 + 0.2) / w)
    top = 1 - (0.42 + 0.18 * fig.get_suptitle().count("\n")) / h
    bottom = (0.5 + (0.35 if legend_below else 0)) / h
    fig.subplots_adjust(left=left, right=1 - 0.25 / w - legend_right, top=top, bottom=bottom)


def _pct_axis(ax, lo: float, hi: float) -> None:
    """x axis in whole percents, ticks every 5 (or 10) points, never beyond 100%."""
    step = 0.05 if hi - lo <= 0.45 else 0.10
    ticks = [t for t in np.arange(0, 1.0001, step) if lo - 1e-9 <= t <= min(hi, 1.0) + 1e-9]
    ax.set_xlim(lo, hi)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(_pct_formatter())


def _has_ci(df) -> bool:
    return {"ci_low", "ci_high"} <= set(df.columns) and df["ci_low"].notna().any()


def ranking_chart(ranking, title: str, reference: float | None = None, reference_label: str = "",
                  highlight: str | None = None):
    """Horizontal bars of SIPAS by unit, best at the top, with the 95% intervals when the
    ranking has ``ci_low``/``ci_high``; an optional reference line (the group mean);
    ``highlight`` (a unit id) is drawn dark, the others light.

    A unit's annex in a peer group of more than :data:`LABELLED_MAX` units (the communes
    of a province: up to 150) gets :func:`position_chart` instead: a bar and a name per
    unit would make a chart a metre tall whose drawing is half the annex's time; the
    full league table with names is the province report's."""
    n = len(ranking)
    if highlight is not None and n > LABELLED_MAX:
        return position_chart(ranking, title, highlight, reference, reference_label)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.3 * n + 1.1))
    y = np.arange(n)
    vals = ranking["sipas"].to_numpy(dtype=float)
    mine = np.ones(n, dtype=bool) if highlight is None else (ranking["unit_id"] == highlight).to_numpy()
    for color, which in ((PALETTE[1], ~mine), (PALETTE[0], mine)):  # the bars never touch: any order
        if which.any():
            _bars(ax, y[which], vals[which], 0.68, facecolor=color, zorder=2)
    right = vals.copy()
    if _has_ci(ranking):
        lo = ranking["ci_low"].to_numpy(dtype=float)
        hi = ranking["ci_high"].to_numpy(dtype=float)
        ax.errorbar(vals, y, xerr=[vals - lo, hi - vals], fmt="none", ecolor="#17202a", elinewidth=0.9,
                    capsize=2.5, zorder=3)
        right = np.fmax(hi, vals)
    for k, (v, r) in enumerate(zip(vals, right)):
        ax.text(r + 0.004, k, fmt.pct(v), va="center", fontsize=7.5, color="#17202a", zorder=4)
    labels = list(ranking["unit_name"])
    ax.set_yticks(y, labels)
    if highlight is not None:
        for tick, u in zip(ax.get_yticklabels(), ranking["unit_id"]):
            if u == highlight:
                tick.set_fontweight("bold")
    ax.invert_yaxis()
    lows = [np.nanmin(ranking["ci_low"]) if _has_ci(ranking) else np.nanmin(vals)]
    if reference is not None and not math.isnan(reference):
        ax.axvline(reference, color=PALETTE[2], ls="--", lw=1.2, zorder=3)
        ax.text(reference, -0.75, f"{reference_label} {fmt.pct(reference)}".strip(), color=PALETTE[2],
                fontsize=7.5, ha="center", va="bottom")
        lows.append(reference)
    lo = max(0.0, math.floor((min(lows) - 0.03) * 20) / 20)
    _pct_axis(ax, lo, min(1.06, np.nanmax(right) + 0.05))
    ax.set_xlabel("Chỉ số hài lòng" + (" (thanh mảnh: khoảng tin cậy 95%)" if _has_ci(ranking) else ""))
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    _title(fig, ax, title)
    _layout(fig, labels)
    return fig


LABELLED_MAX = 30  # units: above this, a unit's annex shows its position, not every name


def position_chart(ranking, title: str, highlight: str, reference: float | None = None,
                   reference_label: str = ""):
    """Where one unit stands among many (a caterpillar plot): every unit of the ranking
    as a point with its 95% interval, ordered from the highest SIPAS (left) to the
    lowest, the unit ``highlight`` dark and named with its value and rank, the others
    light and unnamed; an optional reference line (the group mean)."""
    n = len(ranking)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    x = np.arange(1, n + 1)
    vals = ranking["sipas"].to_numpy(dtype=float)
    me = (ranking["unit_id"] == highlight).to_numpy()
    lows = [np.nanmin(vals)]
    highs = [np.nanmax(vals)]
    if _has_ci(ranking):
        lo = ranking["ci_low"].to_numpy(dtype=float)
        hi = ranking["ci_high"].to_numpy(dtype=float)
        ax.vlines(x[~me], lo[~me], hi[~me], color=PALETTE[1], lw=1.0, zorder=2)
        ax.vlines(x[me], lo[me], hi[me], color=PALETTE[0], lw=2.0, zorder=4)
        lows.append(np.nanmin(lo))
        highs.append(np.nanmax(hi))
    ax.scatter(x[~me], vals[~me], s=9, color=PALETTE[1], edgecolor="none", zorder=3)
    ax.scatter(x[me], vals[me], s=40, color=PALETTE[0], edgecolor="white", linewidth=0.6, zorder=5)
    if reference is not None and not math.isnan(reference):
        ax.axhline(reference, color=PALETTE[2], ls="--", lw=1.2, zorder=1)
        ax.text(n + 0.5, reference, f" {reference_label} {fmt.pct(reference)}".rstrip(), color=PALETTE[2],
                fontsize=7.5, ha="left", va="center")
        lows.append(reference)
    if me.any():
        k = int(np.flatnonzero(me)[0])
        rank = int(ranking["rank"].iloc[k]) if "rank" in ranking.columns else k + 1
        label = f"{ranking['unit_name'].iloc[k]}: {fmt.pct(vals[k])} (hạng {rank}/{n})"
        # the units fall from the upper left to the lower right: the label goes in the empty corner
        right = k >= n / 2
        ax.annotate(label, (x[k], vals[k]), xytext=(0.98, 0.94) if right else (0.02, 0.06),
                    textcoords="axes fraction", ha="right" if right else "left", va="top" if right else "bottom",
                    fontsize=8, fontweight="bold", color=PALETTE[0],
                    arrowprops={"arrowstyle": "-", "color": PALETTE[0], "lw": 0.8, "shrinkA": 2, "shrinkB": 4},
                    zorder=6)
    bottom = max(0.0, math.floor((min(lows) - 0.03) * 20) / 20)
    top = min(1.0, math.ceil((max(highs) + 0.03) * 20) / 20)
    step = 0.05 if top - bottom <= 0.45 else 0.10
    ax.set_ylim(bottom, top)
    ax.set_yticks([t for t in np.arange(0, 1.0001, step) if bottom - 1e-9 <= t <= top + 1e-9])
    ax.yaxis.set_major_formatter(_pct_formatter())
    ax.set_xlim(0, n + 1)
    ax.set_xticks([1, *range(10, n - 2, 10), n])
    ax.set_xlabel(f"{n} đơn vị, xếp từ chỉ số cao nhất (1) đến thấp nhất ({n})"
                  + ("; vạch dọc: khoảng tin cậy 95%" if _has_ci(ranking) else ""))
    ax.set_ylabel("Chỉ số hài lòng")
    ax.grid(axis="x", visible=False)
    _title(fig, ax, title)
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.85 / w, right=1 - 1.25 / w, bottom=0.55 / h,
                        top=1 - (0.42 + 0.18 * fig.get_suptitle().count("\n")) / h)
    return fig


def _bars(ax, y, widths, height: float, **props) -> PathPatch:
    """Horizontal bars from 0, centred on ``y``, as one patch: the pixels, data limits and
    legend entry of ``ax.barh`` with the same properties (a NaN bar, as barh's, has NaN
    corners: nothing drawn), but Agg renders a hatch pattern once per patch, and a
    hatched series drawn bar by bar was a quarter of the element chart's drawing."""
    verts, codes = [], []
    for yc, w in zip(y, widths):
        left, right = (0.0, w) if math.isfinite(w) else (math.nan, math.nan)
        bottom = yc - height / 2
        top = bottom + height
        verts += [(left, bottom), (right, bottom), (right, top), (left, top), (left, bottom)]
        codes += [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY]
    patch = PathPatch(Path(np.array(verts, dtype=float).reshape(-1, 2), codes or None), **props)
    patch.sticky_edges.x.append(0)  # as barh's: autoscaling never pads x below 0
    ax.add_patch(patch)
    ax.autoscale_view()  # barh asks for it: the y range takes in the bars
    return patch


def profile_chart(profile, columns: dict[str, str], title: str):
    """Grouped horizontal bars: one group per element, one bar per scope (unit, peer
    group, province), told apart by lightness and hatch."""
    labels = list(profile["item_label"])
    k = len(columns)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.22 * n * k + 1.3))
    h = 0.8 / k
    y = np.arange(n)
    allv = []
    for j, (col, name) in enumerate(columns.items()):
        v = profile[col].to_numpy(dtype=float)
        allv.append(v)
        _bars(ax, y + (j - (k - 1) / 2) * h, v, height=h * 0.92, facecolor=PALETTE[j % len(PALETTE)],
              hatch=HATCHES[j % len(HATCHES)], edgecolor="white", linewidth=0.3, label=name, zorder=2)
    if _has_ci(profile) and "unit" in columns:
        j = list(columns).index("unit")
        v = profile["unit"].to_numpy(dtype=float)
        ax.errorbar(v, y + (j - (k - 1) / 2) * h, xerr=[v - profile["ci_low"].to_numpy(dtype=float),
                                                        profile["ci_high"].to_numpy(dtype=float) - v],
                    fmt="none", ecolor="#17202a", elinewidth=0.8, capsize=2, zorder=3)
    ax.set_yticks(y, [_wrap(t, 28) for t in labels])
    ax.invert_yaxis()
    lo = max(0.0, math.floor((np.nanmin(np.concatenate(allv)) - 0.06) * 20) / 20)
    _pct_axis(ax, lo, 1.0)
    ax.set_xlabel("Chỉ số hài lòng")
    ax.grid(axis="y", visible=False)
    fig.legend(title="", loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=k, frameon=False)
    _title(fig, ax, title)
    _layout(fig, [_wrap(t, 28) for t in labels], legend_below=True)
    return fig


def trend_chart(trend, title: str, series: dict[str, str] | None = None):
    """Lines over the years: one per ``item_id`` (or per key of ``series``: id -> label),
    told apart by marker and line style as well as colour."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    keys = list(series) if series else list(dict.fromkeys(trend["item_id"]))
    years = sorted(trend["year"].unique())
    for j, key in enumerate(keys):
        sub = trend[trend["item_id"] == key].sort_values("year")
        if not len(sub):
            continue
        label = series[key] if series else sub["item_label"].iloc[0]
        ax.plot(sub["year"], sub["estimate"], marker=MARKERS[j % len(MARKERS)], ls=LINESTYLES[j % len(LINESTYLES)],
                color=PALETTE[j % len(PALETTE)] if j < len(PALETTE) else None, lw=1.6, ms=5, label=_wrap(label, 30))
        last = sub.iloc[-1]
        ax.annotate(fmt.pct(last["estimate"]), (last["year"], last["estimate"]), xytext=(4, 0),
                    textcoords="offset points", fontsize=7, va="center")
    ax.set_xticks(years, [str(y) for y in years])
    if len(years) == 1:
        ax.set_xlim(years[0] - 0.5, years[0] + 0.5)
    else:
        ax.set_xlim(years[0] - 0.2, years[-1] + 0.45)
    ax.yaxis.set_major_formatter(_pct_formatter())
    ax.set_ylabel("Chỉ số hài lòng")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    _title(fig, ax, title)
    _layout(fig, ["100%"], legend_right=0.3)
    return fig


def bars_chart(labels, values, title: str, xlabel: str = "Tỷ lệ người trả lời"):
    """Simple horizontal bars (shares), largest at the top."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.28 * n + 1.0))
    y = np.arange(n)
    vals = np.asarray(values, dtype=float)
    ax.barh(y, vals, color=PALETTE[0], height=0.65, zorder=2)
    for k, v in enumerate(vals):
        ax.text(v + 0.005, k, fmt.pct(v, 1), va="center", fontsize=7.5)
    ax.set_yticks(y, [_wrap(t, 45) for t in labels])
    ax.invert_yaxis()
    _pct_axis(ax, 0, min(1.0, np.nanmax(vals) * 1.18 + 0.02))
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    _title(fig, ax, title)
    _layout(fig, [_wrap(t, 45) for t in labels])
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)
