"""What a page says about other years and about tests: the previous year's report,
trends up to this year, changes, and the statistics' test table (:class:`Comparisons`,
a part of :class:`sipas.publishing.report.Report`).

The test table is read as :mod:`sipas.estimation.significance` writes it (columns
``test``, ``family``, ``unit_id``, ``item_id``, ``estimate``, ``p_value``,
``p_adjusted``, ``significant``); an unknown kind of test stops the page.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.publishing.data import SCHEMA, has_tables, require, years_with_tables

TEST_KINDS = {"change": "change", "peer": "peer", "association": "groups"}  # column ``test`` -> kind


class Comparisons:
    """Other years and tests; mixed into :class:`~sipas.publishing.report.Report`."""

    @cached_property
    def previous(self):
        """The previous year's report, when its tables exist."""
        prev = self.cfg.registry.previous_year
        if prev is None or not has_tables(self.paths, prev):
            return None
        return type(self)(prev, self.paths.root)

    def trend(self, scope: str, items: list[str] | None = None) -> pd.DataFrame:
        """``year, item_id, item_label, estimate`` for every year up to this one that has tables."""
        items = items or ["sipas"]
        rows = []
        others = self.__dict__.setdefault("_trend_years", {})  # reports of other years, never handed out
        for y in years_with_tables(self.paths):
            if y > self.year:
                continue
            if y != self.year and y not in others:
                others[y] = type(self)(y, self.paths.root)
            rep = self if y == self.year else others[y]
            labels = dict(rep.items())
            for i in items:
                v = rep.value(scope, i)
                if not math.isnan(v):
                    rows.append({"year": y, "item_id": i, "item_label": labels.get(i, i), "estimate": v})
        return pd.DataFrame(rows, columns=["year", "item_id", "item_label", "estimate"])

    def change(self, scope: str, item_id: str = "sipas") -> dict | None:
        """This year against the previous one: previous, current, difference and the test
        (``significant`` is None when the test table has no such test)."""
        prev = self.previous
        if prev is None:
            return None
        before, now = prev.value(scope, item_id), self.value(scope, item_id)
        if math.isnan(before) or math.isnan(now):
            return None
        t = self.test("change", scope, item_id)
        return {"previous": before, "current": now, "diff": now - before, "previous_year": prev.year,
                "significant": None if t is None else t["significant"],
                "p_adjusted": None if t is None else t.get("p_adjusted")}

    def changes(self, unit_type: str | None = None) -> pd.DataFrame:
        """Every unit (of a type) present in both years, with the change of its SIPAS."""
        rows = []
        for uid in self.unit_ids(unit_type):
            c = self.change(uid)
            if c is not None:
                rows.append({"unit_id": uid, "unit_name": self.unit(uid).name, **c})
        cols = ["unit_id", "unit_name", "previous", "current", "diff", "previous_year", "significant", "p_adjusted"]
        df = pd.DataFrame(rows, columns=cols)
        return df.sort_values(["diff", "unit_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)

    @cached_property
    def tests(self) -> pd.DataFrame | None:
        """The test table as the pages use it: ``kind`` (change / peer / groups),
        ``unit_id``, ``item_id``, ``variable`` (the profile question of a groups test),
        ``difference``, ``p_value``, ``p_adjusted``, ``significant``; None when empty.
        Built once per process and tables read (a copy each report: callers may change
        it); a report whose test table was replaced or changed builds its own."""
        memo = self._tests_memo()
        return None if memo is None else memo[0].copy(deep=False)

    def _tests_memo(self) -> tuple | None:
        """(tests, first row of each (kind, scope, item), of each (kind, scope, variable))."""
        raw = self._as_read["_tests_raw"]  # never handed out: no caller has changed it
        if self._tests_raw is not self._handed["_tests_raw"] or not self._tests_raw.equals(raw):  # replaced, or changed
            return _tests_positions(_tests(self._tests_raw))
        return self._shared(("tests",), lambda t: _tests_positions(_tests(t)), ("_tests_raw",))

    def test(self, kind: str, scope: str, item_id: str = "sipas", variable: str | None = None) -> dict | None:
        t = self.tests
        if t is None:
            return None
        memo = self.__dict__.get("_test_pos")
        if memo is None or memo[0] is not t:
            shared = self._tests_memo()
            # the shared positions hold for the copy handed out while its key columns are the memo's
            same = shared is not None and all(t[c] is shared[0][c] or t[c].equals(shared[0][c])
                                              for c in ("kind", "unit_id", "item_id", "variable"))
            memo = self.__dict__["_test_pos"] = (t, *(shared[1:] if same else _tests_positions(t)[1:]))
        pos = memo[2].get((kind, scope, variable)) if variable is not None else memo[1].get((kind, scope, item_id))
        return t.iloc[pos].to_dict() if pos is not None else None


def _tests(t: pd.DataFrame | None) -> pd.DataFrame | None:
    if t is None or not len(t):
        return None
    require(t, "tests", SCHEMA["tests"])
    unknown = sorted(set(t["test"].tolist()) - set(TEST_KINDS))
    if unknown:
        raise SipasError(f"table 'tests' has test kinds sipas does not know: {', '.join(map(str, unknown))}",
                         hint=f"expected one of {', '.join(TEST_KINDS)}")
    out = pd.DataFrame({"kind": t["test"].map(TEST_KINDS)})
    out["unit_id"] = t["unit_id"]
    out["item_id"] = t["item_id"]
    fam = t["family"].fillna("").astype(str)  # "association/<variable>"
    out["variable"] = np.where(out["kind"] == "groups", fam.str.split("/", n=1).str[-1], "")
    out["difference"] = t["estimate"]
    out["p_value"] = t["p_value"]
    out["p_adjusted"] = t["p_adjusted"]
    out["significant"] = t["significant"].astype(bool)
    return out


def _tests_positions(t: pd.DataFrame | None) -> tuple | None:
    if t is None:
        return None
    by_item: dict = {}
    by_var: dict = {}
    for i, (k, u, it, v) in enumerate(zip(t["kind"].tolist(), t["unit_id"].tolist(),
                                           t["item_id"].tolist(), t["variable"].tolist())):
        by_item.setdefault((k, u, it), i)
        by_var.setdefault((k, u, v), i)
    return t, by_item, by_var
