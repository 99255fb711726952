"""Design-based estimation for complex survey samples, in the style of R's ``survey``.

Declare the design once, then call estimators; every estimator returns a tidy
:class:`pandas.DataFrame` with the same columns (:data:`COLUMNS`)::

    >>> from sipas.estimation.survey import SurveyDesign, difference
    >>> d = SurveyDesign(df, strata="stype", psu="dnum", weights="pw", fpc="fpc")
    >>> d.mean("api00")                                    # doctest: +SKIP
      variable    estimate        se  ci_low  ci_high ci_method  deff    n  n_eff  df
    0    api00  644.169399  23.54224  593.68   694.66      wald  9.35  183  19.58  14
    >>> d.proportion("sch.wide", value="Yes", by="stype")  # logit interval, per domain
    >>> d.ratio("api.stu", "enroll")
    >>> d.chisq("sch.wide", "stype")                       # Rao-Scott F test

Statistical definitions (each matches R ``survey`` 4.1; tests pin the numbers):

* **Design.** Stratified, clustered, weighted sample. PSU identifiers are nested
  within strata (R's ``nest=TRUE``). ``fpc`` is the population count of PSUs in the
  stratum (R's ``fpc=`` given as counts); the first-stage factor is ``(N_h - n_h)/N_h``.
* **Variance.** Taylor linearisation with the with-replacement-at-first-stage
  ("ultimate cluster") formula: for an estimate with influence values ``z``,
  ``V = sum_h f_h n_h/(n_h - 1) sum_j (z_hj - mean_h z)^2`` over PSU totals ``z_hj``.
* **Lonely PSUs** (strata with a single PSU), option ``lonely_psu``, as R's
  ``options(survey.lonely.psu=)``: ``"fail"`` (the default, as in R) refuses the design;
  ``"adjust"`` lets the stratum contribute ``f_h z_h^2`` (its PSU total centred at the
  grand mean, zero for means and ratios); ``"remove"`` and ``"certainty"`` let it
  contribute nothing (for a single-stage variance R treats the two alike).
* **Domains** (``by=``) are estimated on the whole design: rows outside the domain
  contribute zeros, every stratum keeps its PSU count, as R's ``svyby``/``subset``.
  Missing values of a variable put the row outside that estimate's base (``na.rm``).
* **Degrees of freedom** = PSUs - strata among the rows that enter the estimate
  (R's ``degf`` of the domain's subset design).
* **Design effect** (R's ``deff=TRUE``): design variance over the variance of the same
  estimator under simple random sampling *without* replacement of ``n`` from the
  estimated population ``N = sum w``: ``V_srs = (N - n)/(n - 1) * sum w r^2`` with ``r``
  the per-row linearised variable; for a mean this is R's ``svymean(deff=TRUE)``, for a
  ratio R's ``svyratio(deff=TRUE)``. NaN when ``N <= n`` (e.g. unweighted data).
* **Effective sample size** ``n_eff = n / max(deff, 1)`` (NCHS: a design effect below 1
  does not make the sample larger than it is).
* **Intervals** (``ci_method``): ``"wald"`` = estimate +/- t(df) SE (R ``svyciprop``
  ``method="mean"`` / ``confint(df=degf)``); ``"logit"`` = Wald interval on the logit
  scale, back-transformed (``svyciprop`` default); ``"beta"`` = Korn-Graubard with
  R's effective-n and degrees-of-freedom adjustment. At an estimate of exactly 0 or 1
  (zero variance) the logit interval does not exist; those rows get the Korn-Graubard
  interval with the effective n taken as n (as NCHS does), and say ``"beta"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from sipas.base.errors import SipasError

COLUMNS = ["estimate", "se", "ci_low", "ci_high", "ci_method", "deff", "n", "n_eff", "df"]
"""Statistics columns of every estimator's table, after the domain and variable columns."""

CONTRAST_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "ci_method", "df", "t", "p_value"]
"""Columns of a difference or contrast table."""

CHISQ_COLUMNS = ["row", "col", "n", "chisq", "F", "ndf", "ddf", "p_value"]
"""Columns of a Rao-Scott test table (after the domain columns)."""

LONELY_PSU = ("fail", "adjust", "remove", "certainty")
CI_METHODS = ("logit", "beta", "wald")


