"""Where units stand among their peers on a page: the ranking of a unit type, rank
intervals and bands, and the publication policy that decides what is shown
(:class:`Rankings`, a part of :class:`sipas.publishing.report.Report`). Ranks, bands
and model-based figures are read from the published ``indices`` and ``ranks`` tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.estimation.sae import SAE_COLUMNS

# (tables read, unit type, unit ids) -> ranking: see Rankings.ranking
_RANKINGS: dict[tuple, pd.DataFrame] = {}


class Rankings:
    """Rankings and the publication policy; mixed into :class:`~sipas.publishing.report.Report`."""

    def ranking(self, unit_type: str) -> pd.DataFrame:
        """Units of one type ranked by SIPAS (ties share the better rank); with the SIPAS
        interval (``ci_low``, ``ci_high``), ``flag`` and rank interval when available.
        Computed once per process, tables and type, from the tables as read (a copy each
        call: callers may change it): the tables are read once per process
        (:func:`load_year_data`), so a warm kernel ranks a type once for all its annexes,
        not once per annex. A report whose ``indices`` or ranks were replaced ranks what
        it holds, every call."""
        if self.indices is not self._handed[0] or self._ranks is not self._handed[1]:
            return _ranking(self.indices, self._ranks, self.unit_ids(unit_type))
        read, indices, ranks, _tests = self._as_read  # never handed out: no caller has changed them
        ids = self.unit_ids(unit_type)
        key = (read, unit_type, tuple(ids))
        hit = _RANKINGS.get(key)
        if hit is None:
            if len(_RANKINGS) >= 32:  # other years or projects: keep the memo small
                _RANKINGS.clear()
            hit = _RANKINGS[key] = _ranking(indices, ranks, ids)
        return hit.copy(deep=False)

    def rank_intervals(self) -> pd.DataFrame | None:
        """``unit_id, rank_low, rank_high, band, strict_rank`` of the SIPAS from the ``ranks``
        table (None when empty)."""
        return _rank_intervals(self._ranks)

    # ------------------------------------------- publication policy, bands

    def rule(self, unit_type: str) -> str:
        """The publication policy of a unit type: suppress, caution or model_based."""
        return self.cfg.settings.publication.rule(unit_type)

    def shows_model(self, unit_type: str) -> bool:
        """Whether the pages show model-based figures beside the direct ones for a unit
        type: it is modelled (``publication.sae.unit_types``) and the table has figures."""
        if unit_type not in self.cfg.settings.publication.sae.unit_types:
            return False
        rows = self.indices[self.indices.unit_id.isin(self.unit_ids(unit_type))]
        return bool(rows["estimate_sae"].notna().any())

    def uses_bands(self, unit_type: str) -> bool:
        """Whether rankings of a unit type show bands where rank intervals are wide
        (``publication.bands.unit_types``)."""
        return unit_type in self.cfg.settings.publication.bands.unit_types

    def place(self, unit_id: str) -> dict:
        """Where a unit stands among its peers: ``rank``, ``total``, ``rank_low``,
        ``rank_high``, ``band`` and ``banded`` (true: publish the band, not the rank)."""
        r = self.ranking(self.unit(unit_id).type)
        me = r[r.unit_id == unit_id].iloc[0]
        band = me.get("band")
        banded = bool(self.uses_bands(self.unit(unit_id).type) and isinstance(band, str)
                      and not bool(me.get("strict_rank")))
        low, high = me.get("rank_low", np.nan), me.get("rank_high", np.nan)
        return {"rank": int(me["rank"]), "total": len(r), "band": band if isinstance(band, str) else None,
                "banded": banded, "rank_low": None if pd.isna(low) else int(low),
                "rank_high": None if pd.isna(high) else int(high)}

    def rank_of(self, unit_id: str) -> tuple[int, int]:
        r = self.ranking(self.unit(unit_id).type)
        return int(r.loc[r.unit_id == unit_id, "rank"].iloc[0]), len(r)


def _ranking(indices: pd.DataFrame, ranks: pd.DataFrame | None, ids: list[str]) -> pd.DataFrame:
    idx = indices[indices.unit_id.isin(ids)]
    wide = idx.pivot_table(index=["unit_id", "unit_name"], columns="item_id", values="estimate",
                           sort=False).reset_index()
    wide.columns.name = None
    sip = idx[idx.item_id == "sipas"].set_index("unit_id")
    wide["n"] = wide["unit_id"].map(sip["n"])
    for col in ("ci_low", "ci_high", "flag", *SAE_COLUMNS, "publication"):
        wide[col] = wide["unit_id"].map(sip[col])
    wide = wide.sort_values(["sipas", "unit_id"], ascending=[False, True], kind="mergesort")
    wide.insert(0, "rank", wide["sipas"].rank(method="min", ascending=False).astype(int))
    intervals = _rank_intervals(ranks)
    if intervals is not None:
        wide = wide.merge(intervals, on="unit_id", how="left")
    return wide.reset_index(drop=True)


def _rank_intervals(r: pd.DataFrame | None) -> pd.DataFrame | None:
    if r is None or not len(r):
        return None
    r = r[r["item_id"] == "sipas"]  # sipas.estimation.ranks writes every index; the ranking is by the overall one
    return r[["unit_id", "rank_low", "rank_high", "band", "strict_rank"]].drop_duplicates("unit_id")
