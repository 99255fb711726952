"""Replicate-weight variance: R's ``as.svrepdesign`` (JK1, JKn, bootstrap) and
``svrVar``, and the export of replicate weights with the microdata.

A replicate design multiplies each first-stage PSU's weight by a factor per replicate
(``factors``, PSUs x R). Every estimator is recomputed with each replicate's weights
and its variance is ``scale * sum_r rscales_r (theta_r - mean theta)^2`` (R's default
``survey.replicates.mse=FALSE``: centred at the replicates' mean).

* ``"JK1"`` (unstratified designs): replicate j drops PSU j and multiplies the others
  by n/(n - 1); scale = (1 - f)(n - 1)/n, f = n/N from the fpc.
* ``"JKn"`` (stratified): replicate j drops PSU j and multiplies the other PSUs of its
  stratum by n_h/(n_h - 1); rscales = (1 - f_h)(n_h - 1)/n_h. Lonely PSUs as
  ``lonely_psu`` (R's ``jknweights``: "remove"/"certainty" give no replicate,
  "adjust" one that drops the stratum and rescales the others by H/(H - 1)).
* ``"bootstrap"``: Rao-Wu rescaling bootstrap (n_h - 1 PSUs drawn with replacement per
  stratum, the fpc folded in as in :func:`sipas.estimation.ranks.bootstrap_factors`);
  scale = 1/(R - 1), as R's ``svrepdesign(type="bootstrap")``. Random, so seeded; it
  does not reproduce R's draws.

Only the first stage enters the replicates (as in R). Degrees of freedom are R's
``degf`` of the (subset) replicate design: the rank of the replicate weights of the
rows used, minus one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas.base.errors import SipasError

TYPES = ("JK1", "JKn", "bootstrap")


@dataclass
class Replicates:
    """Replicate factors per PSU (P x R), the overall scale and per-replicate rscales."""

    type: str
    factors: np.ndarray
    scale: float
    rscales: np.ndarray

    def vcov(self, thetas: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(T x T) replicate covariance of (R x T) replicate estimates of the ``valid``
        quantities (others NaN); replicates with a missing estimate of a valid quantity
        are left out (R's ``na.action``)."""
        T = thetas.shape[1]
        out = np.full((T, T), np.nan)
        ok = ~np.isnan(thetas[:, valid]).any(1)
        th, rs = thetas[ok][:, valid], self.rscales[ok]
        if len(th) and valid.any():
            centred = th - th[rs > 0].mean(0)
            out[np.ix_(valid, valid)] = self.scale * (centred * rs[:, None]).T @ centred
        return out

    def degf(self, psus: np.ndarray) -> int:
        """R's ``degf`` of a replicate design restricted to the rows of these PSUs: the
        rank of their replicate weights, minus one."""
        cache = self.__dict__.setdefault("_degf", {})
        key = np.unique(psus).tobytes()
        if key not in cache:
            F = self.factors[np.unique(psus)]
            cache[key] = int(np.linalg.matrix_rank(F)) - 1 if len(F) else 0
        return cache[key]

    def var(self, thetas: np.ndarray) -> np.ndarray:
        """Per column of (R x T) replicate estimates (missing replicates left out)."""
        out = np.full(thetas.shape[1], np.nan)
        for t in range(thetas.shape[1]):
            ok = ~np.isnan(thetas[:, t])
            if ok.any():
                th, rs = thetas[ok, t], self.rscales[ok]
                out[t] = self.scale * (rs * (th - th[rs > 0].mean()) ** 2).sum()
        return out