class SurveyDesign:
    """A stratified, clustered, weighted sample: the ``svydesign`` of this package.

    Parameters
    ----------
    data : DataFrame, one row per respondent; not copied (do not mutate it afterwards).
    strata : column of stratum labels, or None for an unstratified design.
    psu : column of primary-sampling-unit labels (nested within strata), or None when
        every row is its own PSU (R's ``id=~1``).
    weights : column of sampling weights (> 0), or None for weight 1.
    fpc : column giving the population count of PSUs in the row's stratum (constant
        within a stratum, at least the number of sampled PSUs), or None for no
        finite-population correction. ``inf`` means no correction for that stratum.
    lonely_psu : ``"fail"`` (default, as R), ``"adjust"``, ``"remove"`` or
        ``"certainty"``; see the module documentation.
    level : default confidence level of intervals.

    Examples
    --------
    >>> d = SurveyDesign(apistrat, strata="stype", weights="pw", fpc="fpc")  # doctest: +SKIP
    >>> d.mean("api00")["estimate"].item()                                    # doctest: +SKIP
    662.287...
    """

    def __init__(self, data: pd.DataFrame, *, strata: str | None = None, psu: str | None = None,
                 weights: str | None = None, fpc: str | None = None, lonely_psu: str = "fail",
                 level: float = 0.95) -> None:
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
        self.columns = {"strata": strata, "psu": psu, "weights": weights, "fpc": fpc}
        n = len(data)

        stratum = _codes(data, strata) if strata else np.zeros(n, dtype=np.int64)
        unit = _codes(data, psu) if psu else np.arange(n, dtype=np.int64)
        keys, self._psu = np.unique(stratum * (unit.max() + 1) + unit, return_inverse=True)
        self._psu = self._psu.astype(np.int64)  # PSU ids, ordered by stratum
        self._psu_stratum = keys // (unit.max() + 1)
        self._stratum = stratum
        self._n_h = np.bincount(self._psu_stratum)  # sampled PSUs per stratum
        self._stratum_labels = _labels(data, strata) if strata else np.array(["(all)"], dtype=object)

        if weights is None:
            self._w = np.ones(n)
        else:
            self._w = _numeric(data, weights)
            bad = ~np.isfinite(self._w) | (self._w <= 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise SipasError(f"{bad.sum()} weights are missing, zero, negative or infinite",
                                 column=weights, row=i + 1, value=data[weights].iloc[i],
                                 hint="every respondent needs a positive sampling weight")

        f = np.ones(len(self._n_h))  # first-stage finite-population factor (N_h - n_h) / N_h
        if fpc is not None:
            pop = _numeric(data, fpc)
            if np.isnan(pop).any() or (pop <= 0).any():
                i = int(np.flatnonzero(np.isnan(pop) | (pop <= 0))[0])
                raise SipasError("fpc must be a positive population count of PSUs", column=fpc,
                                 row=i + 1, value=data[fpc].iloc[i])
            lo = np.full(len(self._n_h), np.inf)
            hi = np.full(len(self._n_h), -np.inf)
            np.minimum.at(lo, stratum, pop)
            np.maximum.at(hi, stratum, pop)
            varies = np.flatnonzero(lo != hi)
            if varies.size:
                raise SipasError("fpc differs within a stratum", column=fpc,
                                 value=self._stratum_labels[varies[0]],
                                 hint="give the stratum's population count of PSUs on every row")
            short = np.flatnonzero(lo < self._n_h)
            if short.size:
                h = short[0]
                raise SipasError(f"fpc {lo[h]:g} is smaller than the {self._n_h[h]} PSUs sampled in "
                                 f"stratum {self._stratum_labels[h]!r}", column=fpc,
                                 hint="fpc is a population count of PSUs, not a sampling fraction")
            f = np.where(np.isinf(lo), 1.0, (lo - self._n_h) / np.where(np.isinf(lo), 1.0, lo))

        lonely = self._n_h == 1
        if lonely.any() and lonely_psu == "fail":
            names = ", ".join(repr(s) for s in self._stratum_labels[lonely][:5])
            raise SipasError(f"{lonely.sum()} strata have a single PSU ({names}); its variance "
                             "cannot be estimated", column=strata or psu,
                             hint="merge strata, or choose lonely_psu='adjust', 'remove' or 'certainty'")
        many = self._n_h > 1
        with np.errstate(divide="ignore", invalid="ignore"):
            self._scale = np.where(many, f * self._n_h / (self._n_h - 1),
                                   f if lonely_psu == "adjust" else 0.0)
        # weight of the stratum-mean correction -s1 s1'/n_h: none for a lonely PSU
        self._centre = np.where(many, self._scale / self._n_h, 0.0)

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
    def df(self) -> int:
        """Design degrees of freedom: PSUs - strata (R's ``degf``)."""
        return self.n_psu - self.n_strata

    def __repr__(self) -> str:
        cols = ", ".join(f"{k}={v!r}" for k, v in self.columns.items() if v)
        return (f"SurveyDesign({cols}; {self.n} rows, {self.n_psu} PSUs, {self.n_strata} strata, "
                f"df={self.df}, lonely_psu={self.lonely_psu!r})")

    # ------------------------------------------------------------------ estimators

    def mean(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None,
             level: float | None = None) -> pd.DataFrame:
        """Design-based mean of one or more numeric columns (missing values excluded).

        >>> d.mean(["api00", "api99"], by="stype")   # doctest: +SKIP

        The interval is ``"wald"`` (estimate +/- t(df) SE).
        """
        names = [variables] if isinstance(variables, str) else list(variables)
        return self.estimate({v: v for v in names}, by=by).table("wald", level)

    def proportion(self, variable, by: str | Sequence[str] | None = None, *, value=None,
                   method: str = "logit", level: float | None = None) -> pd.DataFrame:
        """Design-based proportion with a ``svyciprop``-style interval.

        ``variable`` is a column name or a Series aligned with the data. With ``value``
        the proportion is of rows equal to it; without, the column must hold 0/1 or
        booleans. Missing values are excluded from the base. ``method``: ``"logit"``
        (default), ``"beta"`` (Korn-Graubard) or ``"wald"``.

        >>> d.proportion("sch.wide", value="Yes", by="stype", method="beta")  # doctest: +SKIP
        """
        name, values = self._column(variable)
        if value is not None:
            values = pd.Series(values)
            y = np.where(values.isna(), np.nan, (values == value).astype(float))
            name = f"{name}=={value}"
        else:
            y = _as_float(values, name)
            ok = np.isnan(y) | (y == 0) | (y == 1)
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                raise SipasError("a proportion needs 0/1 or true/false values", column=name,
                                 row=i + 1, value=y[i], hint="or pass value= to count one category")
        return self.estimate({name: y}, by=by).table(method, level)

    def ratio(self, numerator: str | Sequence[str], denominator: str | Sequence[str],
              by: str | Sequence[str] | None = None, level: float | None = None) -> pd.DataFrame:
        """Ratio of weighted totals ``sum w y / sum w x`` (R's ``svyratio``), pairwise for
        lists of numerators and denominators. Rows missing either are excluded.

        >>> d.ratio("api.stu", "enroll", by="stype")   # doctest: +SKIP
        """
        nums = [numerator] if isinstance(numerator, str) else list(numerator)
        dens = [denominator] if isinstance(denominator, str) else list(denominator)
        if len(nums) != len(dens):
            raise SipasError(f"{len(nums)} numerators but {len(dens)} denominators",
                             hint="ratios are formed pairwise")
        return self.estimate({f"{a}/{b}": (a, b) for a, b in zip(nums, dens)}, by=by).table("wald", level)

    def combination(self, combinations: Mapping[str, Mapping[str, float]], components: Mapping | None = None,
                    by: str | Sequence[str] | None = None, *, method: str = "wald",
                    level: float | None = None) -> pd.DataFrame:
        """Linear combinations of means and ratios, with their covariances (``svycontrast``).

        ``combinations`` maps a result name to ``{component: coefficient}``. A component
        is a column name (its mean over non-missing rows), or a name defined in
        ``components`` (see :meth:`estimate`). The table holds the components, then the
        combinations. An element index, the mean of criterion shares with different
        bases, is::

            >>> d.combination({"e1": {"c1_1": .5, "c1_2": .5}}, by="unit_id", method="logit")  # doctest: +SKIP
        """
        comps = dict(components or {})
        for coefs in combinations.values():
            for c in coefs:
                comps.setdefault(c, c)
        return self.estimate(comps, combinations, by=by).table(method, level)

    def estimate(self, components: Mapping, combinations: Mapping[str, Mapping[str, float]] | None = None,
                 by: str | Sequence[str] | None = None) -> Linearized:
        """Linearise a set of estimates; the building block of the other estimators.

        ``components`` maps a name to: a column name or array of values (their mean over
        non-missing rows), or a pair ``(numerator, denominator)`` of column names or
        arrays (a ratio over rows where both are present). ``combinations`` adds linear
        combinations of components. Returns a :class:`Linearized` holding estimates,
        covariances and influence values, from which tables and contrasts are made.
        """
        names = list(components)
        y = np.empty((self.n, len(names)))
        x = np.empty((self.n, len(names)))
        included = np.empty((self.n, len(names)), dtype=bool)
        for k, name in enumerate(names):
            spec = components[name]
            if isinstance(spec, tuple):
                num = _as_float(self._column(spec[0])[1], f"{name} (numerator)")
                den = _as_float(self._column(spec[1])[1], f"{name} (denominator)")
                ok = ~(np.isnan(num) | np.isnan(den))
                y[:, k] = np.where(ok, num, 0.0)
                x[:, k] = np.where(ok, den, 0.0)
            else:
                col, values = self._column(spec)
                v = _as_float(values, col)
                ok = ~np.isnan(v)
                y[:, k] = np.where(ok, v, 0.0)
                x[:, k] = ok
            included[:, k] = ok
        coef, targets = _coefficients(names, combinations)
        return self.linearize(y, x, included, coef, targets, by)

    def linearize(self, y: np.ndarray, x: np.ndarray, included: np.ndarray, coef: np.ndarray,
                  names: Sequence[str], by: str | Sequence[str] | None = None) -> Linearized:
        """Array interface of :meth:`estimate`, for large data (used by ``sipas.estimation.indices``).

        ``y``, ``x``, ``included``: (rows x K) arrays (any numeric or boolean dtype) of
        the K base ratios ``sum w y_k / sum w x_k`` over rows with ``included``; ``y`` and
        ``x`` must be 0 where not included. ``coef``: (K x T) coefficients of the T
        reported estimates (the identity reports the ratios themselves), or (D x K x T)
        with coefficients per domain (in the order of :meth:`domains`). An estimate with
        no nonzero coefficient, or using a ratio with no data in the domain, is NaN.
        ``names``: the T estimate names. Work is done one domain at a time, so memory
        stays near the size of the inputs.
        """
        y, x, included = (np.asarray(a) for a in (y, x, included))
        coef = np.asarray(coef, dtype=float)
        if not (y.shape == x.shape == included.shape and y.ndim == 2 and y.shape[0] == self.n):
            raise SipasError(f"y, x and included must all be ({self.n} x K) arrays")
        dom, labels = self.domains(by)
        if coef.shape not in ((y.shape[1], len(names)), (len(labels), y.shape[1], len(names))):
            raise SipasError(f"coef must be ({y.shape[1]} x {len(names)}) or "
                             f"({len(labels)} x {y.shape[1]} x {len(names)}), got {coef.shape}")
        return _linearize(self, y, x, included, coef, list(names), dom, labels)

    def chisq(self, row: str, col: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Rao-Scott adjusted Pearson chi-square test of independence in a two-way table.

        R's ``svychisq(~row + col, design)`` with its default ``statistic="F"``: the
        Pearson X^2 of the weighted table (scaled to the ``n`` complete rows) divided by
        the mean generalised design effect, referred to F(d, d * nu) where ``d`` is the
        Satterthwaite (second-order) degrees of freedom and ``nu`` the design's PSUs -
        strata. Rows missing either variable are left out. With ``by``, one test per
        domain on the whole design (R: ``svychisq`` on ``subset(design, ...)``); a level
        absent from a domain is dropped from that domain's table.

        >>> d.chisq("sch.wide", "stype")   # doctest: +SKIP
           row    col    n      chisq         F       ndf      ddf   p_value
        0  sch.wide stype  183  11.9409  5.193370  1.494640  20.92496  0.021747
        """
        rv, cv = (pd.Series(self._column(v)[1]).reset_index(drop=True) for v in (row, col))
        ok = rv.notna() & cv.notna()
        rlev, clev = sorted(rv[ok].unique()), sorted(cv[ok].unique())
        comps = {}
        for j, c in enumerate(clev):
            for i, r in enumerate(rlev):
                comps[(i, j)] = np.where(ok, ((rv == r) & (cv == c)).astype(float), np.nan)
        lin = self.estimate(comps, by=by)
        dom, _ = self.domains(by)
        nu = _count_pairs(dom, self._psu) - _count_pairs(dom, self._stratum)
        out = []
        for d in range(len(lin.domains)):
            p = lin.estimate[d].reshape(len(clev), len(rlev)).T  # rows x cols
            keep_r, keep_c = p.sum(1) > 0, p.sum(0) > 0
            use = np.outer(keep_r, keep_c).T.ravel()  # column-major cell order, as estimate
            res = _rao_scott(p[np.ix_(keep_r, keep_c)], lin.vcov[d][np.ix_(use, use)],
                             int(lin.n[d, 0]), nu[d])
            out.append({"row": row, "col": col, "n": int(lin.n[d, 0]), **res})
        return pd.concat([lin.domains, pd.DataFrame(out, columns=CHISQ_COLUMNS)], axis=1)

    def total_vcov(self, z: np.ndarray) -> np.ndarray:
        """Design covariance (p x p) of the estimated totals ``sum_i z_i`` of per-row
        influence values ``z`` (rows x p, already multiplied by the weights; zeros for
        rows outside an estimate's base): R's ``svyrecvar`` with this design's strata,
        PSUs, fpc and lonely-PSU option. Used by :mod:`sipas.estimation.drivers` for regression
        coefficients (``z`` = weighted score times the inverse information)."""
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        if z.shape[0] != self.n:
            raise SipasError(f"influence values have {z.shape[0]} rows, the design {self.n}")
        totals = np.zeros((self.n_psu, z.shape[1]))
        np.add.at(totals, self._psu, z)
        s1 = np.zeros((self.n_strata, z.shape[1]))
        np.add.at(s1, self._psu_stratum, totals)
        scale = self._scale[self._psu_stratum]
        return (totals * scale[:, None]).T @ totals - (s1 * self._centre[:, None]).T @ s1

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
        for c in cols:
            self._column(c)
        frame = self.data[cols].reset_index(drop=True)
        missing = frame.isna().any(axis=1).to_numpy()
        labels = frame[~missing].drop_duplicates().sort_values(cols).reset_index(drop=True)
        code = pd.MultiIndex.from_frame(labels).get_indexer(pd.MultiIndex.from_frame(frame))
        return np.where(missing, -1, code).astype(np.int64), labels


@dataclass
class Linearized:
    """Estimates of T quantities in each of D domains, with their linearisation.

    Arrays are (D x T). ``vcov`` (D x T x T) holds the covariances of the quantities
    within a domain (None for an :meth:`aggregate`). ``srs_var`` is the variance under
    simple random sampling without replacement (denominator of the design effect).
    ``cell_*`` hold influence values summed within each (PSU, domain) cell, from which
    contrasts and aggregates across domains get their variance on the whole design.
    """

    design: SurveyDesign
    names: list[str]
    domains: pd.DataFrame
    estimate: np.ndarray
    var: np.ndarray
    vcov: np.ndarray | None
    n: np.ndarray
    df: np.ndarray
    srs_var: np.ndarray
    cell_psu: np.ndarray
    cell_domain: np.ndarray
    cell_z: np.ndarray
    cell_included: np.ndarray

    @property
    def se(self) -> np.ndarray:
        return np.where(np.isnan(self.estimate), np.nan, np.sqrt(np.clip(self.var, 0, None)))

    @property
    def deff(self) -> np.ndarray:
        """Design effect against SRS without replacement (R's ``deff=TRUE``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isnan(self.estimate), np.nan, self.var / self.srs_var)

    @property
    def n_eff(self) -> np.ndarray:
        """Effective sample size n / max(deff, 1)."""
        return self.n / np.fmax(self.deff, 1.0)

    def table(self, method: str = "wald", level: float | None = None) -> pd.DataFrame:
        """The tidy table: domain columns, ``variable``, then :data:`COLUMNS`."""
        level = _check_level(level or self.design.level)
        low, high, used = interval(self.estimate, self.se, self.df, self.n, method, level)
        D, T = self.estimate.shape
        out = self.domains.loc[np.repeat(np.arange(D), T)].reset_index(drop=True)
        out["variable"] = list(self.names) * D
        stats_ = {"estimate": self.estimate, "se": self.se, "ci_low": low, "ci_high": high,
                  "ci_method": used, "deff": self.deff, "n": self.n, "n_eff": self.n_eff, "df": self.df}
        for c in COLUMNS:
            out[c] = np.asarray(stats_[c]).ravel()
        return out.astype({"n": "int64", "df": "int64"})

    def aggregate(self, coefficients, labels: pd.DataFrame | None = None) -> Linearized:
        """Linear combinations of the domains' estimates, as new "domains".

        ``coefficients``: (Q x D) weights of the D domains in each of Q aggregates, or
        (Q x D x T) to weight each quantity differently (e.g. a mean over the units that
        have an estimate). The variance comes from the whole design (domains sharing
        PSUs or strata get their covariance); degrees of freedom are PSUs - strata
        among the rows involved; ``n`` sums the domains' counts; the SRS variance of the
        design effect is sum a^2 * srs_var (simple random sampling within each domain).
        ``labels``: a Q-row frame naming the aggregates.
        """
        D, T = self.estimate.shape
        a = np.asarray(coefficients, dtype=float)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], T, axis=2)
        if a.ndim != 3 or a.shape[1:] != (D, T):
            raise SipasError(f"expected coefficients of shape (Q, {D}) or (Q, {D}, {T}), got {a.shape}")
        used = a != 0
        est = (a * np.where(used, self.estimate, 0.0)).sum(1)  # NaN if a used estimate is NaN
        est[~used.any(1)] = np.nan
        Q = len(a)
        var, df = np.zeros((Q, T)), np.zeros((Q, T))
        cells = []
        for q in range(Q):
            coef = a[q][self.cell_domain]                   # cells x T
            keep = (coef != 0).any(1)
            z = self.cell_z[keep] * coef[keep]
            psu_ids, inverse = np.unique(self.cell_psu[keep], return_inverse=True)
            totals = sparse.csr_matrix((np.ones(len(inverse)), (inverse, np.arange(len(inverse)))),
                                       shape=(len(psu_ids), len(inverse))) @ z
            var[q] = _stratified_variance(self.design, psu_ids, totals)
            inc = self.cell_included[keep] & (coef[keep] != 0)
            df[q] = _psus_minus_strata(self.design, self.cell_psu[keep], inc)
            cells.append((self.cell_psu[keep], np.full(keep.sum(), q), z, inc))
        cell_psu, cell_dom, cell_z, cell_inc = (np.concatenate(c) for c in zip(*cells))
        n = (used * self.n).sum(1)
        srs = (a ** 2 * self.srs_var).sum(1)
        labels = pd.DataFrame(index=range(Q)) if labels is None else labels.reset_index(drop=True)
        return Linearized(self.design, self.names, labels, est, var, None, n, df, srs,
                          cell_psu, cell_dom, cell_z, cell_inc)

    def contrast(self, coefficients, level: float | None = None) -> pd.DataFrame:
        """A linear combination of domain estimates, for every quantity (``svycontrast``),
        with a t test of "combination = 0".

        ``coefficients``: a mapping from domain label (the ``by`` value, a tuple for
        several ``by`` columns) to coefficient, or an array with one coefficient per
        domain. Variance and degrees of freedom as in :meth:`aggregate`. Returns one
        row per quantity with :data:`CONTRAST_COLUMNS`.

        >>> lin = d.estimate({"api00": "api00"}, by="stype")       # doctest: +SKIP
        >>> lin.contrast({"E": 1, "H": -1})                        # doctest: +SKIP
        """
        agg = self.aggregate(self._domain_coefficients(coefficients)[None, :])
        return t_tests(self.names, agg.estimate[0], agg.se[0], agg.df[0],
                               _check_level(level or self.design.level))

    def difference(self, a, b, level: float | None = None) -> pd.DataFrame:
        """Domain ``a`` minus domain ``b`` within one design: ``contrast({a: 1, b: -1})``."""
        return self.contrast({a: 1.0, b: -1.0}, level)

    def _domain_coefficients(self, coefficients) -> np.ndarray:
        D = len(self.domains)
        if not isinstance(coefficients, Mapping):
            a = np.asarray(coefficients, dtype=float)
            if a.shape != (D,):
                raise SipasError(f"expected {D} coefficients, one per domain, got shape {a.shape}")
            return a
        keys = [tuple(r) if len(r) > 1 else r[0] for r in self.domains.itertuples(index=False)]
        index = {k: i for i, k in enumerate(keys)}
        a = np.zeros(D)
        for k, v in coefficients.items():
            if k not in index:
                raise SipasError("no such domain", value=k, hint=f"domains: {keys[:20]}")
            a[index[k]] = v
        return a


# ---------------------------------------------------------------------- functions


def difference(a: pd.DataFrame | pd.Series, b: pd.DataFrame | pd.Series,
               level: float = 0.95) -> pd.DataFrame:
    """Difference ``a - b`` of estimates from independent samples (e.g. two years).

    ``a`` and ``b`` are rows of estimator tables (Series) or tables of equal length,
    paired row by row; they need ``estimate``, ``se`` and ``df``. SE =
    sqrt(se_a^2 + se_b^2); degrees of freedom df_a + df_b (those of the two samples
    stacked as one design with disjoint strata, where R's ``svycontrast`` gives the
    same SE). Returns :data:`CONTRAST_COLUMNS` (t-based interval and two-sided p).

    >>> difference(t2023.set_index("unit_id"), t2022.set_index("unit_id"))   # doctest: +SKIP
    """
    frames = [x.to_frame().T if isinstance(x, pd.Series) else x for x in (a, b)]
    for name, f in zip("ab", frames):
        lack = [c for c in ("estimate", "se", "df") if c not in f.columns]
        if lack:
            raise SipasError(f"estimate table '{name}' lacks columns {lack}")
    if len(frames[0]) != len(frames[1]):
        raise SipasError(f"cannot pair {len(frames[0])} estimates with {len(frames[1])}")
    fa, fb = (f[["estimate", "se", "df"]].astype(float).to_numpy() for f in frames)
    est = fa[:, 0] - fb[:, 0]
    se = np.hypot(fa[:, 1], fb[:, 1])
    out = t_tests(["difference"] * len(est), est, se, fa[:, 2] + fb[:, 2], _check_level(level))
    out.index = frames[0].index
    return out.drop(columns="variable")


def interval(estimate, se, df, n, method: str, level: float):
    """Confidence limits and the method used per estimate (arrays broadcast together).

    ``"wald"``: estimate +/- t(df) se. ``"logit"``: expit(logit(p) +/- t(df) se/(p(1-p))).
    ``"beta"``: Korn-Graubard, R's ``svyciprop(method="beta")``: effective n
    p(1-p)/se^2 times (t(n-1)/t(df))^2, Clopper-Pearson limits at that n; with zero
    variance the effective n is n. Logit rows at p = 0 or 1 fall back to ``"beta"``.
    """
    if method not in CI_METHODS:
        raise SipasError("unknown interval method", value=method, hint=f"use one of {', '.join(CI_METHODS)}")
    p, se, df, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (estimate, se, df, n)))
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(1 - alpha / 2, np.where(df > 0, df, np.nan))
        if method == "wald":
            return p - t * se, p + t * se, np.full(p.shape, "wald", dtype=object)
        if np.any((p < 0) | (p > 1)):
            raise SipasError(f"a '{method}' interval needs estimates in [0, 1]",
                             value=float(p[(p < 0) | (p > 1)][0]), hint="use method='wald'")
        # Korn-Graubard
        n_eff = np.where(se > 0, p * (1 - p) / se ** 2, n)
        n_eff = n_eff * (stats.t.ppf(alpha / 2, n - 1) / stats.t.ppf(alpha / 2, np.where(df > 0, df, np.nan))) ** 2
        kg_low = np.where(p > 0, stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1), 0.0)
        kg_high = np.where(p < 1, stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)), 1.0)
        if method == "beta":
            return kg_low, kg_high, np.full(p.shape, "beta", dtype=object)
        inner = (p > 0) & (p < 1) & (se > 0)
        half = t * se / (p * (1 - p))
        logit = np.log(p / (1 - p))
        low = np.where(inner, _expit(logit - half), kg_low)
        high = np.where(inner, _expit(logit + half), kg_high)
    used = np.where(inner | np.isnan(p), "logit", "beta").astype(object)
    return low, high, used


