"""The survey design (R's ``svydesign``): strata, stages of clusters, weights, fpc.

Builds the :class:`~sipas.estimation.survey.variance.Stage` list from the columns
named per stage, checks them (clear errors naming column, row and value), derives the
weights from the fpc when none are given, and holds the estimators (mixed in from
:mod:`sipas.estimation.survey.estimators`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.estimation.survey._data import _check_level, _codes, _labels, _numeric
from sipas.estimation.survey.calibration import Calibrated
from sipas.estimation.survey.estimators import Estimators
from sipas.estimation.survey.replicate import Replicated
from sipas.estimation.survey.variance import Stage, first, nest, stage_factors

LONELY_PSU = ("fail", "adjust", "remove", "certainty")


def _per_stage(value, name: str, stages: int) -> list:
    items = [value] if value is None or isinstance(value, str) else list(value)
    if len(items) > stages:
        raise SipasError(f"{len(items)} {name} columns for a design of {stages} stage(s)",
                         value=items, hint=f"give at most one {name} column per stage of psu=")
    return items + [None] * (stages - len(items))


class SurveyDesign(Estimators, Calibrated, Replicated):
    """A stratified, multistage, weighted sample: the ``svydesign`` of this package.

    Parameters
    ----------
    data : DataFrame, one row per respondent; not copied (do not mutate it afterwards).
    strata : column of first-stage stratum labels, or a list with one column (or None)
        per stage; None for an unstratified design.
    psu : column of primary-sampling-unit labels, or a list of columns, one per stage
        (R's ``id=~dnum+snum`` is ``psu=["dnum", "snum"]``); each stage's units are
        nested within the previous stage's units and within their strata. None: every
        row is its own PSU (R's ``id=~1``).
    weights : column of sampling weights (> 0). None: the product over stages of
        N/n from the fpc (R's default), or 1 without fpc.
    fpc : column (or list, one per stage) of the population count of units in the
        row's stratum at that stage (constant within the stratum, at least the number
        sampled), or of sampling fractions (all values <= 1); ``inf`` means no
        correction. A stage's variance term is added only when the stage above has an
        fpc (as R); a stage without fpc ends the recursion.
    lonely_psu : ``"fail"`` (default, as R), ``"adjust"``, ``"remove"`` or
        ``"certainty"``, at every stage; see :mod:`sipas.estimation.survey.variance`.
    ultimate_cluster : only the first stage's variance (R's
        ``options(survey.ultimate.cluster=TRUE)``).
    level : default confidence level of intervals.

    >>> d = SurveyDesign(apiclus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])  # doctest: +SKIP
    >>> d.mean("api00")                                                          # doctest: +SKIP
    """

    def __init__(self, data: pd.DataFrame, *, strata=None, psu=None, weights: str | None = None,
                 fpc=None, lonely_psu: str = "fail", level: float = 0.95,
                 ultimate_cluster: bool = False) -> None:
        if not isinstance(data, pd.DataFrame):
            raise SipasError(f"the survey data must be a pandas DataFrame, got {type(data).__name__}")
        if len(data) == 0:
            raise SipasError("the survey data has no rows")
        if lonely_psu not in LONELY_PSU:
            raise SipasError("unknown lonely_psu option", value=lonely_psu,
                             hint=f"use one of {', '.join(LONELY_PSU)}")
        self.data = data
        self.level = _check_level(level)
        self.lonely_psu = lonely_psu
        self.ultimate_cluster = bool(ultimate_cluster)
        psus = [psu] if psu is None or isinstance(psu, str) else list(psu)
        if not psus:
            raise SipasError("psu= needs at least one column (or None)")
        S = len(psus)
        stratas, fpcs = _per_stage(strata, "strata", S), _per_stage(fpc, "fpc", S)
        self.columns = {"strata": strata, "psu": psu, "weights": weights, "fpc": fpc}
        n = len(data)

        first_labels = _labels(data, stratas[0]) if stratas[0] else np.array(["(all)"], dtype=object)
        parent = np.zeros(n, dtype=np.int64)
        rows_units, raw = [], []   # per stage: unit per row; (stratum per unit, n_h, pop)
        ratio = np.ones(n)         # N/n product, for weights derived from the fpc
        for s in range(S):
            code = _codes(data, stratas[s]) if stratas[s] else np.zeros(n, dtype=np.int64)
            stratum = nest(parent, code)
            unit = nest(stratum, _codes(data, psus[s]) if psus[s] else np.arange(n, dtype=np.int64))
            n_units, n_strata = int(unit.max()) + 1, int(stratum.max()) + 1
            unit_stratum = first(unit, stratum, n_units)
            n_h = np.bincount(unit_stratum, minlength=n_strata)
            names = (lambda idx, lab=first_labels: lab[idx]) if s == 0 else \
                (lambda idx, s=s: [f"stage {s + 1} stratum {i}" for i in idx])
            pop = None if fpcs[s] is None else self._population(fpcs[s], stratum, n_h, names, s)
            if pop is not None:
                ratio = ratio * np.where(np.isinf(pop), np.nan, pop / n_h)[stratum]
            rows_units.append(unit)
            raw.append((stratum, unit_stratum, n_h, pop, names))
            parent = unit
            if pop is None:
                # no fpc: R's recursion stops here (its later stages add nothing)
                depth = s + 1
                break
        else:
            depth = S
        if self.ultimate_cluster:
            depth = 1
        if weights is None:
            if fpc is None:
                self._w = np.ones(n)
            elif any(f is None for f in fpcs) or np.isnan(ratio).any():
                raise SipasError("weights cannot be derived from the fpc: a stage has no finite "
                                 "population count", hint="give weights=, or an fpc for every stage")
            else:
                self._w = ratio
        else:
            self._w = _numeric(data, weights)
            bad = ~np.isfinite(self._w) | (self._w <= 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise SipasError(f"{bad.sum()} weights are missing, zero, negative or infinite",
                                 column=weights, row=i + 1, value=data[weights].iloc[i],
                                 hint="every respondent needs a positive sampling weight")

        finest = rows_units[depth - 1]
        self._unit = finest
        stages, multiplier = [], np.ones(0)
        for s in range(depth):
            stratum, unit_stratum, n_h, pop, names = raw[s]
            if s == 0:
                multiplier = np.ones(len(n_h))
            else:
                _, prev_unit_stratum, prev_n, prev_pop, _ = raw[s - 1]
                frac = np.where(np.isinf(prev_pop), 0.0, prev_n / np.where(np.isinf(prev_pop), 1, prev_pop))
                # stratum of this stage -> its parent unit -> that unit's stratum
                parent_unit = first(stratum, rows_units[s - 1], len(n_h))
                up = prev_unit_stratum[parent_unit]
                multiplier = multiplier[up] * frac[up]  # the previous stage's
            scale, centre, _ = stage_factors(n_h, pop, lonely_psu, s + 1, names)
            stages.append(Stage(first(finest, rows_units[s], int(finest.max()) + 1), unit_stratum,
                                n_h, scale * multiplier, centre * multiplier))
        self._stages = stages

        # first-stage view (used by ranks, drivers, degrees of freedom)
        self._psu = rows_units[0]
        self._stratum = raw[0][0]
        self._psu_stratum = raw[0][1]
        self._n_h = raw[0][2]
        self._scale, self._centre = stages[0].scale, stages[0].centre
        self._stratum_labels = first_labels

    def _population(self, column: str, stratum: np.ndarray, n_h: np.ndarray, names, s: int) -> np.ndarray:
        """Population count of units per stratum of stage ``s`` from an fpc column."""
        data = self.data
        pop = _numeric(data, column)
        if np.isnan(pop).any() or (pop <= 0).any():
            i = int(np.flatnonzero(np.isnan(pop) | (pop <= 0))[0])
            raise SipasError("fpc must be a positive population count or sampling fraction",
                             column=column, row=i + 1, value=data[column].iloc[i])
        H = len(n_h)
        lo, hi = np.full(H, np.inf), np.full(H, -np.inf)
        np.minimum.at(lo, stratum, pop)
        np.maximum.at(hi, stratum, pop)
        varies = np.flatnonzero(lo != hi)
        if varies.size:
            raise SipasError("fpc differs within a stratum", column=column, value=names(varies[:1])[0],
                             hint="give the stratum's population count of units on every row")
        if (lo <= 1).all():
            return n_h / lo  # sampling fractions
        if (lo < 1).any():
            raise SipasError("fpc mixes sampling fractions (< 1) and population counts", column=column,
                             hint="give all population counts or all sampling fractions")
        short = np.flatnonzero(lo < n_h)
        if short.size:
            h = short[0]
            unit = "PSUs" if s == 0 else "units"
            raise SipasError(f"fpc {lo[h]:g} is smaller than the {n_h[h]} {unit} sampled in "
                             f"stratum {names([h])[0]!r}", column=column,
                             hint="fpc is a population count of units, or a sampling fraction")
        return lo

    # ------------------------------------------------------------------ properties

    @property
    def n(self) -> int:
        """Number of rows (respondents)."""
        return len(self._w)

    @property
    def n_psu(self) -> int:
        return len(self._psu_stratum)

    @property
    def n_strata(self) -> int:
        return len(self._n_h)

    @property
    def n_stages(self) -> int:
        """Stages that contribute variance (1 for a single-stage or ultimate-cluster design)."""
        return len(self._stages)

    @property
    def df(self) -> int:
        """Design degrees of freedom: PSUs - strata (R's ``degf``); for a replicate
        design the rank of the replicate weights minus one, as R."""
        if self._rep is not None:
            return self._rep.degf(np.arange(self.n_psu))
        return self.n_psu - self.n_strata

    @property
    def weights(self) -> np.ndarray:
        """The sampling (or calibrated) weight of every row."""
        return self._w

    def __repr__(self) -> str:
        cols = ", ".join(f"{k}={v!r}" for k, v in self.columns.items() if v)
        return (f"{type(self).__name__}({cols}; {self.n} rows, {self.n_psu} PSUs, {self.n_strata} "
                f"strata, {self.n_stages} variance stage(s), df={self.df}, lonely_psu={self.lonely_psu!r})")

    # ------------------------------------------------------------------ helpers

    def _column(self, spec) -> tuple[str, np.ndarray]:
        """(name, values) of a column name or an array-like aligned with the data."""
        if isinstance(spec, str):
            if spec not in self.data.columns:
                raise SipasError("no such column in the survey data", column=spec,
                                 hint=f"columns: {', '.join(map(str, self.data.columns[:30]))}")
            return spec, self.data[spec].to_numpy()
        values = spec.to_numpy() if isinstance(spec, pd.Series) else np.asarray(spec)
        name = str(getattr(spec, "name", None) or "value")
        if values.shape != (self.n,):
            raise SipasError(f"values have shape {values.shape}, expected one per row ({self.n})",
                             column=name)
        return name, values

    def domains(self, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
        """Domain code of every row (-1 where a ``by`` value is missing) and the domain
        labels (one row per domain, sorted by the ``by`` columns)."""
        if by is None:
            return np.zeros(self.n, dtype=np.int64), pd.DataFrame(index=range(1))
        cols = [by] if isinstance(by, str) else list(by)
        known = self.__dict__.setdefault("_domains", {})  # the same data: factorised once per ``by``
        if tuple(cols) not in known:
            for c in cols:
                self._column(c)
            frame = self.data[cols].reset_index(drop=True)
            missing = frame.isna().any(axis=1).to_numpy()
            labels = frame[~missing].drop_duplicates().sort_values(cols).reset_index(drop=True)
            code = pd.MultiIndex.from_frame(labels).get_indexer(pd.MultiIndex.from_frame(frame))
            known[tuple(cols)] = np.where(missing, -1, code).astype(np.int64), labels
        code, labels = known[tuple(cols)]
        return code.copy(), labels.copy()
