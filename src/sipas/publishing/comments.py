"""Citizens' open comments on a page: which to quote and how many mention each theme
(:class:`Comments`, a part of :class:`sipas.publishing.report.Report`).

Comments are quoted from the processed microdata (``respondent_id``, ``unit_id``,
``comment``), personal data masked (:func:`sipas.publishing.text.redact`); themes are the
keyword lists of ``comment_themes.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.estimation.indices import PROVINCE_ID
from sipas.publishing.text import comment_themes_spec, fold, redact


class Comments:
    """Quotes and themes; mixed into :class:`~sipas.publishing.report.Report` (computed once
    per process and tables read: see :meth:`~sipas.publishing.report.Report._shared`)."""

    def comments(self, unit_id: str, k: int = 5) -> list[str]:
        """Up to ``k`` non-empty open comments of a unit (or the province), in a stable
        order, one per theme first so that the quotes are varied; personal data masked."""
        return _quotes(self._comments_of(unit_id), k, comment_themes_spec(self.paths))

    def comment_themes(self, scope: str) -> pd.DataFrame:
        """Per theme: comments that mention it (``n``) and their share of all comments."""
        themes = comment_themes_spec(self.paths)
        return self._shared(("themes", scope, themes), lambda df: _themes(
            self._comments_of(scope), themes,
            0 if df is None else len(df) if scope == PROVINCE_ID else len(self._rows("responses", scope))),
            ("responses",)).copy(deep=False)

    def _comments_of(self, scope: str) -> pd.DataFrame:
        """A scope's non-empty comments in a stable order (shared: read-only)."""
        def comments(df: pd.DataFrame | None) -> pd.DataFrame:
            if df is None or "comment" not in df:
                return pd.DataFrame(columns=["respondent_id", "unit_id", "comment"])
            sub = df if scope == PROVINCE_ID else self._rows("responses", scope)
            sub = sub[sub.comment.notna() & (sub.comment.astype(str).str.strip() != "")]
            return sub[["respondent_id", "unit_id", "comment"]].sort_values(["unit_id", "respondent_id"],
                                                                            kind="mergesort")

        return self._shared(("comments", scope), comments, ("responses",))


def _quotes(sub: pd.DataFrame, k: int, themes: tuple) -> list[str]:
    texts = [redact(str(c).strip()) for c in sub["comment"]]
    folded = [fold(t) for t in texts]
    chosen: list[str] = []
    for _tid, _label, rx in themes:
        for t, f in zip(texts, folded):
            if rx.search(f) and t not in chosen:
                chosen.append(t)
                break
        if len(chosen) >= k:
            break
    for t in texts:
        if len(chosen) >= k:
            break
        if t not in chosen:
            chosen.append(t)
    return chosen[:k]


def _themes(sub: pd.DataFrame, themes: tuple, respondents: int) -> pd.DataFrame:
    folded = [fold(c) for c in sub["comment"]]
    total = len(folded)
    rows = []
    for tid, label, rx in themes:
        n = sum(1 for c in folded if rx.search(c))
        rows.append({"theme_id": tid, "theme": label, "n": n, "share": n / total if total else np.nan})
    rows.sort(key=lambda r: -r["n"])  # the most mentioned first, then in the themes' order (a stable sort)
    out = pd.DataFrame(rows, columns=["theme_id", "theme", "n", "share"])
    out.attrs["comments"] = total
    out.attrs["respondents"] = respondents
    return out