# ---------------------------------------------------------------------- internals


def _linearize(design: SurveyDesign, y, x, included, coefs, names, dom, labels) -> Linearized:
    D, T = len(labels), coefs.shape[-1]
    rows_in = np.flatnonzero(dom >= 0)
    order = rows_in[np.lexsort((design._psu[rows_in], dom[rows_in]))]
    bounds = np.searchsorted(dom[order], np.arange(D + 1))
    est = np.full((D, T), np.nan)
    vcov = np.zeros((D, T, T))
    n = np.zeros((D, T))
    df = np.zeros((D, T))
    srs = np.full((D, T), np.nan)
    cells = []
    for d in range(D):
        rows = order[bounds[d]:bounds[d + 1]]
        coef = coefs[d] if coefs.ndim == 3 else coefs
        uses = coef != 0
        w = design._w[rows]
        yd, xd = y[rows].astype(float), x[rows].astype(float)
        inc = included[rows].astype(float) @ uses > 0  # rows in each estimate's base
        Y, X = w @ yd, w @ xd
        with np.errstate(divide="ignore", invalid="ignore"):
            R = Y / X
        ok = np.isfinite(R)
        R0 = np.where(ok, R, 0.0)
        A = np.where(ok[:, None], coef / np.where(ok, X, 1.0)[:, None], 0.0)
        est[d] = np.where((uses & ~ok[:, None]).any(0) | ~uses.any(0), np.nan, R0 @ coef)
        u = yd - R0 * xd                                   # y - R x, per row and ratio
        wu = u * w[:, None]
        psu = design._psu[rows]
        starts = np.flatnonzero(np.r_[True, psu[1:] != psu[:-1]])
        z = np.add.reduceat(wu, starts) @ A               # influence totals per PSU
        cell_psu = psu[starts]
        h = design._psu_stratum[cell_psu]
        hstarts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        s1 = np.add.reduceat(z, hstarts)                  # and per stratum
        hh = h[hstarts]
        vcov[d] = (z * design._scale[h][:, None]).T @ z - (s1 * design._centre[hh][:, None]).T @ s1
        # counts, degrees of freedom, SRS variance for the design effect
        n[d] = inc.sum(0)
        cell_inc = np.add.reduceat(inc.astype(np.int32), starts) > 0
        strata_inc = np.add.reduceat(cell_inc.astype(np.int32), hstarts) > 0
        df[d] = cell_inc.sum(0) - strata_inc.sum(0)
        N = w @ inc
        sum_wr2 = np.einsum("kt,kl,lt->t", A, wu.T @ u, A)
        with np.errstate(divide="ignore", invalid="ignore"):
            srs[d] = np.where((N > n[d]) & (n[d] > 1), sum_wr2 * (N - n[d]) / (n[d] - 1), np.nan)
        cells.append((cell_psu, np.full(len(cell_psu), d), z, cell_inc))
    cell_psu, cell_dom, cell_z, cell_inc = (np.concatenate(c) for c in zip(*cells))
    var = np.diagonal(vcov, axis1=1, axis2=2).copy()
    return Linearized(design, names, labels, est, var, vcov, n, df, srs, cell_psu, cell_dom, cell_z, cell_inc)


