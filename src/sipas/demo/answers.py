"""The answers model of the demo survey: an ordinal latent model cut into the scale's
codes (see :mod:`sipas.demo.generate`), then item non-response, expectations and open
comments. Every function draws from the generator it is given, in the order
:func:`sipas.demo.generate.generate` calls them (the order fixes the output)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from sipas.base.codebook import Methodology
from sipas.demo.spec import DemoSpec
from sipas.demo.text import _stable_rng

BLANK = -1
"""Code of a blank answer cell."""


@dataclass
class Structure:
    """The questionnaire: elements, criteria, the element of each criterion, the
    number of criteria per element, each criterion's weight in the SIPAS, scales."""

    elements: list
    criteria: list
    elem_of: np.ndarray
    k_e: np.ndarray
    crit_w: np.ndarray
    scales: list


def structure(methodology: Methodology) -> Structure:
    elements = list(methodology.elements)
    E = len(elements)
    criteria = methodology.items            # content and overall items, element by element
    elem_of = np.array([next(j for j, e in enumerate(elements) if c in e.items) for c in criteria])
    k_e = np.bincount(elem_of, minlength=E)
    crit_w = np.array(methodology.index_weights())   # each item's weight in SIPAS
    return Structure(elements, criteria, elem_of, k_e, crit_w, [methodology.scale_of(c) for c in criteria])


def _cut_points(spec: DemoSpec, n_values: int, n_positive: int) -> np.ndarray:
    """Cut points of the latent scale for an ordered scale of ``n_values`` values whose
    top ``n_positive`` are positive: the boundary below the first positive value is 0."""
    n_below = n_values - n_positive - 1     # cuts below the boundary
    n_above = n_positive - 1
    steps_b = list(spec.latent.cuts_below)
    steps_a = list(spec.latent.cuts_above)
    below, x = [], 0.0
    for i in range(n_below):
        x += steps_b[min(i, len(steps_b) - 1)]
        below.append(x)
    above, x = [], 0.0
    for i in range(n_above):
        x += steps_a[min(i, len(steps_a) - 1)]
        above.append(x)
    return np.array(sorted(below) + [0.0] + above)


def _ordered_values(scale) -> list[int]:
    """Scale codes ordered worst to best (the positive codes at the top)."""
    codes = scale.valid_codes
    pos = set(scale.positive)
    if codes and codes[0] in pos and codes[-1] not in pos:
        codes = codes[::-1]
    return codes


def profile_effects(spec: DemoSpec, methodology: Methodology, profile_vals: dict, M: int) -> np.ndarray:
    """Each respondent's shift of the latent scale from the profile (``effects``)."""
    prof_eff = np.zeros(M)
    for vid, eff in spec.effects.items():
        if vid not in profile_vals:
            continue
        var = methodology.profile_var(vid)
        vals = profile_vals[vid]
        if var.type == "category":
            shift = np.array([float(eff.get(c.code, 0.0)) for c in var.categories])
            prof_eff += shift[vals]
        elif var.type == "integer" and "per_step" in eff:
            prof_eff += eff["per_step"] * (vals - (var.min if var.min is not None else vals.min()))
    return prof_eff


@dataclass
class Population:
    """Quantities that do not change between samples: each unit's SIPAS level and
    element profile, criterion difficulties, element offsets."""

    level: np.ndarray
    unit_elem: np.ndarray
    crit_eff: np.ndarray
    elem_off: np.ndarray


def population(seed: int, year: int, spec: DemoSpec, units: list, q: Structure) -> Population:
    lat = spec.latent
    U, E = len(units), len(q.elements)
    level = np.empty(U)
    unit_elem = np.empty((U, E))
    for ui, u in enumerate(units):
        g = _stable_rng(seed, "unit", u.id)
        d = spec.levels.default.get(u.type, spec.levels.default["other"])
        drawn = d.mean + d.sd * g.standard_normal()
        base = spec.levels.units.get(u.id, drawn)
        unit_elem[ui] = g.normal(0.0, lat.unit_element_sd, E)
        for y, ch in spec.levels.changes.items():
            if spec.levels.base_year < y <= year:
                base += ch.get(u.id, 0.0)
            elif year < y <= spec.levels.base_year:
                base -= ch.get(u.id, 0.0)
        level[ui] = min(max(base, spec.levels.min), spec.levels.max)
    crit_eff = np.array([_stable_rng(seed, "criterion", c.id).normal(0.0, lat.criterion_sd) for c in q.criteria])
    crit_eff -= (np.bincount(q.elem_of, crit_eff, E) / q.k_e)[q.elem_of]      # element levels come from offsets only
    elem_off = np.array([lat.element_offsets.get(e.id, 0.0) for e in q.elements])
    return Population(level, unit_elem, crit_eff, elem_off)


