"""Calibrated weights: R's ``postStratify``, ``rake`` and ``calibrate`` (survey 4.1).

Each method returns a new design with the calibrated weights whose estimators'
variances use the calibration residuals, as R's ``svyrecvar`` does: the influence
values ``z`` are replaced by ``z - L beta(z)`` before the stage variances, where, per
calibration step, ``beta`` solves a small least-squares problem on statistics
``Phi' z``:

* post-stratification to classes g: ``Phi = 1_g w_old/w_new``, ``L = 1_g w_new``,
  ``beta_g = (Phi' z)_g / sum_g w_old`` (R's ``psmeans``);
* raking: the post-stratification of every margin in turn, ten sweeps, with the
  weights after that margin's last adjustment and unweighted class means (R's
  ``raking`` block);
* calibration (GREG, raking, logit, bounded linear): ``Phi = X/g``, ``L = g w X``,
  ``beta = (X' W X)^+ Phi' z`` (R's ``qr.resid``).

Because ``L`` has few columns, the residuals are never formed row by row: variances are
``Q(z) - 2 C(z, L) beta + beta' Q(L) beta`` with ``Q`` and ``C`` the (cross-)products
of the recursive stage variance; ``Q(L)`` is computed once per design.

The algorithms (IPF stopping rule of ``rake``, Newton iterations of ``grake`` with
``MASS::ginv``, the rescaling of weights when every ratio exceeds 20) follow R's code,
so the calibrated weights agree with R's to rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError
from sipas.estimation.survey.variance import recursive_variance

CALFUNS = ("linear", "raking", "logit")


@dataclass
class Calibration:
    """The calibration steps of a design: bases (Phi, S, L) and their order of use."""

    phi: list = field(default_factory=list)     # n x G_a
    solve: list = field(default_factory=list)   # G_a x G_a
    basis: list = field(default_factory=list)   # n x G_a (the L of each step type)
    sequence: list = field(default_factory=list)  # step type ids, in R's order

    def extended(self, phi, solve, basis, repeats: Sequence[int] | None = None) -> Calibration:
        out = Calibration(self.phi + list(phi), self.solve + list(solve), self.basis + list(basis),
                          list(self.sequence))
        ids = list(range(len(self.phi), len(out.phi)))
        out.sequence += [ids[i] for i in repeats] if repeats is not None else ids
        return out

    def prepare(self, design) -> None:
        """Stack the bases and precompute cross-products and the stage totals of L."""
        sizes = [p.shape[1] for p in self.phi]
        self.slices = [slice(a, b) for a, b in zip(np.cumsum([0] + sizes[:-1]), np.cumsum(sizes))]
        self.Phi = np.hstack(self.phi)
        self.L = np.hstack(self.basis)
        self.K = self.Phi.T @ self.L
        units = np.zeros((int(design._unit.max()) + 1, self.L.shape[1]))
        np.add.at(units, design._unit, self.L)
        self.L_units = units
        self.QLL = recursive_variance(design._stages, np.arange(len(units)), units, cross=True)

    def beta(self, stats: np.ndarray) -> np.ndarray:
        """(G x T) coefficients from ``Phi' z`` (G x T), applying the steps in order."""
        beta = np.zeros_like(stats)
        for a in self.sequence:
            sl = self.slices[a]
            beta[sl] += self.solve[a] @ (stats[sl] - self.K[sl] @ beta)
        return beta


