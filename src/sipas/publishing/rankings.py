"""Where units stand among their peers on a page: the ranking of a unit type, rank
intervals and bands, and the publication policy that decides what is shown
(:class:`Rankings`, a part of :class:`sipas.publishing.report.Report`). Ranks, bands
and model-based figures are read from the published ``indices`` and ``ranks`` tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.estimation.sae import SAE_COLUMNS


class Rankings:
    """Rankings and the publication policy; mixed into :class:`~sipas.publishing.report.Report`."""

    def ranking(self, unit_type: str) -> pd.DataFrame:
        """Units of one type ranked by SIPAS (ties share the better rank); with the SIPAS
        interval (``ci_low``, ``ci_high``), ``flag`` and rank interval when available.
        Computed once per process, tables and type, from the tables as read (a copy each
        call: callers may change it): the tables are read once per process
        (:func:`load_year_data`), so a warm kernel ranks a type once for all its annexes,
        not once per annex. A report whose ``indices`` or ranks were replaced ranks what
        it holds, every call (see :meth:`~sipas.publishing.report.Report._shared`)."""
        ids = self.unit_ids(unit_type)
        return self._shared(("ranking", unit_type, tuple(ids)), lambda indices, ranks: _ranking(indices, ranks, ids),
                            ("indices", "_ranks")).copy(deep=False)

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
        ids = self.unit_ids(unit_type)
        return self._shared(("shows_model", unit_type, tuple(ids)),
                            lambda i: bool(i[i.unit_id.isin(ids)]["estimate_sae"].notna().any()))

    def uses_bands(self, unit_type: str) -> bool:
        """Whether rankings of a unit type show bands where rank intervals are wide
        (``publication.bands.unit_types``)."""
        return unit_type in self.cfg.settings.publication.bands.unit_types

    def place(self, unit_id: str) -> dict:
        """Where a unit stands among its peers: ``rank``, ``total``, ``rank_low``,
        ``rank_high``, ``band`` and ``banded`` (true: publish the band, not the rank)."""
        utype = self.unit(unit_id).type
        places = self._shared(("places", utype, tuple(self.unit_ids(utype))),
                              lambda *_: _places(self.ranking(utype)), ("indices", "_ranks"))
        rank, total, band, strict, low, high = places[unit_id]
        return {"rank": rank, "total": total, "band": band,
                "banded": bool(self.uses_bands(utype) and band is not None and not strict),
                "rank_low": low, "rank_high": high}

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


def _places(r: pd.DataFrame) -> dict[str, tuple]:
    """unit_id -> (rank, total, band, strict rank, rank_low, rank_high) of a ranking."""
    out = {}
    for me in r.to_dict("records"):
        band = me.get("band")
        low, high = me.get("rank_low", np.nan), me.get("rank_high", np.nan)
        out[me["unit_id"]] = (int(me["rank"]), len(r), band if isinstance(band, str) else None,
                              bool(me.get("strict_rank")), None if pd.isna(low) else int(low),
                              None if pd.isna(high) else int(high))
    return out


def _rank_intervals(r: pd.DataFrame | None) -> pd.DataFrame | None:
    if r is None or not len(r):
        return None
    r = r[r["item_id"] == "sipas"]  # sipas.estimation.ranks writes every index; the ranking is by the overall one
    return r[["unit_id", "rank_low", "rank_high", "band", "strict_rank"]].drop_duplicates("unit_id")
