"""The estimators of a design (R's ``svymean``, ``svytotal``, ``svyratio``,
``svyciprop``, ``svycontrast``, ``svychisq``), as methods mixed into
:class:`~sipas.estimation.survey.design.SurveyDesign` and its calibrated and replicate
variants. Every estimator returns a tidy frame: the ``by`` columns, ``variable``, then
:data:`~sipas.estimation.survey.linearized.COLUMNS`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.estimation.survey._data import _as_float
from sipas.estimation.survey.linearized import Linearized, _coefficients, _linearize
from sipas.estimation.survey.tests import chisq as _chisq
from sipas.estimation.survey.variance import recursive_variance


class Estimators:
    """Estimator methods; the design supplies ``n``, ``_w``, ``_unit``, ``_stages``,
    ``_column`` and ``domains``."""

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

    def total(self, variables: str | Sequence[str], by: str | Sequence[str] | None = None,
              level: float | None = None) -> pd.DataFrame:
        """Design-based total ``sum w y`` of one or more numeric columns (R's ``svytotal``,
        missing values counted as outside the base, as ``na.rm=TRUE``). With ``by``, the
        total within each domain. Wald interval; ``deff`` as R's ``svytotal(deff=TRUE)``.

        >>> d.total("enroll", by="stype")   # doctest: +SKIP
        """
        names = [variables] if isinstance(variables, str) else list(variables)
        return self.estimate({v: v for v in names}, by=by, totals=names).table("wald", level)

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
                 by: str | Sequence[str] | None = None, totals: Sequence[str] = ()) -> Linearized:
        """Linearise a set of estimates; the building block of the other estimators.

        ``components`` maps a name to: a column name or array of values (their mean over
        non-missing rows), or a pair ``(numerator, denominator)`` of column names or
        arrays (a ratio over rows where both are present). ``combinations`` adds linear
        combinations of components. Components named in ``totals`` (column specs) are
        totals ``sum w y`` instead of means. Returns a :class:`Linearized` holding estimates,
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
        is_total = np.array([k in set(totals) for k in names], dtype=bool)
        if is_total.any():
            x[:, is_total] = 0.0
        return self.linearize(y, x, included, coef, targets, by, totals=is_total)

    def linearize(self, y: np.ndarray, x: np.ndarray, included: np.ndarray, coef: np.ndarray,
                  names: Sequence[str], by: str | Sequence[str] | None = None,
                  totals: np.ndarray | None = None) -> Linearized:
        """Array interface of :meth:`estimate`, for large data (used by ``sipas.estimation.indices``).

        ``y``, ``x``, ``included``: (rows x K) arrays (any numeric or boolean dtype) of
        the K base ratios ``sum w y_k / sum w x_k`` over rows with ``included``; ``y`` and
        ``x`` must be 0 where not included. ``coef``: (K x T) coefficients of the T
        reported estimates (the identity reports the ratios themselves), or (D x K x T)
        with coefficients per domain (in the order of :meth:`domains`). An estimate with
        no nonzero coefficient, or using a ratio with no data in the domain, is NaN.
        ``names``: the T estimate names. Work is done one domain at a time, so memory
        stays near the size of the inputs. ``totals``: (K,) booleans, the base
        quantities that are totals ``sum w y_k`` (their ``x`` is ignored).
        """
        y, x, included = (np.asarray(a) for a in (y, x, included))
        coef = np.asarray(coef, dtype=float)
        if not (y.shape == x.shape == included.shape and y.ndim == 2 and y.shape[0] == self.n):
            raise SipasError(f"y, x and included must all be ({self.n} x K) arrays")
        dom, labels = self.domains(by)
        if coef.shape not in ((y.shape[1], len(names)), (len(labels), y.shape[1], len(names))):
            raise SipasError(f"coef must be ({y.shape[1]} x {len(names)}) or "
                             f"({len(labels)} x {y.shape[1]} x {len(names)}), got {coef.shape}")
        return _linearize(self, y, x, included, coef, list(names), dom, labels, totals)

    def chisq(self, row: str, col: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Rao-Scott adjusted Pearson chi-square test of independence (R's ``svychisq``);
        see :func:`sipas.estimation.survey.tests.chisq`.

        >>> d.chisq("sch.wide", "stype")   # doctest: +SKIP
        """
        return _chisq(self, row, col, by)

    def total_vcov(self, z: np.ndarray) -> np.ndarray:
        """Design covariance (p x p) of the estimated totals ``sum_i z_i`` of per-row
        influence values ``z`` (rows x p, already multiplied by the weights; zeros for
        rows outside an estimate's base): R's ``svyrecvar`` with this design's stages,
        fpc and lonely-PSU option. Used by :mod:`sipas.estimation.drivers` for regression
        coefficients (``z`` = weighted score times the inverse information)."""
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        if z.shape[0] != self.n:
            raise SipasError(f"influence values have {z.shape[0]} rows, the design {self.n}")
        z = self._residuals(z)
        totals = np.zeros((int(self._unit.max()) + 1, z.shape[1]))
        np.add.at(totals, self._unit, z)
        return recursive_variance(self._stages, np.arange(len(totals)), totals, cross=True)

    def _residuals(self, z: np.ndarray) -> np.ndarray:
        """Influence values after calibration (identity for an uncalibrated design)."""
        cal = getattr(self, "_cal", None)
        return z if cal is None else z - cal.L @ cal.beta(cal.Phi.T @ z)

