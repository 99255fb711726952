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
    """Quotes and themes; mixed into :class:`~sipas.publishing.report.Report`."""

    def _comments_frame(self, scope: str) -> pd.DataFrame:
        """A scope's non-empty comments in a stable order (kept per report: read-only)."""
        memo = self.__dict__.setdefault("_comments", {})
        hit = memo.get(scope)
        if hit is None or hit[0] is not self.responses:
            hit = memo[scope] = (self.responses, self._comments_of(scope))
        return hit[1]

    def _comments_of(self, scope: str) -> pd.DataFrame:
        df = self.responses
        if df is None or "comment" not in df:
            return pd.DataFrame(columns=["respondent_id", "unit_id", "comment"])
        sub = df if scope == PROVINCE_ID else df[df.unit_id == scope]
        sub = sub[sub.comment.notna() & (sub.comment.astype(str).str.strip() != "")]
        return sub[["respondent_id", "unit_id", "comment"]].sort_values(["unit_id", "respondent_id"], kind="mergesort")

    def comments(self, unit_id: str, k: int = 5) -> list[str]:
        """Up to ``k`` non-empty open comments of a unit (or the province), in a stable
        order, one per theme first so that the quotes are varied; personal data masked."""
        sub = self._comments_frame(unit_id)
        texts = [redact(str(c).strip()) for c in sub["comment"]]
        chosen: list[str] = []
        for _tid, _label, rx in comment_themes_spec(self.paths):
            for t in texts:
                if rx.search(fold(t)) and t not in chosen:
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

    def comment_themes(self, scope: str) -> pd.DataFrame:
        """Per theme: comments that mention it (``n``) and their share of all comments."""
        sub = self._comments_frame(scope)
        folded = [fold(c) for c in sub["comment"]]
        total = len(folded)
        rows = []
        for tid, label, rx in comment_themes_spec(self.paths):
            n = sum(1 for c in folded if rx.search(c))
            rows.append({"theme_id": tid, "theme": label, "n": n, "share": n / total if total else np.nan})
        out = pd.DataFrame(rows, columns=["theme_id", "theme", "n", "share"])
        out["order"] = range(len(out))
        out = out.sort_values(["n", "order"], ascending=[False, True], kind="mergesort").drop(columns="order")
        out.attrs["comments"] = total
        out.attrs["respondents"] = int((self.responses.unit_id == scope).sum()) if scope != PROVINCE_ID and \
            self.responses is not None else (len(self.responses) if self.responses is not None else 0)
        return out.reset_index(drop=True)
