"""Charts for the annexes (seaborn): one palette, Vietnamese labels, decimal commas,
legible in grayscale."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.ticker import FuncFormatter

from . import fmt

PALETTE = ["#1b4f72", "#7fb3d5", "#b9770e", "#5d6d7e"]  # dark blue, light blue, ochre, gray


def set_theme() -> None:
    """Call once per notebook: the house style (DejaVu Sans carries Vietnamese glyphs)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font="DejaVu Sans",
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold",
                      "svg.hashsalt": "sipas", "axes.spines.right": False, "axes.spines.top": False})


_PCT = FuncFormatter(lambda x, _pos: fmt.pct(x, 0))


def ranking_chart(ranking, title: str, reference: float | None = None, reference_label: str = ""):
    """Horizontal bars of SIPAS by unit, best at the top; an optional reference line."""
    height = 0.38 * len(ranking) + 1.2
    fig, ax = plt.subplots(figsize=(8, height))
    sns.barplot(data=ranking, y="unit_name", x="sipas", color=PALETTE[0], ax=ax, orient="h")
    for i, v in enumerate(ranking["sipas"]):
        ax.text(v + 0.003, i, fmt.pct(v), va="center", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color=PALETTE[2], ls="--", lw=1.2)
        ax.text(reference, -0.7, f"{reference_label} {fmt.pct(reference)}", color=PALETTE[2], fontsize=8, ha="center")
    lo = max(0.0, min(ranking["sipas"].min() - 0.08, (reference or 1) - 0.08))
    ax.set_xlim(lo, 1.02)
    ax.xaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Chỉ số hài lòng")
    ax.set_ylabel("")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def profile_chart(profile, columns: dict[str, str], title: str):
    """Grouped bars: one group per element, one bar per scope (unit, peer group, province)."""
    long = profile.melt(id_vars=["item_label"], value_vars=list(columns), var_name="scope", value_name="value")
    long["scope"] = long["scope"].map(columns)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(profile) * len(columns) / 2 + 1.5))
    sns.barplot(data=long, y="item_label", x="value", hue="scope", ax=ax, orient="h")
    for bars, hatch in zip(ax.containers, ["", "//", ".."]):
        for b in bars:
            b.set_hatch(hatch)
    lo = max(0.0, long["value"].min() - 0.1)
    ax.set_xlim(lo, 1.0)
    ax.xaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Chỉ số hài lòng")
    ax.set_ylabel("")
    ax.legend(title="", loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig
