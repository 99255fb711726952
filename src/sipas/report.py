"""What the report notebooks call: a year's tables, shaped for reading.

Notebooks stay thin: each cell asks :class:`Report` for a frame, a sentence or a chart
and shows it. Everything here is plain pandas and testable without Jupyter.
"""

from __future__ import annotations

import html
from functools import cached_property
from pathlib import Path

import pandas as pd

from . import fmt
from .codebook import YearConfig
from .config import Paths, paths as default_paths
from .indices import PROVINCE_ID, group_id
from .tables import read_table

AGGREGATION_TEXT = {
    "unit_mean": "trung bình cộng (không trọng số) chỉ số của các đơn vị",
    "respondent_weighted": "tính trên toàn bộ người trả lời, có trọng số thiết kế",
}


class Report:
    """A year's results, read from ``outputs/<year>/tables/``."""

    def __init__(self, year: int, root: str | Path | None = None):
        self.paths: Paths = default_paths(root or None)
        self.cfg = YearConfig(int(year), self.paths)
        self.year = int(year)
        self.method = self.cfg.methodology
        self.indices = read_table(self.year, "indices", self.paths)
        self.sample = read_table(self.year, "sample", self.paths)
        self.profile = read_table(self.year, "profile", self.paths)
        self.expectations = read_table(self.year, "expectations", self.paths)

    # ------------------------------------------------------------------ lookups

    @property
    def province(self) -> str:
        return self.cfg.settings.province

    @property
    def aggregation(self) -> str:
        return self.cfg.settings.province_aggregation

    @property
    def aggregation_text(self) -> str:
        return AGGREGATION_TEXT[self.aggregation]

    def unit(self, unit_id: str):
        return self.cfg.registry.unit(unit_id)

    def type_label(self, unit_type: str, plural: bool = False) -> str:
        t = self.cfg.registry.unit_type(unit_type)
        return t.label_plural if plural else t.label

    @property
    def unit_types(self) -> list[str]:
        present = {u.type for u in self.cfg.units}
        return [t.id for t in self.cfg.registry.unit_types if t.id in present]

    def value(self, scope: str, item_id: str = "sipas") -> float:
        row = self.indices[(self.indices.unit_id == scope) & (self.indices.item_id == item_id)]
        return float(row["estimate"].iloc[0]) if len(row) else float("nan")

    @property
    def top_items(self) -> list[tuple[str, str]]:
        """(id, label) of the components of the index: aspects if any, else elements."""
        short = self.method.short_labels()
        tops = self.method.aspects or self.method.elements
        return [(x.id, short[x.id]) for x in tops]

    # ---------------------------------------------------------------- frames

    def ranking(self, unit_type: str) -> pd.DataFrame:
        """Units of one type ranked by SIPAS (ties share the better rank)."""
        ids = [u.id for u in self.cfg.units if u.type == unit_type]
        idx = self.indices[self.indices.unit_id.isin(ids)]
        wide = idx.pivot_table(index=["unit_id", "unit_name"], columns="item_id", values="estimate",
                               sort=False).reset_index()
        wide = wide.sort_values(["sipas", "unit_id"], ascending=[False, True], kind="mergesort")
        wide.insert(0, "rank", wide["sipas"].rank(method="min", ascending=False).astype(int))
        return wide.reset_index(drop=True)

    def rank_of(self, unit_id: str) -> tuple[int, int]:
        r = self.ranking(self.unit(unit_id).type)
        return int(r.loc[r.unit_id == unit_id, "rank"].iloc[0]), len(r)

    def element_profile(self, unit_id: str) -> pd.DataFrame:
        """Element (and SIPAS) indices of a unit beside its peer group and the province."""
        scopes = {"unit": unit_id, "group": group_id(self.unit(unit_id).type), "province": PROVINCE_ID}
        rows = []
        for item_id, label in [(e.id, e.label) for e in self.method.elements] + \
                [(a.id, a.label) for a in self.method.aspects] + [("sipas", self.method.index_label)]:
            rows.append({"item_id": item_id, "item_label": label,
                         **{k: self.value(s, item_id) for k, s in scopes.items()}})
        return pd.DataFrame(rows)

    def criteria(self, scope: str) -> pd.DataFrame:
        idx = self.indices[(self.indices.unit_id == scope) & (self.indices.level == "criterion")]
        return idx[["parent_id", "item_id", "item_label", "estimate", "n"]].reset_index(drop=True)

    def scope_levels(self, scopes: list[str]) -> pd.DataFrame:
        """Element and SIPAS indices for several scopes side by side (rows = items)."""
        items = [(e.id, e.label) for e in self.method.elements] + \
            [(a.id, a.label) for a in self.method.aspects] + [("sipas", self.method.index_label)]
        return pd.DataFrame([{"item_id": i, "item_label": lab, **{s: self.value(s, i) for s in scopes}}
                             for i, lab in items])

    def scope_name(self, scope: str) -> str:
        rows = self.indices[self.indices.unit_id == scope]
        return str(rows["unit_name"].iloc[0]) if len(rows) else scope

    def profile_of(self, scope: str) -> pd.DataFrame:
        return self.profile[self.profile.unit_id == scope].reset_index(drop=True)

    def expectations_of(self, scope: str) -> pd.DataFrame:
        e = self.expectations[self.expectations.unit_id == scope]
        return e.sort_values(["share", "item_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)

    @cached_property
    def previous(self) -> "Report | None":
        """The previous year's report, when its tables exist."""
        prev = self.cfg.registry.previous_year
        if prev is None or not (self.paths.tables(prev) / "indices.parquet").is_file():
            return None
        return Report(prev, self.paths.root)

    def comments(self, unit_id: str, k: int = 5) -> list[str]:
        """Up to ``k`` non-empty open comments of a unit, in a stable order."""
        df = pd.read_parquet(self.paths.responses(self.year), columns=["unit_id", "respondent_id", "comment"])
        sub = df[(df.unit_id == unit_id) & df.comment.notna() & (df.comment.str.strip() != "")]
        return sub.sort_values("respondent_id")["comment"].head(k).tolist()


# -------------------------------------------------------------------- display


def table_html(df: pd.DataFrame, columns: dict[str, str], pct: tuple[str, ...] = (),
               num: tuple[str, ...] = (), caption: str | None = None, css: str = "sipas-table") -> str:
    """An escaped HTML table: ``columns`` maps frame columns to Vietnamese headers;
    ``pct`` columns print as 82,66%, ``num`` columns with thousands dots."""
    head = "".join(f'<th class="num">{html.escape(h)}</th>' if c in pct or c in num else f"<th>{html.escape(h)}</th>"
                   for c, h in columns.items())
    body = []
    for _, r in df.iterrows():
        cells = []
        for col in columns:
            v = r[col]
            if col in pct:
                cells.append(f'<td class="num">{fmt.pct(v)}</td>')
            elif col in num:
                cells.append(f'<td class="num">{fmt.number(v)}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="{css}">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def show(markup: str):
    """Display HTML in a notebook (and so in the rendered annex)."""
    from IPython.display import HTML, display

    display(HTML(markup))


def show_md(text: str):
    from IPython.display import Markdown, display

    display(Markdown(text))


def comments_html(comments: list[str]) -> str:
    """Citizens' free text, escaped: markup in a comment shows as text, never runs."""
    if not comments:
        return "<p><em>Không có ý kiến khác.</em></p>"
    items = "".join(f"<li>{html.escape(c)}</li>" for c in comments)
    return f'<ul class="comments">{items}</ul>'