def correction(design, units: np.ndarray, z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The (T x T) change of the covariance when ``z`` (totals at sorted finest
    ``units``) is replaced by its calibration residual ``z - L beta``."""
    return correction_from(design, cross_products(design, units, z), beta)


def correction_from(design, C: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """:func:`correction` from ``C = cross_products(z)`` (T x G), which adds up over
    blocks of whole first-stage PSUs."""
    cal = design._cal
    Cb = C @ beta
    return beta.T @ cal.QLL @ beta - Cb - Cb.T


def cross_products(design, units: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Bilinear stage variance C(z, L) between totals ``z`` at ``units`` and the
    calibration basis L (all units)."""
    cal = design._cal
    out = np.zeros((z.shape[1], cal.L.shape[1]))
    Lz = cal.L_units
    for stage in design._stages:
        u = stage.unit[units]
        starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        zs = np.add.reduceat(z, starts) if len(starts) != len(u) else z
        u = u[starts]
        # L aggregated to this stage's units, and to its strata
        Ls, Lh = _stage_totals(cal, stage, Lz)
        h = stage.stratum[u]
        hstarts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        s1 = np.add.reduceat(zs, hstarts)
        hh = h[hstarts]
        out += (zs * stage.scale[h][:, None]).T @ Ls[u] - (s1 * stage.centre[hh][:, None]).T @ Lh[hh]
    return out


def _stage_totals(cal: Calibration, stage, L_units: np.ndarray):
    key = id(stage)
    cache = cal.__dict__.setdefault("_stage_cache", {})
    if key not in cache:
        Ls = np.zeros((int(stage.unit.max()) + 1, L_units.shape[1]))
        np.add.at(Ls, stage.unit, L_units)
        Lh = np.zeros((len(stage.n), L_units.shape[1]))
        np.add.at(Lh, stage.stratum, Ls)
        cache[key] = (Ls, Lh)
    return cache[key]


# ---------------------------------------------------------------------- the methods


class Calibrated:
    """Calibration methods mixed into the design."""

    _cal: Calibration | None = None

    def _calibrated(self, weights: np.ndarray, cal: Calibration):
        if getattr(self, "_rep", None) is not None:
            raise SipasError("calibrating a replicate design is not supported",
                             hint="calibrate the linearised design (its variance uses the residuals)")
        out = copy.copy(self)
        out._w = weights
        cal.prepare(out)
        out._cal = cal
        return out

    def _classes(self, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, sorted levels) of a calibration variable; no missing values."""
        _, values = self._column(variable)
        s = pd.Series(values)
        if s.isna().any():
            i = int(np.flatnonzero(s.isna())[0])
            raise SipasError("a calibration variable has missing values", column=variable, row=i + 1,
                             hint="every respondent needs a class to calibrate")
        codes, levels = pd.factorize(s, sort=True)
        return codes, np.asarray(levels, dtype=object)

    def _post_factor(self, variable: str, population: Mapping, weights: np.ndarray):
        codes, levels = self._classes(variable)
        pop = _population(variable, levels, population)
        sample = np.bincount(codes, weights=weights, minlength=len(levels))
        return codes, levels, (pop / sample)[codes]

    def poststratify(self, variable: str, population: Mapping):
        """Post-stratify the weights to known class counts (R's ``postStratify``).

        ``population`` maps every level of ``variable`` to its population count.

        >>> d.poststratify("stype", {"E": 4421, "H": 755, "M": 1018})   # doctest: +SKIP
        """
        old = self._w
        codes, levels, factor = self._post_factor(variable, population, old)
        new = old * factor
        onehot = _onehot(codes, len(levels))
        cal = (self._cal or Calibration()).extended(
            [onehot * (old / new)[:, None]], [np.diag(1 / np.bincount(codes, weights=old))],
            [onehot * new[:, None]])
        return self._calibrated(new, cal)

    def rake(self, margins: Mapping[str, Mapping], maxit: int = 10, epsilon: float = 1.0):
        """Rake the weights to several margins by iterative proportional fitting (R's
        ``rake``): ``margins`` maps a variable to ``{level: population count}``. Stops
        when no cell of the cross-table of all margin variables moves by ``epsilon``
        (an absolute count; below 1, a fraction of the total weight) or after ``maxit``
        sweeps, as R does.

        >>> d.rake({"stype": {"E": 4421, "H": 755, "M": 1018}, "sch.wide": {"No": 1072, "Yes": 5122}})  # doctest: +SKIP
        """
        names = list(margins)
        if not names:
            raise SipasError("rake needs at least one margin")
        w = self._w.copy()
        eps = epsilon * w.sum() if epsilon < 1 else epsilon
        codes = [self._classes(v)[0] for v in names]
        cross = np.unique(np.stack(codes), axis=1, return_inverse=True)[1].ravel()
        table = np.bincount(cross, weights=w)
        after = []
        for _ in range(maxit):
            after = []
            for v in names:
                c, _, factor = self._post_factor(v, margins[v], w)
                w = w * factor
                after.append(w.copy())
            new = np.bincount(cross, weights=w, minlength=len(table))
            delta = np.abs(new - table).max()
            table = new
            if delta < eps:
                break
        phi, solve, basis = [], [], []
        for c, psw in zip(codes, after):
            onehot = _onehot(c, int(c.max()) + 1)
            phi.append(onehot / psw[:, None])
            solve.append(np.diag(1 / np.bincount(c).astype(float)))
            basis.append(onehot * psw[:, None])
        repeats = [i for _ in range(10) for i in range(len(names))]
        cal = (self._cal or Calibration()).extended(phi, solve, basis, repeats)
        return self._calibrated(w, cal)

    def calibrate(self, variables: Sequence[str], totals: Mapping[str, float], calfun: str = "linear",
                  bounds: tuple[float, float] = (-np.inf, np.inf), maxit: int = 50,
                  epsilon: float = 1e-7):
        """Calibrate the weights to population totals of a model matrix (R's
        ``calibrate``): ``variables`` are columns (categorical ones become treatment
        dummies named as R's ``model.matrix``, e.g. ``stypeH``), with an intercept
        ``(Intercept)``; ``totals`` maps every model-matrix column to its population
        total. ``calfun``: ``"linear"`` (GREG; with finite ``bounds`` bounded linear),
        ``"raking"`` or ``"logit"`` (needs finite bounds); ``bounds`` on g = new/old.

        >>> d.calibrate(["stype", "api99"], {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018,
        ...             "api99": 3914069}, calfun="raking", bounds=(0.5, 2))   # doctest: +SKIP
        """
        if calfun not in CALFUNS:
            raise SipasError("unknown calibration function", value=calfun, hint=f"use one of {', '.join(CALFUNS)}")
        X, cols = self._model_matrix(variables)
        lack = [c for c in cols if c not in totals]
        extra = [c for c in totals if c not in cols]
        if lack or extra:
            raise SipasError("calibration totals do not match the model matrix", value=lack or extra,
                             hint=f"give one total for each of {cols}")
        pop = np.array([float(totals[c]) for c in cols])
        ww = self._w
        lo, hi = bounds
        if calfun == "linear" and np.isinf(lo) and np.isinf(hi):
            T = X.T @ (X * ww[:, None])
            g = 1 + X @ np.linalg.solve(T, pop - ww @ X)
        else:
            if calfun == "logit" and not (np.isfinite(lo) and np.isfinite(hi)):
                raise SipasError("logit calibration needs finite bounds", value=bounds)
            g = _grake(X, ww, calfun, lo, hi, pop, epsilon, maxit)
        phi = X / g[:, None]
        solve = np.linalg.pinv(X.T @ (X * ww[:, None]))
        cal = (self._cal or Calibration()).extended([phi], [solve], [X * (g * ww)[:, None]])
        return self._calibrated(ww * g, cal)

    def _model_matrix(self, variables: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        cols, names = [np.ones(self.n)], ["(Intercept)"]
        for v in [variables] if isinstance(variables, str) else variables:
            _, values = self._column(v)
            s = pd.Series(values)
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                if s.isna().any():
                    raise SipasError("a calibration variable has missing values", column=v,
                                     row=int(np.flatnonzero(s.isna())[0]) + 1)
                cols.append(s.to_numpy(dtype=float))
                names.append(v)
                continue
            codes, levels = self._classes(v)
            for k, level in enumerate(levels[1:], start=1):
                cols.append((codes == k).astype(float))
                names.append(f"{v}{level}")
        return np.column_stack(cols), names


def _grake(X, ww, calfun, lo, hi, population, epsilon, maxit) -> np.ndarray:
    """R's ``grake``: Newton iterations on the calibration equations."""
    if calfun == "linear":
        def Fm1(u):
            return np.minimum(np.maximum(u + 1, lo), hi) - 1

        def dF(u):
            return ((u < hi - 1) & (u > lo - 1)).astype(float)
    elif calfun == "raking":
        def Fm1(u):
            return np.minimum(np.maximum(np.exp(u), lo), hi) - 1

        def dF(u):
            return np.where((u < hi - 1) & (u > lo - 1), np.exp(u), 0.0)
    else:
        A = (hi - lo) / ((hi - 1) * (1 - lo))

        def Fm1(u):
            e = np.exp(A * u)
            return (lo * (hi - 1) + hi * (1 - lo) * e) / (hi - 1 + (1 - lo) * e) - 1

        def dF(u):
            e = np.exp(A * u)
            return (hi * (1 - lo) * e * A / (hi - 1 + (1 - lo) * e)
                    - (lo * (hi - 1) + hi * (1 - lo) * e) * ((1 - lo) * e * A) / (hi - 1 + (1 - lo) * e) ** 2)
    sample = ww @ X
    eta = np.zeros(X.shape[1])
    xeta = X @ eta
    deriv = dF(xeta)
    scales = population / sample
    scale = None
    if scales.min() > 20:
        scale = scales.mean()
        ww = ww * scale
        sample = sample * scale
    it = 1
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            T = (X * (ww * deriv)[:, None]).T @ X
            misfit = population - sample - (X * (ww * Fm1(xeta))[:, None]).sum(0)
            deta = np.linalg.pinv(T, rcond=256 * np.finfo(float).eps) @ misfit
            eta = eta + deta
            xeta = X @ eta
            g = 1 + Fm1(xeta)
            deriv = dF(xeta)
            while it < maxit and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
                it += 1
                deta = deta / 2
                eta = eta - deta
                xeta = X @ eta
                g = 1 + Fm1(xeta)
                deriv = dF(xeta)
            misfit = population - sample - (X * (ww * Fm1(xeta))[:, None]).sum(0)
            if (np.abs(misfit) / (1 + np.abs(population)) < epsilon).all():
                break
            it += 1
            if it > maxit:
                achieved = (np.abs(misfit) / (1 + np.abs(population))).max()
                raise SipasError(f"calibration did not converge in {maxit} iterations "
                                 f"(relative misfit {achieved:.3g})",
                                 hint="widen the bounds, or check that the totals are attainable")
    return g * scale if scale is not None else g


def _population(variable: str, levels: np.ndarray, population: Mapping) -> np.ndarray:
    keys = {str(k): v for k, v in population.items()}
    missing = [lv for lv in levels if str(lv) not in keys]
    if missing:
        raise SipasError("a level in the sample has no population count", column=variable,
                         value=missing[0], hint=f"give counts for {[str(x) for x in levels]}")
    extra = [k for k in keys if k not in {str(lv) for lv in levels}]
    if extra and any(keys[k] for k in extra):
        raise SipasError("a level with a population count is absent from the sample", column=variable,
                         value=extra[0], hint="merge it with a neighbouring class")
    pop = np.array([float(keys[str(lv)]) for lv in levels])
    if (pop <= 0).any() or not np.isfinite(pop).all():
        raise SipasError("population counts must be positive", column=variable)
    return pop


def _onehot(codes: np.ndarray, G: int) -> np.ndarray:
    out = np.zeros((len(codes), G))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def nonresponse_adjustment(data: pd.DataFrame, weights: str, responded: str, classes: str | Sequence[str]) -> pd.Series:
    """Weighting-class non-response adjustment: each respondent's weight times the
    class's total weight of sampled units over its total weight of respondents
    (Kalton & Flores-Cervantes 2003, section 2.2); non-respondents get 0.

    ``responded``: a boolean column; ``classes``: the column(s) forming the weighting
    classes. A class without respondents cannot be adjusted: merge it with another.
    Build the design on the respondents with the returned weights; the adjustment
    factors are then treated as fixed (as R's ``postStratify`` of the respondents to
    the sample's class totals does), which slightly understates the variance when
    response rates vary a lot between classes.

    >>> df["w_adj"] = nonresponse_adjustment(df, "weight", "responded", ["commune"])  # doctest: +SKIP
    """
    cols = [classes] if isinstance(classes, str) else list(classes)
    for c in [weights, responded, *cols]:
        if c not in data.columns:
            raise SipasError("no such column in the survey data", column=c)
    resp = data[responded]
    if resp.isna().any() or not set(resp.unique()) <= {True, False}:
        bad = resp[resp.isna() | ~resp.isin([True, False, 0, 1])]
        raise SipasError("the response indicator must be true/false", column=responded,
                         row=int(data.index.get_loc(bad.index[0])) + 1, value=bad.iloc[0])
    w = data[weights].astype(float)
    resp = resp.astype(bool)
    key = data[cols].astype(str).agg("|".join, axis=1) if len(cols) > 1 else data[cols[0]]
    total = w.groupby(key).transform("sum")
    answered = w.where(resp, 0.0).groupby(key).transform("sum")
    empty = answered == 0
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise SipasError("a weighting class has no respondents", column=", ".join(cols), row=i + 1,
                         value=key.iloc[i], hint="merge it with a neighbouring class")
    return (w * total / answered).where(resp, 0.0).rename(f"{weights}_nr")
