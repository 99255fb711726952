"""Plain lookups the reports build from the published tables once per process and share
(:meth:`sipas.publishing.report.Report._shared`): positions of each (unit, item) row, a
table grouped by unit, a scope's category shares, the perception topics' index."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.publishing.text import flag_codes, is_flagged


def shares(frame: pd.DataFrame) -> dict:
    """(variable, category) -> share of a scope's rows (a plain dict: the annexes look
    up every category of every question)."""
    return dict(zip(zip(frame["variable"], frame["category"]), frame["share"]))


class Lookup:
    """Positions of the first ``indices`` row of each (unit_id, item_id) and the columns
    :class:`~sipas.publishing.report.Report` reads from it, as numpy arrays."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        keys = zip(frame["unit_id"].tolist(), frame["item_id"].tolist())
        self.pos: dict = {}
        for i, key in enumerate(keys):
            self.pos.setdefault(key, i)
        self.estimate = frame["estimate"].to_numpy(dtype=float, na_value=np.nan)
        self.ci_low, self.ci_high, self.flag = (frame[c].to_numpy() for c in ("ci_low", "ci_high", "flag"))
        self.has_intervals = bool(frame["ci_low"].notna().any())
        # the reliability codes in use, sorted (empty: no figure is flagged)
        flags = set(self.flag.tolist())
        self.has_flags = any(is_flagged(v) for v in flags)
        self.flag_codes = sorted({c for v in flags for c in flag_codes(v)})


def by_unit(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The rows of ``frame`` grouped by ``unit_id`` (each unit's in their order) and each
    unit's (start, stop) in it."""
    codes, units = pd.factorize(frame["unit_id"])  # -1: no unit id (sorted first, in no unit)
    bounds = np.cumsum(np.bincount(codes + 1, minlength=len(units) + 1))
    return frame.take(np.argsort(codes, kind="stable")), {u: (int(bounds[k]), int(bounds[k + 1]))
                                                          for k, u in enumerate(units)}


def topics(frame: pd.DataFrame) -> list[dict]:
    """A row per perception topic that has positive categories, from a scope's answers."""
    topics: dict = {}  # variable -> [label, positive categories' labels, n, positive n], in order
    for var, label, cat, pos, n in zip(frame["variable"].tolist(), frame["variable_label"].tolist(),
                                       frame["category_label"].tolist(),
                                       frame["positive"].astype(bool).tolist(), frame["n"].tolist()):
        topic = topics.setdefault(var, [label, [], 0, 0])
        topic[2] += n
        if pos:
            topic[1].append(cat)
            topic[3] += n
    return [{"variable": var, "variable_label": label, "positive_labels": ", ".join(positive),
             "n": int(total), "estimate": hits / total if total else np.nan}
            for var, (label, positive, total, hits) in topics.items() if positive]


def perception_index(mine: list[dict], province: list[dict]) -> pd.DataFrame:
    """The topics (:func:`topics`) of a scope with the province's estimate beside."""
    if not mine and not province:
        return pd.DataFrame(columns=["variable", "variable_label", "positive_labels", "n", "estimate", "province"])
    out = pd.DataFrame(mine) if mine else pd.DataFrame(province).iloc[:0]  # none: typed as the province's
    out["province"] = out["variable"].map(pd.Series([r["estimate"] for r in province],
                                                    index=[r["variable"] for r in province], dtype=float))
    return out