def replicate_factors(design, type_: str, replicates: int | None, seed: int) -> Replicates:
    """The factors of a replicate design built from ``design`` (module doc)."""
    if type_ not in TYPES:
        raise SipasError("unknown replicate type", value=type_, hint=f"use one of {', '.join(TYPES)}")
    n_h = design._n_h
    P = design.n_psu
    # 1 - f_h per first-stage stratum, from the variance scale f n/(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(n_h > 1, design._scale * (n_h - 1) / n_h, 1.0)
    starts = np.r_[0, np.cumsum(n_h)]
    if type_ == "JK1":
        if design.n_strata > 1:
            raise SipasError("JK1 replicates are for unstratified designs",
                             hint="use 'JKn' for a stratified design")
        n = P
        F = np.full((P, P), n / (n - 1))
        np.fill_diagonal(F, 0.0)
        return Replicates("JK1", F, float(keep[0]) * (n - 1) / n, np.ones(P))
    if type_ == "JKn":
        cols, rscales = [], []
        H = design.n_strata
        for h, n in enumerate(n_h):
            if n == 1:
                if design.lonely_psu == "adjust":
                    f = np.where(design._psu_stratum == h, 0.0, H / (H - 1))
                    cols.append(f[:, None])
                    rscales.append((H - 1) / H)
                continue   # remove / certainty: no replicate ("fail" was refused before)
            f = np.ones((P, n))
            block = np.full((n, n), n / (n - 1))
            np.fill_diagonal(block, 0.0)
            f[starts[h]:starts[h + 1]] = block
            cols.append(f)
            rscales += [keep[h] * (n - 1) / n] * n
        if not cols:
            raise SipasError("no stratum has two PSUs: no jackknife replicate can be formed")
        return Replicates("JKn", np.hstack(cols), 1.0, np.asarray(rscales))
    from sipas.estimation.ranks import bootstrap_factors  # later module of the same stage
    B = 50 if replicates is None else int(replicates)
    if B < 2:
        raise SipasError("the bootstrap needs at least two replicates", value=B)
    return Replicates("bootstrap", bootstrap_factors(design, B, seed), 1.0 / (B - 1), np.ones(B))


class Replicated:
    """Replicate-weight methods mixed into the design."""

    _rep: Replicates | None = None

    def replicate(self, type: str = "JKn", replicates: int | None = None, seed: int = 20250101):
        """A design estimating variances with replicate weights (R's ``as.svrepdesign``).

        ``type``: ``"JK1"``, ``"JKn"`` or ``"bootstrap"`` (``replicates`` draws, default
        50, from ``seed``). The result has the same estimators; its variances come
        from the replicates.

        >>> r = SurveyDesign(apiclus1, psu="dnum", weights="pw", fpc="fpc").replicate("JK1")  # doctest: +SKIP
        >>> r.mean("api00")                                                                   # doctest: +SKIP
        """
        if getattr(self, "_cal", None) is not None:
            raise SipasError("replicate weights of a calibrated design are not supported",
                             hint="form the replicates before calibrating is not supported either; "
                                  "use the linearised variance of the calibrated design")
        import copy
        out = copy.copy(self)
        out._rep = replicate_factors(self, type, replicates, seed)
        return out

    @property
    def replicates(self) -> Replicates | None:
        """The replicate factors, scale and rscales (None for a linearised design)."""
        return self._rep

    def replicate_weights(self, prefix: str = "repw_") -> pd.DataFrame:
        """The replicate weights of every row (rows x R): the sampling weight times the
        replicate's factor for the row's PSU, named ``repw_001`` ... To publish with the
        microdata; in R: ``svrepdesign(data, repweights="repw_[0-9]+", weights=~weight,
        type=..., scale=, rscales=, combined.weights=TRUE, mse=FALSE)`` with the scale
        and rscales of :attr:`replicates`.
        """
        if self._rep is None:
            raise SipasError("this design has no replicate weights", hint="call .replicate() first")
        R = self._rep.factors.shape[1]
        width = len(str(R))
        W = self._w[:, None] * self._rep.factors[self._psu]
        return pd.DataFrame(W, columns=[f"{prefix}{i + 1:0{width}d}" for i in range(R)],
                            index=self.data.index)


def replicate_estimates(rep: Replicates, design, rows, w, yd, xd, coef, is_total) -> np.ndarray:
    """(R x T) estimates of one domain under each replicate's weights."""
    psu = design._psu[rows]   # sorted: rows are sorted by finest unit, nested in PSUs
    starts = np.flatnonzero(np.r_[True, psu[1:] != psu[:-1]])
    F = rep.factors[psu[starts]]                                # P_d x R
    Y = F.T @ np.add.reduceat(yd * w[:, None], starts)           # R x K
    X = F.T @ np.add.reduceat(xd * w[:, None], starts)
    X = np.where(is_total, 1.0, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = Y / X
    uses = coef != 0
    est = np.where(np.isfinite(ratio), ratio, 0.0) @ coef
    bad = (~np.isfinite(ratio)).astype(float) @ uses > 0
    return np.where(bad, np.nan, est)