def solve_mu(spec: DemoSpec, units: list, q: Structure, pop: Population, unit_idx: np.ndarray,
             prof_eff: np.ndarray) -> np.ndarray:
    """Each unit's mu, so that its expected SIPAS equals its level."""
    # the commune effect is part of the population (it varies between communes whether or
    # not communes are the PSUs): every unit with communes gets it
    lat, U = spec.latent, len(units)
    clustered = np.array([bool(u.communes) for u in units])
    pe_mean = np.bincount(unit_idx, prof_eff, U) / np.bincount(unit_idx, minlength=U)
    pe_var = np.bincount(unit_idx, prof_eff ** 2, U) / np.bincount(unit_idx, minlength=U) - pe_mean ** 2
    s_u = np.sqrt(lat.respondent_sd ** 2 + lat.respondent_element_sd ** 2 + lat.item_sd ** 2
                  + np.where(clustered, lat.commune_sd ** 2, 0.0) + np.maximum(pe_var, 0.0))
    a_uc = pe_mean[:, None] + pop.unit_elem[:, q.elem_of] + pop.elem_off[q.elem_of][None, :] + pop.crit_eff[None, :]
    lo, hi = np.full(U, -10.0), np.full(U, 10.0)
    for _ in range(50):
        mid = (lo + hi) / 2
        f = (ndtr((mid[:, None] + a_uc) / s_u[:, None]) * q.crit_w[None, :]).sum(1)
        low = f < pop.level
        lo = np.where(low, mid, lo)
        hi = np.where(low, hi, mid)
    return (lo + hi) / 2


def latent_terms(rng, spec: DemoSpec, n_communes: int, M: int, E: int, C: int, commune_idx: np.ndarray,
                 mu_row: np.ndarray, prof_eff: np.ndarray):
    """(person level, respondent x element term, item noise): the random latent terms."""
    lat = spec.latent
    b = rng.normal(0.0, lat.commune_sd, max(n_communes, 1))
    b_row = np.where(commune_idx >= 0, b[np.maximum(commune_idx, 0)], 0.0)
    r = rng.normal(0.0, lat.respondent_sd, M)
    v = rng.normal(0.0, lat.respondent_element_sd, (M, E))
    eps = rng.normal(0.0, lat.item_sd, (M, C))
    return mu_row + b_row + prof_eff + r, v, eps


def cut_answers(spec: DemoSpec, q: Structure, ystar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, positive) of the latent answers cut into each scale's codes."""
    M, C = ystar.shape
    answers = np.empty((M, C), dtype=np.int64)
    for j, sc in enumerate(q.scales):
        vals = np.array(_ordered_values(sc))
        cuts = _cut_points(spec, len(vals), len(sc.positive))
        answers[:, j] = vals[np.searchsorted(cuts, ystar[:, j])]
    positive = np.zeros((M, C), bool)
    for j, sc in enumerate(q.scales):
        positive[:, j] = np.isin(answers[:, j], sc.positive)
    return answers, positive


