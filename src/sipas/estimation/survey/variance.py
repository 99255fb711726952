"""The sampling stages of a design and their variance: R's ``svyrecvar``.

A design of S stages is flattened into a list of :class:`Stage` objects. Rows are
grouped into *finest units* (the units of the last stage that contributes variance),
numbered so that sorting by finest unit also sorts every coarser stage's units and
strata; each stage maps a finest unit to its unit at that stage and each unit to its
stratum. A stage-s "stratum" is a stage-s stratum label within one stage-(s-1) unit
(R's ``interaction(strata[, i], ids[, i - 1])``).

The recursive multistage variance of R's ``multistage`` (survey 4.1) is, for totals
``z`` of influence values,

    V = sum_s sum_h m_h [ f_h n_h/(n_h - 1) sum_j z_hj^2 - f_h/(n_h - 1) (sum_j z_hj)^2 ]

over stages s and stage-s strata h, with ``f_h = (N_h - n_h)/N_h`` the stage's
finite-population factor, and ``m_h`` the product of the sampling fractions ``n/N`` of
the strata above h (1 at the first stage). R adds a stage only when an fpc is given
(``svydesign(fpc=)``) and ``survey.ultimate.cluster`` is off; so does this module. A
stratum with one unit (lonely) contributes ``m f z^2`` under ``"adjust"`` (R does not
centre it) and nothing under ``"remove"`` or ``"certainty"``; the stages below it still
contribute, as in R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sipas.base.errors import SipasError


@dataclass
class Stage:
    """One sampling stage: ``unit`` maps each finest unit to this stage's unit id,
    ``stratum`` each unit to its stratum; ``n`` = sampled units per stratum;
    ``scale`` and ``centre`` the per-stratum weights of ``sum z^2`` and ``(sum z)^2``."""

    unit: np.ndarray
    stratum: np.ndarray
    n: np.ndarray
    scale: np.ndarray
    centre: np.ndarray


def nest(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Ids 0..k-1 of the (parent, child) pairs, sorted by parent then child."""
    key = parent.astype(np.int64) * (int(child.max()) + 1) + child
    return np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()


def first(ids: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """``values`` at the first row of each id (values constant within an id)."""
    out = np.empty(size, dtype=values.dtype)
    out[ids[::-1]] = values[::-1]
    return out


def stage_factors(n_h: np.ndarray, pop: np.ndarray | None, lonely_psu: str, stage: int,
                  names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, centre, sampling fraction n/N) per stratum of one stage."""
    if pop is None:
        f = np.ones(len(n_h))
        frac = np.zeros(len(n_h))
    else:
        inf = np.isinf(pop)
        safe = np.where(inf, 1.0, pop)
        f = np.where(inf, 1.0, (pop - n_h) / safe)
        frac = np.where(inf, 0.0, n_h / safe)
    lonely = n_h == 1
    if lonely.any() and lonely_psu == "fail":
        # a unit taken with certainty (N = n = 1) has no variance at this stage: not lonely
        real = lonely & (f > 1e-7)
        if real.any():
            shown = ", ".join(repr(s) for s in names(np.flatnonzero(real)[:5]))
            what = "a single PSU" if stage == 1 else f"a single sampled unit at stage {stage}"
            raise SipasError(f"{real.sum()} strata have {what} ({shown}); its variance cannot "
                             "be estimated",
                             hint="merge strata, or choose lonely_psu='adjust', 'remove' or 'certainty'")
    many = n_h > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(many, f * n_h / (n_h - 1), f if lonely_psu == "adjust" else 0.0)
    scale = np.where(f < 1e-7, 0.0, scale)  # R: a self-representing stratum adds nothing
    centre = np.where(many, scale / n_h, 0.0)
    return scale, centre, frac


def recursive_variance(stages: list[Stage], units: np.ndarray, totals: np.ndarray,
                       cross: bool = False) -> np.ndarray:
    """Variance (or, with ``cross``, the covariance matrix) of the columns of ``totals``.

    ``units``: sorted finest-unit ids, one per row of ``totals`` (units not listed are
    zeros). Returns a (p,) vector of variances, or (p x p) with ``cross``."""
    inner, first_sq, strata, sums = stage_parts(stages, units, totals, cross)
    centre = stages[0].centre[strata]
    if cross:
        return inner + (first_sq - (sums * centre[:, None]).T @ sums)
    return inner + (first_sq - centre @ sums ** 2)


def stage_parts(stages: list[Stage], units: np.ndarray, totals: np.ndarray, cross: bool = False):
    """The recursive variance of ``totals`` in parts that add up over blocks of whole
    first-stage PSUs: (the terms of stages 2.., the first stage's weighted sum of
    squares, the first-stage strata met, their sums of z). The first stage's centring
    term ``centre_h (sum_j z_hj)^2`` needs a stratum's sum over all its PSUs, so it is
    left to the caller (:func:`recursive_variance`, or :class:`Accumulator` when the
    totals come block by block)."""
    p = totals.shape[1]
    inner = np.zeros((p, p)) if cross else np.zeros(p)
    z, ids = totals, units
    for s in range(len(stages) - 1, -1, -1):
        stage = stages[s]
        u = stage.unit[ids]
        starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        if len(starts) != len(u):
            z = np.add.reduceat(z, starts)
        u = u[starts]
        h = stage.stratum[u]
        hstarts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        s1 = np.add.reduceat(z, hstarts)
        hh = h[hstarts]
        if cross:
            sq = (z * stage.scale[h][:, None]).T @ z
        else:
            sq = stage.scale[h] @ z ** 2
        if s == 0:
            return inner, sq, hh, s1
        if cross:
            inner += sq - (s1 * stage.centre[hh][:, None]).T @ s1
        else:
            inner += sq - stage.centre[hh] @ s1 ** 2
        # next (coarser) stage: map each unit of this stage to a finest unit id of it
        ids = _representative(stage, u)
    raise AssertionError("a design has at least one stage")  # pragma: no cover


class Accumulator:
    """The variance of totals given in blocks of whole first-stage PSUs (sorted
    finest units; a stratum may span blocks): the blocks' :func:`stage_parts` summed,
    the first stage's centring term from the strata's summed totals at the end. With
    one block the result is :func:`recursive_variance`'s, bit for bit."""

    def __init__(self, stages: list[Stage], p: int) -> None:
        self.stages = stages
        self.inner, self.first_sq = np.zeros(p), np.zeros(p)
        self.sums = np.zeros((len(stages[0].n), p))
        self.met = np.zeros(len(stages[0].n), dtype=bool)

    def add(self, units: np.ndarray, totals: np.ndarray) -> None:
        inner, first_sq, strata, sums = stage_parts(self.stages, units, totals)
        self.inner += inner
        self.first_sq += first_sq
        self.sums[strata] += sums
        self.met[strata] = True

    def variance(self) -> np.ndarray:
        strata = np.flatnonzero(self.met)
        return self.inner + (self.first_sq - self.stages[0].centre[strata] @ self.sums[strata] ** 2)


def _representative(stage: Stage, units: np.ndarray) -> np.ndarray:
    """A finest-unit id inside each of ``units`` (the first), for the coarser stage."""
    if not hasattr(stage, "_rep"):
        rep = np.empty(int(stage.unit.max()) + 1, dtype=np.int64)
        rep[stage.unit[::-1]] = np.arange(len(stage.unit))[::-1]
        stage._rep = rep
    return stage._rep[units]