def _stratified_variance(design: SurveyDesign, psu_ids: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Variance of each column of PSU totals (PSUs absent from ``psu_ids`` are zeros)."""
    h = design._psu_stratum[psu_ids]  # sorted: PSU ids are ordered by stratum
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    s1 = np.add.reduceat(totals, starts)
    return design._scale[h] @ totals ** 2 - design._centre[h[starts]] @ s1 ** 2


def _psus_minus_strata(design: SurveyDesign, cell_psu: np.ndarray, included: np.ndarray) -> np.ndarray:
    """Per column of ``included`` (cells x T): PSUs - strata among the included cells."""
    order = np.argsort(cell_psu, kind="stable")
    psu = cell_psu[order]
    starts = np.flatnonzero(np.r_[True, psu[1:] != psu[:-1]])
    by_psu = np.logical_or.reduceat(included[order], starts, axis=0)
    h = design._psu_stratum[psu[starts]]
    by_stratum = np.logical_or.reduceat(by_psu, np.flatnonzero(np.r_[True, h[1:] != h[:-1]]), axis=0)
    return by_psu.sum(0) - by_stratum.sum(0)


def t_tests(names, est, se, df, level: float = 0.95) -> pd.DataFrame:
    """Table of :data:`CONTRAST_COLUMNS` (with ``variable`` = ``names``): t-based
    intervals and two-sided tests of "= 0" for estimates with SEs and degrees of freedom."""
    est, se, df = (np.asarray(v, dtype=float) for v in (est, se, df))
    low, high, used = interval(est, se, df, np.ones_like(est), "wald", level)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
        p = 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    return pd.DataFrame({"variable": names, "estimate": est, "se": se, "ci_low": low, "ci_high": high,
                         "ci_method": used, "df": np.asarray(df, dtype=np.int64), "t": t, "p_value": p})


def _rao_scott(p: np.ndarray, V: np.ndarray, N: int, nu: int) -> dict:
    """Second-order Rao-Scott F for an (r x c) table of cell proportions ``p`` whose
    column-major vectorisation has covariance ``V`` (R's ``svychisq``, statistic "F")."""
    nr, nc = p.shape
    nan = {"chisq": np.nan, "F": np.nan, "ndf": np.nan, "ddf": np.nan, "p_value": np.nan}
    if nr < 2 or nc < 2:
        return nan
    pr, pc = p.sum(1), p.sum(0)
    expected = np.outer(pr, pc)
    chisq = N * ((p - expected) ** 2 / expected).sum()
    # design matrices of the saturated log-linear model, cells in column-major order
    ri, ci = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    ri, ci = ri.ravel(order="F"), ci.ravel(order="F")
    rows = (ri[:, None] == np.arange(1, nr)).astype(float)
    cols = (ci[:, None] == np.arange(1, nc)).astype(float)
    X1 = np.column_stack([np.ones(nr * nc), rows, cols])
    inter = (rows[:, :, None] * cols[:, None, :]).reshape(nr * nc, -1)
    C = inter - X1 @ np.linalg.lstsq(X1, inter, rcond=None)[0]
    pv = p.ravel(order="F")
    inv = np.where(pv > 0, 1 / np.where(pv > 0, pv, 1), 0.0)
    denom = C.T @ (C * (inv / N)[:, None])
    numer = (C * inv[:, None]).T @ V @ (C * inv[:, None])
    delta = np.linalg.solve(denom, numer)
    tr, tr2 = np.trace(delta), np.trace(delta @ delta)
    if not tr > 0:
        return {**nan, "chisq": chisq}
    d0 = tr ** 2 / tr2
    F = chisq / tr
    return {"chisq": chisq, "F": F, "ndf": d0, "ddf": d0 * nu,
            "p_value": float(stats.f.sf(F, d0, d0 * nu)) if nu > 0 else np.nan}


def _coefficients(components: list, combinations: Mapping | None) -> tuple[np.ndarray, list]:
    """(K x T) coefficients: every component itself, then each combination."""
    K = len(components)
    index = {c: k for k, c in enumerate(components)}
    cols, names = [np.eye(K)], list(components)
    for name, coefs in (combinations or {}).items():
        v = np.zeros((K, 1))
        for c, a in coefs.items():
            if c not in index:
                raise SipasError(f"combination '{name}' uses unknown component", value=c,
                                 hint=f"components: {list(index)[:20]}")
            v[index[c], 0] = a
        cols.append(v)
        names.append(name)
    return np.hstack(cols), names


def _count_pairs(dom: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Number of distinct ``codes`` in each domain."""
    keep = dom >= 0
    pairs = np.unique(np.stack([dom[keep], codes[keep]]), axis=1)
    return np.bincount(pairs[0], minlength=dom.max() + 1)


def _codes(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise SipasError("no such column in the survey data", column=column)
    codes, _ = pd.factorize(data[column], sort=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise SipasError(f"{(codes < 0).sum()} rows have no value", column=column, row=i + 1,
                         hint="every respondent needs a stratum and a PSU")
    return codes.astype(np.int64)


def _labels(data: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(pd.factorize(data[column], sort=True)[1], dtype=object)


def _numeric(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise SipasError("no such column in the survey data", column=column)
    return _as_float(data[column].to_numpy(), column)


def _as_float(values, name: str) -> np.ndarray:
    """Float array with NaN for missing values; booleans become 0/1."""
    s = pd.Series(values)
    if s.dtype == object:
        converted = pd.to_numeric(s.where(s.notna()), errors="coerce")
        bad = converted.isna() & s.notna()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SipasError("expected numbers", column=name, row=i + 1, value=s.iloc[i])
        s = converted
    elif not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise SipasError(f"expected numbers, the column holds {s.dtype}", column=name)
    return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise SipasError("confidence level must be between 0 and 1", value=level)
    return float(level)


def _expit(v):
    return 1 / (1 + np.exp(-v))
