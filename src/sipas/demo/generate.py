"""The demo survey generator: a pure function of (registry, methodology, fields, settings,
spec, seed) that returns the rows of a raw survey file and the key of its bad records.

Nothing here names a methodology, an element, a criterion or a unit: they come from the
arguments. Ids that ``params/demo.yaml`` names but the methodology or registry lacks are
ignored. See ``params/demo.yaml`` for the model; in short, an ordinal latent model

    y* = mu_u + commune + profile effects + respondent + unit x element + element offset
         + respondent x element + criterion + item noise

cut into the scale's codes, with mu_u solved so that the unit's expected SIPAS equals its
level in the spec. One ``numpy.random.Generator`` seeded from ``(seed, year)`` draws the
sample; quantities that must not change between years (unit levels not listed in the
spec, each unit's element profile, criterion difficulty) come from generators seeded
from ``(seed, crc32(id))``, so that 2023 differs from 2022 only by the listed changes and
by sampling noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sipas.base.codebook import Fields, Methodology, Settings, YearRegistry
from sipas.demo import answers as model
from sipas.demo.households import household_frame
from sipas.demo.inject import inject, spares
from sipas.demo.layout import final_order, key_of, text_rows
from sipas.demo.profiles import _draw_profile, _personal, _tilt
from sipas.demo.sampling import draw_sample
from sipas.demo.spec import DemoSpec
from sipas.demo.text import _stable_rng, slug, strip_accents

__all__ = ["DemoSurvey", "generate", "sample_sizes", "slug", "strip_accents", "unit_sample_sizes"]


@dataclass
class DemoSurvey:
    """A generated raw survey file: header, rows of text cells, and the key."""

    year: int
    header: list[str]
    rows: list[list[str]]
    key: dict = field(default_factory=dict)
    frame: list[list[str]] | None = None   # household design: the sampling frame rows


# ------------------------------------------------------------------------ sample sizes


def sample_sizes(registry: YearRegistry, settings: Settings) -> dict[str, int]:
    """n = N / (1 + N e^2), rounded up (the rule of YearConfig.sample_targets)."""
    e2 = settings.margin_of_error ** 2
    return {u.id: math.ceil(u.served / (1 + u.served * e2)) for u in registry.units}


def unit_sample_sizes(registry: YearRegistry, settings: Settings, spec: DemoSpec, seed: int) -> dict[str, int]:
    """:func:`sample_sizes`, except the units of ``spec.unit_sample.unit_types``: an
    integer drawn uniformly from ``spec.unit_sample.range`` per unit (stable per seed and
    unit id), at most N."""
    out = sample_sizes(registry, settings)
    us = spec.unit_sample
    if us is None or (us.years and registry.year not in us.years):
        return out
    lo, hi = us.range
    for u in registry.units:
        if u.type in us.unit_types:
            out[u.id] = min(u.served, int(_stable_rng(seed, "unit_sample", u.id).integers(lo, hi + 1)))
    return out


# ---------------------------------------------------------------------- generator


def generate(
    registry: YearRegistry,
    methodology: Methodology,
    fields: Fields,
    settings: Settings,
    spec: DemoSpec,
    seed: int | None = None,
) -> DemoSurvey:
    """Generate one year's raw survey (rows of text cells) and its key; writes nothing.

    The steps draw from one generator in a fixed order (the order fixes the output):
    spares, sample, profile, latent terms, perceptions, item non-response,
    expectations, comments, personal data, bad records, rated expectations' text."""
    seed = spec.seed if seed is None else int(seed)
    year = registry.year
    rng = np.random.default_rng([seed, year])
    units = list(registry.units)
    U = len(units)
    targets = unit_sample_sizes(registry, settings, spec, seed)
    n_u = np.array([targets[u.id] for u in units])
    q = model.structure(methodology)
    E, C = len(q.elements), len(q.criteria)

    # spares: fresh respondents that become extra (bad) rows; then the sample
    spare_kinds, spares_u = spares(rng, spec.bad_records, U)
    smp = draw_sample(rng, registry, spec, units, n_u + spares_u, spares_u)
    unit_idx, commune_idx, spare_flag = smp.unit_idx, smp.commune_idx, smp.spare_flag
    M = len(unit_idx)

    # respondent profile and its effect on the latent scale
    profile_vals: dict[str, np.ndarray] = {}     # category: index into categories; integer: value
    for var in methodology.profile:
        profile_vals[var.id] = _draw_profile(rng, var, spec.profile.get(var.id), units, unit_idx, profile_vals,
                                             methodology)
    prof_eff = model.profile_effects(spec, methodology, profile_vals, M)

    # population quantities, each unit's mu, the latent answers
    pop = model.population(seed, year, spec, units, q)
    mu = model.solve_mu(spec, units, q, pop, unit_idx, prof_eff)
    person, v, eps = model.latent_terms(rng, spec, len(smp.communes), M, E, C, commune_idx, mu[unit_idx], prof_eff)

    # perception topics (methods that have them): base shares as profile questions
    # (`profile` in the spec), tilted by the respondent's standardised satisfaction:
    # P(category k) ∝ p_k · exp(slope_k · z), slopes in `perception_links` (e.g. people
    # less satisfied report harassment and informal payments more often, within a unit
    # and across units). Drawn after the answers' latent terms: methods without
    # perceptions consume no random numbers here.
    perceptions = list(methodology.perceptions)
    if perceptions:
        z_person = (person - person.mean()) / max(float(person.std()), 1e-9)
    for var in perceptions:
        profile_vals[var.id] = _draw_profile(rng, var, spec.profile.get(var.id), units, unit_idx, profile_vals,
                                             methodology, tilt=_tilt(var, spec.perception_links.get(var.id),
                                                                     z_person))
    elem_lat = person[:, None] + pop.unit_elem[unit_idx] + pop.elem_off[None, :] + v          # M x E
    answers, positive = model.cut_answers(spec, q, elem_lat[:, q.elem_of] + pop.crit_eff[None, :] + eps)
    valid = model.item_nonresponse(rng, spec, q, answers)
    n_valid = valid.sum(1)
    pos_share = np.where(n_valid > 0, (positive & valid).sum(1) / np.maximum(n_valid, 1), 1.0)
    low_sat = pos_share < 0.75
    expect = model.expectations(rng, spec, methodology, q, elem_lat, low_sat)
    comment = model.comments(rng, spec, q, elem_lat, low_sat)
    personal = _personal(rng, spec, methodology, settings, units, smp.communes, unit_idx, commune_idx,
                         profile_vals, year)

    # respondent ids, then the bad records
    seq = np.zeros(M, int)
    for ui in range(U):
        rows = np.flatnonzero((unit_idx == ui) & ~spare_flag)
        seq[rows] = np.arange(1, len(rows) + 1)
    rid = np.array([spec.respondent_id.format(year=year, unit=units[unit_idx[i]].id.upper(), seq=seq[i])
                    if not spare_flag[i] else "" for i in range(M)], dtype=object)
    inj = inject(rng, spec, methodology, registry, q.criteria, q.scales, answers, valid, expect, comment, rid,
                 unit_idx, smp.interviewer, smp.interviewer_codes, spare_flag, spare_kinds)

    # the file
    header, rows = text_rows(rng, spec, fields, methodology, units, smp, rid, personal, profile_vals, answers,
                             expect, comment, inj)
    final = final_order(units, unit_idx, spare_flag, inj)
    out_rows = [list(rows[i]) for i, _ in final]
    key = key_of(final, inj, rid, units, unit_idx, spare_flag, answers, valid, year=year, seed=seed,
                 methodology=methodology, targets=targets, level=pop.level, n_rows=len(out_rows))
    hh = registry.design.households
    frame = household_frame(seed, units, hh.unit_types, rid, unit_idx, ~spare_flag) if hh else None
    return DemoSurvey(year=year, header=header, rows=out_rows, key=key, frame=frame)
