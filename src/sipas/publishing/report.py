"""What the report notebooks call: a year's published tables, shaped for reading.

Notebooks stay thin: each cell asks :class:`Report` for a frame, a sentence or a chart
and shows it. Everything here is plain pandas and testable without Jupyter. The tables
come through :mod:`sipas.publishing.data` (checked columns, read once per process);
rankings, bands and the publication policy in :mod:`sipas.publishing.rankings`, other
years and tests in :mod:`sipas.publishing.comparisons`, quotes and themes of
the comments in :mod:`sipas.publishing.comments`; the markup of the pages in
:mod:`sipas.publishing.markup` (re-exported here, as the notebooks import it from here).

A figure's interval (``ci_low``/``ci_high``) shows under it; a reliability ``flag``
marks it with a footnote mark; ``tests`` decides the wording "có ý nghĩa thống kê"
(see :meth:`Report.test`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base import formats as fmt
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing import lookups
from sipas.publishing.comments import Comments
from sipas.publishing.comparisons import Comparisons
from sipas.publishing.data import load_year_data, years_with_tables
from sipas.publishing.markup import comments_html, figure_html, flag_note, heading, paragraphs, show, table_html
from sipas.publishing.rankings import Rankings
from sipas.publishing.text import (
    ci_text,
    comment_themes_spec,
    flag_codes,
    flag_mark,
    is_flagged,
    is_suppressed,
    lc,
    redact,
)

AGGREGATION_TEXT = {
    "unit_mean": "trung bình cộng (không trọng số) chỉ số của các đơn vị",
    "respondent_weighted": "tính trên toàn bộ người trả lời, có trọng số thiết kế",
}
CI_METHOD_TEXT = {"logit": "khoảng tin cậy logit", "beta": "khoảng tin cậy Korn–Graubard",
                  "wald": "khoảng tin cậy Wald", "mean": "khoảng tin cậy Wald"}
GROUP_COLUMNS = ["variable", "variable_label", "category", "category_label", "n", "rate", "p_adjusted",
                 "significant"]
PERCEPTION_COLUMNS = ["variable", "variable_label", "category", "category_label", "positive", "n", "share"]
# (tables read, what) -> what the reports of those tables share (rankings, a unit's rows...): see Report._shared
_SHARED: dict[tuple, object] = {}
SHARED_KEPT = 4096  # entries (a year's annexes use a few hundred): other years or projects clear it


def displayed(indices: pd.DataFrame) -> pd.DataFrame:
    """The index table as the pages show it: a figure the publication policy publishes
    with a caution mark (``publication == "caution"``) carries the flag ``caution`` (§,
    shown) instead of ``suppress`` (‡, left empty); otherwise unchanged."""
    caution = indices["publication"].eq("caution")
    return indices.assign(flag=indices["flag"].where(~caution, "caution")) if caution.any() else indices


class Report(Rankings, Comparisons, Comments):
    """A year's results, read from ``outputs/<year>/tables/``."""

    def __init__(self, year: int, root: str | Path | None = None):
        self.paths: Paths = default_paths(root or None)
        data = load_year_data(int(year), self.paths)
        self.cfg = data.cfg
        self.year = int(year)
        self.method = self.cfg.methodology
        kept = data.kept  # the frames as read, which no caller is handed
        shown = _SHARED.get((data.key, "displayed"))
        if shown is None:
            shown = _SHARED[(data.key, "displayed")] = displayed(kept.tables["indices"])
        self.indices = shown.copy(deep=False)
        self.sample = data.tables["sample"]
        self.profile = data.tables["profile"]
        self.expectations = data.tables["expectations"]
        self.perceptions = data.tables["perceptions"]
        self.groups = data.tables["groups"]
        self.tables = data.tables
        self._tests_raw = data.tables["tests"]
        self._ranks = data.tables["ranks"]
        self.responses = data.responses
        # the memos shared by the reports of the same tables (Report._shared, the tests of
        # sipas.publishing.comparisons): the frames handed out, to tell whether a caller replaced
        # one, and the same tables as read
        self._read = data.key
        self._handed = {"indices": self.indices, "_ranks": self._ranks, "_tests_raw": self._tests_raw,
                        "profile": self.profile, "expectations": self.expectations,
                        "perceptions": self.perceptions, "sample": self.sample, "responses": self.responses}
        self._as_read = {"indices": shown, "_ranks": kept.tables["ranks"], "_tests_raw": kept.tables["tests"],
                         **{t: kept.tables[t] for t in ("profile", "expectations", "perceptions", "sample")},
                         "responses": kept.responses}

    def _shared(self, what: tuple, compute, tables: tuple[str, ...] = ("indices",)):
        """``compute(*frames)`` of the named tables (attributes of the report). While the
        report holds the frames it handed out, computed once per process and tables read,
        on the tables as read, which no caller is handed: the annexes of a warm kernel share
        it (callers copy what they hand out). A report one of whose frames was replaced
        computes on its own, every call."""
        if any(getattr(self, t) is not self._handed[t] for t in tables):
            return compute(*(getattr(self, t) for t in tables))
        key = (self._read, tables, what)
        hit = _SHARED.get(key, _SHARED)
        if hit is _SHARED:
            if len(_SHARED) >= SHARED_KEPT:
                _SHARED.clear()
            hit = _SHARED[key] = compute(*(self._as_read[t] for t in tables))
        return hit

    def _rows(self, table: str, scope: str) -> pd.DataFrame:
        """The rows of one scope of a table (attribute name) in their order, index reset: a
        slice of the table grouped by unit once per process and tables read (a unit's rows
        are read by several sections, the province's by every annex); callers copy it."""
        frame = getattr(self, table)
        if frame is not self._handed[table]:
            return frame[frame.unit_id == scope].reset_index(drop=True)
        grouped, bounds = self._shared(("by_unit",), lookups.by_unit, (table,))
        start, stop = bounds.get(scope, (0, 0))
        return grouped.iloc[start:stop].reset_index(drop=True)

    # ------------------------------------------------------------ lookups

    @property
    def province(self) -> str:
        return self.cfg.settings.province

    @property
    def aggregation(self) -> str:
        return self.cfg.settings.province_aggregation

    @property
    def aggregation_text(self) -> str:
        return AGGREGATION_TEXT[self.aggregation]

    @property
    def alpha(self) -> float:
        return 1 - self.cfg.settings.confidence_level

    @property
    def level_text(self) -> str:
        return f"{fmt.number(100 * self.cfg.settings.confidence_level)}%"

    def unit(self, unit_id: str):
        return self.cfg.registry.unit(unit_id)

    def type_label(self, unit_type: str, plural: bool = False) -> str:
        t = self.cfg.registry.unit_type(unit_type)
        return t.label_plural if plural else t.label

    @property
    def unit_types(self) -> list[str]:
        present = {u.type for u in self.cfg.units}
        return [t.id for t in self.cfg.registry.unit_types if t.id in present]

    def _key(self) -> lookups.Lookup:
        """(unit_id, item_id) -> first row of ``indices``: plain dict and arrays, since the
        annexes look up hundreds of single figures (rebuilt if ``indices`` is replaced)."""
        if self.indices is self._handed["indices"]:
            return self._shared(("lookup",), lookups.Lookup)
        own = self.__dict__.get("_own_key")
        if own is None or own[0] is not self.indices:
            own = self.__dict__["_own_key"] = (self.indices, lookups.Lookup(self.indices))
        return own[1]

    def row(self, scope: str, item_id: str = "sipas") -> pd.Series | None:
        pos = self._key().pos.get((scope, item_id))
        return None if pos is None else self.indices.iloc[pos]

    def value(self, scope: str, item_id: str = "sipas") -> float:
        k = self._key()
        pos = k.pos.get((scope, item_id))
        return float(k.estimate[pos]) if pos is not None else float("nan")

    def interval(self, scope: str, item_id: str = "sipas") -> tuple[float, float] | None:
        k = self._key()
        pos = k.pos.get((scope, item_id))
        if pos is None or not k.has_intervals:
            return None
        lo, hi = k.ci_low[pos], k.ci_high[pos]
        if pd.isna(lo) or pd.isna(hi):
            return None
        return float(lo), float(hi)

    def flagged(self, scope: str, item_id: str = "sipas") -> bool:
        return bool(self.flag(scope, item_id))

    def flag(self, scope: str, item_id: str = "sipas") -> str:
        """The reliability flag of a figure ('' when none)."""
        k = self._key()
        pos = k.pos.get((scope, item_id))
        if pos is None or k.flag is None or not is_flagged(k.flag[pos]):
            return ""
        return str(k.flag[pos])

    @property
    def has_intervals(self) -> bool:
        return self._key().has_intervals

    @property
    def has_flags(self) -> bool:
        return self._key().has_flags

    @property
    def flag_codes(self) -> list[str]:
        """The reliability codes in use in ``indices``, sorted."""
        return self._key().flag_codes

    @property
    def ci_method_text(self) -> str:
        """'khoảng tin cậy logit' (the most used method), naming any other one used for a few cells."""
        return self._shared(("ci_method_text",), _ci_method_text)

    @property
    def top_items(self) -> list[tuple[str, str]]:
        """(id, label) of the components of the index: aspects if any, else elements."""
        short = self.method.short_labels()
        tops = self.method.aspects or self.method.elements
        return [(x.id, short[x.id]) for x in tops]

    def unit_ids(self, unit_type: str | None = None) -> list[str]:
        return [u.id for u in self.cfg.units if unit_type is None or u.type == unit_type]

    # ------------------------------------------------------------- frames

    def items(self) -> list[tuple[str, str]]:
        """(id, label) of the elements, aspects and the index, top-down display order."""
        return [(e.id, e.label) for e in self.method.elements] + \
            [(a.id, a.label) for a in self.method.aspects] + [("sipas", self.method.index_label)]

    def element_profile(self, unit_id: str) -> pd.DataFrame:
        """Element (and SIPAS) indices of a unit beside its peer group and the province,
        with the unit's interval and flag when available."""
        scopes = {"unit": unit_id, "group": group_id(self.unit(unit_id).type), "province": PROVINCE_ID}
        rows = []
        for item_id, label in self.items():
            rec = {"item_id": item_id, "item_label": label, **{k: self.value(s, item_id) for k, s in scopes.items()}}
            ci = self.interval(unit_id, item_id)
            rec["ci_low"], rec["ci_high"] = ci if ci else (np.nan, np.nan)
            rec["flag"] = self.flag(unit_id, item_id)
            rec["diff_group"] = rec["unit"] - rec["group"]
            rows.append(rec)
        return pd.DataFrame(rows)

    def criteria(self, scope: str) -> pd.DataFrame:
        """Criterion rows of a scope: element label, criterion, estimate, n (+ interval, flag)."""
        labels = self.method.labels()

        def criteria(_indices) -> pd.DataFrame:
            idx = self._rows("indices", scope)
            idx = idx[idx.level == "criterion"]
            cols = ["parent_id", "item_id", "item_label", "estimate", "n"] + \
                [c for c in ("ci_low", "ci_high", "flag") if c in idx.columns]
            out = idx[cols].reset_index(drop=True)
            out.insert(1, "element", out["parent_id"].map(labels))
            return out

        return self._shared(("criteria", scope, tuple(labels.items())), criteria).copy(deep=False)

    def unit_columns(self, unit_id: str, item_ids, columns) -> dict[str, np.ndarray]:
        """``columns`` of the first ``indices`` row of (unit_id, item) for each item of
        ``item_ids``: object arrays, None where the unit has no such row."""
        k = self._key()
        pos = np.array([k.pos.get((unit_id, i), -1) for i in item_ids], dtype=int)  # -1: the None appended
        return {c: np.append(k.frame[c].to_numpy(dtype=object), None)[pos] for c in columns}

    def scope_levels(self, scopes: list[str]) -> pd.DataFrame:
        """Element and SIPAS indices for several scopes side by side (rows = items)."""
        return pd.DataFrame([{"item_id": i, "item_label": lab, **{s: self.value(s, i) for s in scopes}}
                             for i, lab in self.items()])

    def scope_name(self, scope: str) -> str:
        rows = self._rows("indices", scope)
        return str(rows["unit_name"].iloc[0]) if len(rows) else scope

    def _province_shares(self, table: str) -> dict:
        return self._shared(("shares",), lambda _: lookups.shares(self._rows(table, PROVINCE_ID)), (table,))

    def profile_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        prof = self._rows("profile", scope).copy(deep=False)
        if with_province:
            prov = self._province_shares("profile")
            prof["province_share"] = [prov.get(vc, np.nan) for vc in zip(prof.variable, prof.category)]
        return prof

    def expectations_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        e = self._shared(("sorted", scope), lambda _: self._rows("expectations", scope).sort_values(
            ["share", "item_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True),
            ("expectations",)).copy(deep=False)
        if with_province:
            prov = self._shared(("province",), lambda _: self._rows("expectations", PROVINCE_ID)
                                .set_index("item_id")["share"], ("expectations",))
            e["province_share"] = e["item_id"].map(prov)
        return e

    @property
    def expectation_top(self) -> str:
        """What counts for an expectation item: "chọn" (multiple choice) or the labels of
        the rated categories that count (“Rất nhiều”)."""
        exp = self.method.expectations
        if exp is None or not exp.rated:
            return ""
        return " / ".join(f"“{c.label}”" for c in exp.categories if c.code in exp.top)

    def perceptions_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        """Answers to the perception topics of a scope, by category (empty when the
        methodology has none)."""
        p = self.perceptions
        if p is None or not len(p):
            return pd.DataFrame(columns=PERCEPTION_COLUMNS)
        out = self._rows("perceptions", scope).copy(deep=False)
        if with_province:
            prov = self._province_shares("perceptions")
            out["province_share"] = [prov.get(vc, np.nan) for vc in zip(out.variable, out.category)]
        return out

    def perception_index(self, scope: str) -> pd.DataFrame:
        """"Chỉ số đánh giá" of each topic that has positive categories: the share of
        positive answers among the valid ones (``estimate``), with the province's beside."""
        p = self.perceptions
        if p is None or not len(p):
            return lookups.perception_index([], [])

        def topics(s: str) -> list[dict]:
            return self._shared(("topics", s), lambda _: lookups.topics(self._rows("perceptions", s)), ("perceptions",))

        return self._shared(("perception_index", scope), lambda _: lookups.perception_index(topics(scope), topics(PROVINCE_ID)),
                            ("perceptions",)).copy(deep=False)

    def sample_of(self, unit_id: str) -> pd.Series:
        return self._rows("sample", unit_id).iloc[0]

    # ------------------------------------------------- respondent groups

    def group_differences(self, scope: str = PROVINCE_ID) -> pd.DataFrame:
        """Design-weighted share of respondents "satisfied overall" by category of each
        profile question (table ``groups``, province-wide), with the Rao–Scott test's
        adjusted p-value and verdict from the test table."""
        g = self.groups[self.groups.unit_id == scope]
        out = g[["variable", "variable_label", "category", "category_label", "n", "rate"]].reset_index(drop=True)
        tests = {v: self.test("groups", scope, variable=v) for v in out["variable"].unique()}
        out["p_adjusted"] = [None if tests[v] is None else tests[v].get("p_adjusted") for v in out["variable"]]
        out["significant"] = [None if tests[v] is None else tests[v].get("significant") for v in out["variable"]]
        return out[GROUP_COLUMNS]


def _ci_method_text(indices: pd.DataFrame) -> str:
    if not indices["ci_method"].notna().any():
        return "khoảng tin cậy"
    counts = indices["ci_method"].dropna().astype(str).value_counts()
    main = CI_METHOD_TEXT.get(counts.index[0], f"khoảng tin cậy ({counts.index[0]})")
    others = [CI_METHOD_TEXT.get(m, m).replace("khoảng tin cậy ", "") for m in counts.index[1:]]
    return main + (f" (một số ô: {', '.join(others)})" if others else "")


__all__ = ["AGGREGATION_TEXT", "CI_METHOD_TEXT", "Report", "ci_text", "comment_themes_spec", "comments_html",
           "figure_html", "flag_codes", "flag_mark", "flag_note", "heading", "is_flagged", "is_suppressed", "lc",
           "paragraphs", "redact", "show", "table_html", "years_with_tables"]