def item_nonresponse(rng, spec: DemoSpec, q: Structure, answers: np.ndarray) -> np.ndarray:
    """Not applicable (feedback element), don't know and blank answers, in place;
    returns the valid-answer mask."""
    nr = spec.nonresponse
    M, C = answers.shape
    elements = q.elements
    na_elems = {elements[-1].id if e == "last" else e for e in nr.not_applicable.elements}
    na_mask_r = rng.random(M) < nr.not_applicable.respondent_rate
    na_item = rng.random((M, C)) < nr.not_applicable.item_rate
    dk = rng.random((M, C)) < nr.dont_know.rate
    blank = rng.random((M, C)) < nr.blank_rate
    for j, sc in enumerate(q.scales):
        miss = sc.missing_codes
        na_code = nr.not_applicable.code if nr.not_applicable.code in miss else (miss[-1] if miss else BLANK)
        dk_code = nr.dont_know.code if nr.dont_know.code in miss else (miss[0] if miss else BLANK)
        if elements[q.elem_of[j]].id in na_elems:
            answers[na_mask_r | na_item[:, j], j] = na_code
        answers[dk[:, j], j] = dk_code
        answers[blank[:, j], j] = BLANK
    valid = np.zeros((M, C), bool)
    for j, sc in enumerate(q.scales):
        valid[:, j] = np.isin(answers[:, j], sc.valid_codes)
    return valid


def expectations(rng, spec: DemoSpec, methodology: Methodology, q: Structure, elem_lat: np.ndarray,
                 low_sat: np.ndarray) -> np.ndarray:
    """(M x X) chosen expectation items: fewer for satisfied respondents, linked to the
    elements they rate low."""
    exp_items = list(methodology.expectations.items) if methodology.expectations else []
    M, X = len(low_sat), len(exp_items)
    expect = np.zeros((M, X), bool)
    if X:
        es = spec.expectations
        share_hi = np.array(es.count_shares.get("high", [1.0]), float)
        share_lo = np.array(es.count_shares.get("low", share_hi), float)
        kmax = min(X, max(len(share_hi), len(share_lo)))
        cum_hi = np.cumsum(np.pad(share_hi, (0, kmax - len(share_hi)))[:kmax] / share_hi.sum())
        cum_lo = np.cumsum(np.pad(share_lo, (0, kmax - len(share_lo)))[:kmax] / share_lo.sum())
        u_ = rng.random(M)
        count = 1 + np.where(low_sat, (cum_lo[None, :] < u_[:, None]).sum(1), (cum_hi[None, :] < u_[:, None]).sum(1))
        count = np.minimum(count, kmax)
        eid = {e.id: j for j, e in enumerate(q.elements)}
        z = (elem_lat - elem_lat.mean(0)) / elem_lat.std(0).clip(1e-9)
        score = np.log(np.array([es.weights.get(it.id, 1.0) for it in exp_items]))[None, :] + rng.gumbel(size=(M, X))
        for k, it in enumerate(exp_items):
            link = es.links.get(it.id)
            if link in eid:
                score[:, k] -= es.link_strength * z[:, eid[link]]
        rank = np.argsort(np.argsort(-score, axis=1, kind="stable"), axis=1, kind="stable")
        expect = rank < count[:, None]
    return expect


def comments(rng, spec: DemoSpec, q: Structure, elem_lat: np.ndarray, low_sat: np.ndarray) -> np.ndarray:
    """Open comments: praise or complaints about the respondent's weakest elements."""
    cs = spec.comments
    M = len(low_sat)
    comment = np.full(M, "", dtype=object)
    writes = rng.random(M) < np.where(low_sat, cs.rate_low, cs.rate_high)
    topics = [(name, t) for name, t in cs.complaints.items()]
    eid = {e.id: j for j, e in enumerate(q.elements)}
    z_e = (elem_lat - elem_lat.mean(0)) / elem_lat.std(0).clip(1e-9)
    for i in np.flatnonzero(writes):
        if not low_sat[i] and rng.random() < 0.8:
            text, kind = cs.praise[rng.integers(len(cs.praise))], "praise"
        else:
            kind = "complaint"
            zt = np.array([z_e[i, eid[t.element]] if t.element in eid else 0.0 for _, t in topics])
            w = np.exp(-1.5 * zt)
            first = rng.choice(len(topics), p=w / w.sum())
            parts = [topics[first][1].phrases[rng.integers(len(topics[first][1].phrases))]]
            if len(topics) > 1 and rng.random() < 0.3:
                w2 = w.copy()
                w2[first] = 0
                second = rng.choice(len(topics), p=w2 / w2.sum())
                parts.append(topics[second][1].phrases[rng.integers(len(topics[second][1].phrases))])
            text = " ".join(parts)
        closings = cs.closings.get(kind) or [""]
        closing = closings[rng.integers(len(closings))]
        comment[i] = f"{text} {closing}" if closing else text
    return comment
