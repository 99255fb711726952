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

import datetime as dt
import math
import re
import unicodedata
import zlib
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from sipas.base.codebook import Fields, Methodology, Settings, Variable, YearRegistry
from sipas.demo.sampling import draw_sample
from sipas.demo.spec import DemoSpec, ProfileDist

GENERATOR_VERSION = 1


@dataclass
class DemoSurvey:
    """A generated raw survey file: header, rows of text cells, and the key."""

    year: int
    header: list[str]
    rows: list[list[str]]
    key: dict = field(default_factory=dict)


# ------------------------------------------------------------------------ helpers


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


def _stable_rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(":".join(parts).encode("utf-8"))])


def strip_accents(text: str) -> str:
    """'Hài lòng' -> 'Hai long' (đ -> d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_accents(text).lower()).strip("-")


def _norm_key(text: str) -> str:
    """The data contract's matching form: NFC, no diacritics, case folded, runs of
    non-alphanumerics as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", strip_accents(unicodedata.normalize("NFC", text)).casefold()).strip("_")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


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


def _age_range(cat) -> tuple[int, int]:
    nums = [int(x) for x in re.findall(r"\d+", f"{cat.code} {cat.label}")]
    if len(nums) >= 2:
        return min(nums[:2]), max(nums[:2])
    if len(nums) == 1:
        return nums[0] + 1, nums[0] + 15
    return 18, 70


def _dist_vector(d: dict, codes: list) -> np.ndarray | None:
    if not d:
        return None
    v = np.array([float(d.get(c, d.get(str(c), 0.0))) for c in codes])
    return v / v.sum() if v.sum() > 0 else None


# ---------------------------------------------------------------------- generator


def generate(
    registry: YearRegistry,
    methodology: Methodology,
    fields: Fields,
    settings: Settings,
    spec: DemoSpec,
    seed: int | None = None,
) -> DemoSurvey:
    """Generate one year's raw survey (rows of text cells) and its key; writes nothing."""
    seed = spec.seed if seed is None else int(seed)
    year = registry.year
    rng = np.random.default_rng([seed, year])
    lat = spec.latent
    units = list(registry.units)
    U = len(units)
    targets = unit_sample_sizes(registry, settings, spec, seed)
    n_u = np.array([targets[u.id] for u in units])

    # --- questionnaire structure
    elements = list(methodology.elements)
    E = len(elements)
    criteria = methodology.items            # content and overall items, element by element
    C = len(criteria)
    elem_of = np.array([next(j for j, e in enumerate(elements) if c in e.items) for c in criteria])
    k_e = np.bincount(elem_of, minlength=E)
    crit_w = np.array(methodology.index_weights())   # each item's weight in SIPAS
    scales = [methodology.scale_of(c) for c in criteria]

    # --- spares: fresh respondents that become extra (bad) rows
    br = spec.bad_records
    spare_kinds: list[tuple[str, int]] = []   # (kind, unit index)
    for _ in range(br.duplicate_id_conflict):
        spare_kinds.append(("duplicate_id_conflict", int(rng.integers(U))))
    for _ in range(br.unknown_unit):
        spare_kinds.append(("unknown_unit", int(rng.integers(U))))
    spares_u = np.bincount([u for _, u in spare_kinds], minlength=U) if spare_kinds else np.zeros(U, int)
    m_u = n_u + spares_u

    # --- sampling: respondents, communes, interviewers, dates (sipas.demo.sampling)
    period = registry.survey_period
    smp = draw_sample(rng, registry, spec, units, m_u, spares_u)
    days, communes, interviewer_codes = smp.days, smp.communes, smp.interviewer_codes
    unit_idx, commune_idx, interviewer, date_idx, spare_flag = (
        smp.unit_idx, smp.commune_idx, smp.interviewer, smp.date_idx, smp.spare_flag)
    M = len(unit_idx)

    # --- respondent profile
    profile_vals: dict[str, np.ndarray] = {}     # category: index into categories; integer: value
    for var in methodology.profile:
        profile_vals[var.id] = _draw_profile(rng, var, spec.profile.get(var.id), units, unit_idx, profile_vals,
                                             methodology)

    perceptions = list(methodology.perceptions)   # drawn below, linked to satisfaction

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

    # --- stable (population) quantities
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
    crit_eff = np.array([_stable_rng(seed, "criterion", c.id).normal(0.0, lat.criterion_sd) for c in criteria])
    crit_eff -= (np.bincount(elem_of, crit_eff, E) / k_e)[elem_of]      # element levels come from offsets only
    elem_off = np.array([lat.element_offsets.get(e.id, 0.0) for e in elements])

    # --- solve each unit's mu so that its expected SIPAS equals its level
    # the commune effect is part of the population (it varies between communes whether or
    # not communes are the PSUs): every unit with communes gets it
    clustered = np.array([bool(u.communes) for u in units])
    pe_mean = np.bincount(unit_idx, prof_eff, U) / np.bincount(unit_idx, minlength=U)
    pe_var = np.bincount(unit_idx, prof_eff ** 2, U) / np.bincount(unit_idx, minlength=U) - pe_mean ** 2
    s_u = np.sqrt(lat.respondent_sd ** 2 + lat.respondent_element_sd ** 2 + lat.item_sd ** 2
                  + np.where(clustered, lat.commune_sd ** 2, 0.0) + np.maximum(pe_var, 0.0))
    a_uc = pe_mean[:, None] + unit_elem[:, elem_of] + elem_off[elem_of][None, :] + crit_eff[None, :]
    lo, hi = np.full(U, -10.0), np.full(U, 10.0)
    for _ in range(50):
        mid = (lo + hi) / 2
        f = (ndtr((mid[:, None] + a_uc) / s_u[:, None]) * crit_w[None, :]).sum(1)
        low = f < level
        lo = np.where(low, mid, lo)
        hi = np.where(low, hi, mid)
    mu = (lo + hi) / 2

    # --- answers
    b = rng.normal(0.0, lat.commune_sd, max(len(communes), 1))
    b_row = np.where(commune_idx >= 0, b[np.maximum(commune_idx, 0)], 0.0)
    r = rng.normal(0.0, lat.respondent_sd, M)
    v = rng.normal(0.0, lat.respondent_element_sd, (M, E))
    eps = rng.normal(0.0, lat.item_sd, (M, C))
    person = mu[unit_idx] + b_row + prof_eff + r

    # --- perception topics (methods that have them): base shares as profile questions
    # (`profile` in the spec), tilted by the respondent's standardised satisfaction:
    # P(category k) ∝ p_k · exp(slope_k · z), slopes in `perception_links` (e.g. people
    # less satisfied report harassment and informal payments more often, within a unit
    # and across units). Drawn after the answers' latent terms: methods without
    # perceptions consume no random numbers here.
    if perceptions:
        z_person = (person - person.mean()) / max(float(person.std()), 1e-9)
    for var in perceptions:
        profile_vals[var.id] = _draw_profile(rng, var, spec.profile.get(var.id), units, unit_idx, profile_vals,
                                             methodology, tilt=_tilt(var, spec.perception_links.get(var.id),
                                                                     z_person))
    elem_lat = person[:, None] + unit_elem[unit_idx] + elem_off[None, :] + v          # M x E
    ystar = elem_lat[:, elem_of] + crit_eff[None, :] + eps
    answers = np.empty((M, C), dtype=np.int64)
    for j, sc in enumerate(scales):
        vals = np.array(_ordered_values(sc))
        cuts = _cut_points(spec, len(vals), len(sc.positive))
        answers[:, j] = vals[np.searchsorted(cuts, ystar[:, j])]
    positive = np.zeros((M, C), bool)
    for j, sc in enumerate(scales):
        positive[:, j] = np.isin(answers[:, j], sc.positive)

    # --- nonresponse: not applicable (feedback element), don't know, blank
    nr = spec.nonresponse
    BLANK = -1
    na_elems = {elements[-1].id if e == "last" else e for e in nr.not_applicable.elements}
    na_mask_r = rng.random(M) < nr.not_applicable.respondent_rate
    na_item = rng.random((M, C)) < nr.not_applicable.item_rate
    dk = rng.random((M, C)) < nr.dont_know.rate
    blank = rng.random((M, C)) < nr.blank_rate
    for j, (c, sc) in enumerate(zip(criteria, scales)):
        miss = sc.missing_codes
        na_code = nr.not_applicable.code if nr.not_applicable.code in miss else (miss[-1] if miss else BLANK)
        dk_code = nr.dont_know.code if nr.dont_know.code in miss else (miss[0] if miss else BLANK)
        if elements[elem_of[j]].id in na_elems:
            answers[na_mask_r | na_item[:, j], j] = na_code
        answers[dk[:, j], j] = dk_code
        answers[blank[:, j], j] = BLANK
    valid = np.zeros((M, C), bool)
    for j, sc in enumerate(scales):
        valid[:, j] = np.isin(answers[:, j], sc.valid_codes)
    n_valid = valid.sum(1)
    pos_share = np.where(n_valid > 0, (positive & valid).sum(1) / np.maximum(n_valid, 1), 1.0)
    low_sat = pos_share < 0.75

    # --- expectations
    exp_items = list(methodology.expectations.items) if methodology.expectations else []
    X = len(exp_items)
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
        eid = {e.id: j for j, e in enumerate(elements)}
        z = (elem_lat - elem_lat.mean(0)) / elem_lat.std(0).clip(1e-9)
        score = np.log(np.array([es.weights.get(it.id, 1.0) for it in exp_items]))[None, :] + rng.gumbel(size=(M, X))
        for k, it in enumerate(exp_items):
            link = es.links.get(it.id)
            if link in eid:
                score[:, k] -= es.link_strength * z[:, eid[link]]
        rank = np.argsort(np.argsort(-score, axis=1, kind="stable"), axis=1, kind="stable")
        expect = rank < count[:, None]

    # --- open comments
    cs = spec.comments
    comment = np.full(M, "", dtype=object)
    writes = rng.random(M) < np.where(low_sat, cs.rate_low, cs.rate_high)
    topics = [(name, t) for name, t in cs.complaints.items()]
    eid = {e.id: j for j, e in enumerate(elements)}
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

    # --- personal data
    personal = _personal(rng, spec, methodology, settings, units, communes, unit_idx, commune_idx,
                         profile_vals, year)

    # --- respondent ids
    seq = np.zeros(M, int)
    for ui in range(U):
        rows = np.flatnonzero((unit_idx == ui) & ~spare_flag)
        seq[rows] = np.arange(1, len(rows) + 1)
    rid = np.array([spec.respondent_id.format(year=year, unit=units[unit_idx[i]].id.upper(), seq=seq[i])
                    if not spare_flag[i] else "" for i in range(M)], dtype=object)

    # --- bad records
    key_records: list[dict] = []
    protected = spare_flag.copy()                # rows not to be spoiled again
    pool = rng.permutation(np.flatnonzero(~spare_flag))

    def take(cond=None) -> int:
        """The next unprotected row of a fixed random order that meets ``cond``."""
        for i in pool:
            if not protected[i] and (cond is None or cond(i)):
                protected[i] = True
                return int(i)
        raise RuntimeError("demo generator ran out of rows for bad records")

    date_override: dict[int, str] = {}
    profile_override: dict[tuple[int, str], str] = {}

    for k in range(br.out_of_range):
        i = take(lambda i: valid[i].any())
        j = int(rng.choice(np.flatnonzero(valid[i])))
        value = br.out_of_range_values[k % len(br.out_of_range_values)]
        answers[i, j] = value
        key_records.append(dict(kind="out_of_range", index=i, column=criteria[j].id, value=str(value)))
    for k in range(br.date_outside_period):
        i = take()
        delta = int(rng.integers(5, 60))
        d = period.start - dt.timedelta(days=delta) if k % 2 == 0 else period.end + dt.timedelta(days=delta)
        date_override[i] = d.strftime("%d/%m/%Y")
        key_records.append(dict(kind="date_outside_period", index=i, column="interview_date",
                                value=date_override[i]))
    for k in range(br.nearly_empty):
        i = take()
        keep = rng.choice(C, size=min(br.nearly_empty_answered, C), replace=False)
        mask = np.ones(C, bool)
        mask[keep] = False
        answers[i, mask] = BLANK
        expect[i] = False
        comment[i] = ""
        key_records.append(dict(kind="nearly_empty", index=i, column=None,
                                value=f"{C - mask.sum()} of {C} criteria answered"))
    cat_vars = [v for v in methodology.profile if v.type == "category"]
    for k in range(br.invalid_profile if cat_vars else 0):
        i = take()
        var = cat_vars[int(rng.integers(len(cat_vars)))]
        known = {_norm_key(x) for c in var.categories for x in (c.code, c.label, *c.aliases)}
        bad = [x for x in br.invalid_profile_values if _norm_key(x) not in known]
        if not bad:
            continue
        profile_override[(i, var.id)] = bad[k % len(bad)]
        key_records.append(dict(kind="invalid_profile", index=i, column=var.id, value=bad[k % len(bad)]))
    for g in range(br.straight_line_groups):
        counts = np.bincount(interviewer[~protected], minlength=len(interviewer_codes))
        cand = np.flatnonzero(counts >= br.straight_line_size + 1)
        if not len(cand):
            break
        iv = int(cand[rng.integers(len(cand))])
        rows = [i for i in rng.permutation(np.flatnonzero((interviewer == iv) & ~protected))]
        template = next((i for i in rows if len(set(answers[i, valid[i]])) > 1 and valid[i].sum() >= C // 2), None)
        if template is None:
            break
        others = [i for i in rows if i != template][: br.straight_line_size - 1]
        group = sorted([template, *others])
        for i in group:
            answers[i] = answers[template]
            protected[i] = True
        for i in group:
            key_records.append(dict(kind="straight_line", index=int(i), column=None, group=g + 1,
                                    value=f"group {g + 1}: {len(group)} questionnaires of {interviewer_codes[iv]} "
                                          "with identical answers"))

    # extra rows: exact duplicates (copies), conflicting ids and unknown units (spares)
    dup_exact_src = [take() for _ in range(br.duplicate_id_exact)]
    spare_rows = list(np.flatnonzero(spare_flag))
    spare_iter = {kind: [] for kind in ("duplicate_id_conflict", "unknown_unit")}
    used = set()
    for kind, ui in spare_kinds:
        i = next(int(s) for s in spare_rows if unit_idx[s] == ui and s not in used)
        used.add(i)
        spare_iter[kind].append(i)
    conflict_src = {}
    for i in spare_iter["duplicate_id_conflict"]:
        src = take(lambda s, ui=unit_idx[i]: unit_idx[s] == ui)
        conflict_src[i] = src
        rid[i] = rid[src]
    unknown_name = {}
    for k, i in enumerate(spare_iter["unknown_unit"]):
        name = br.unknown_unit_names[k % len(br.unknown_unit_names)]
        unknown_name[i] = name
        rid[i] = spec.respondent_id.format(year=year, unit=slug(name).upper(), seq=k + 1)

    # markup comments and NFD rows: on rows not otherwise touched
    markup_rows = []
    if cs.markup:
        n_mk = int(rng.integers(cs.markup.count[0], cs.markup.count[1] + 1))
        texts = rng.permutation(len(cs.markup.texts))
        for k in range(n_mk):
            i = take()
            comment[i] = cs.markup.texts[texts[k % len(texts)]]
            markup_rows.append(i)
    nfd = sorted(take() for _ in range(spec.nfd_rows))

    # answers written as labels
    label_cells: list[tuple[int, int, str]] = []
    cand = (valid | (answers > 0)) & ~protected[:, None]
    cand &= answers != BLANK
    pick = cand & (rng.random((M, C)) < nr.label_rate)
    for i, j in zip(*np.nonzero(pick)):
        sc = scales[j]
        code = int(answers[i, j])
        try:
            lab = sc.label_of(code)
        except KeyError:
            continue
        aliases = next((c.aliases for c in (*sc.values, *sc.missing) if c.code == code), [])
        options = [lab, strip_accents(lab).lower(), *aliases]
        label_cells.append((int(i), int(j), options[int(rng.integers(len(options)))]))

    # --- text columns
    header, cols, col_of = [], [], {}

    def add(hdr: str, values, cid: str):
        col_of[cid] = len(cols)
        header.append(hdr)
        cols.append(values)

    def hdr_of(var) -> str:
        return spec.headers.get(var.id, var.label)

    def id_hdr(x: str) -> str:
        return {"upper": x.upper(), "lower": x.lower()}.get(spec.id_header_case, x)

    unit_names = np.array([u.name for u in units], dtype=object)
    commune_names = np.array([c for _, c in communes] + [""], dtype=object)
    day_str = np.array([str(d)[8:10] + "/" + str(d)[5:7] + "/" + str(d)[:4] for d in days], dtype=object)
    admin_values = {
        "respondent_id": rid,
        "unit_id": unit_names[unit_idx],
        "commune": commune_names[commune_idx],          # -1 -> ""
        "interviewer": np.array(interviewer_codes, dtype=object)[interviewer],
        "interview_date": day_str[date_idx],
    }
    empty = np.full(M, "", dtype=object)
    for var in fields.admin:
        add(hdr_of(var), admin_values.get(var.id, empty).copy(), var.id)
    for var in fields.personal:
        add(hdr_of(var), personal.get(var.id, empty), var.id)
    for var in methodology.profile:
        vals = profile_vals[var.id]
        if var.type == "category":
            add(hdr_of(var), np.array([c.label for c in var.categories], dtype=object)[vals], var.id)
        elif var.type == "integer":
            add(hdr_of(var), vals.astype(str).astype(object), var.id)
        else:
            add(hdr_of(var), empty, var.id)
    code_str = np.array([str(x) for x in range(0, 100)] + [""], dtype=object)   # -1 -> ""
    for j, c in enumerate(criteria):
        a = answers[:, j]
        s = code_str[np.clip(a, -1, 99)]
        big = a > 99
        if big.any():
            s[big] = a[big].astype(str)
        add(id_hdr(c.id), s, c.id)
    for var in perceptions:
        vals = profile_vals[var.id]
        if var.type == "category":
            add(hdr_of(var), np.array([c.label for c in var.categories], dtype=object)[vals], var.id)
        else:
            add(hdr_of(var), vals.astype(str).astype(object), var.id)
    rated = methodology.expectations is not None and bool(getattr(methodology.expectations, "categories", []))
    if rated:
        # each item rated: the respondent's chosen priorities get a top category, the
        # others one of the remaining categories
        cats = methodology.expectations.categories
        top = [c.label for c in cats if c.code in methodology.expectations.top] or [cats[0].label]
        rest = np.array([c.label for c in cats if c.label not in top] or top, dtype=object)
        other = rest[rng.integers(0, len(rest), (M, X))] if X else None
    for k, it in enumerate(exp_items):
        if rated:
            col = np.where(expect[:, k], top[0], other[:, k]).astype(object)
            col[~expect.any(1)] = ""           # nearly empty questionnaires
        else:
            col = np.where(expect[:, k], "x", "").astype(object)
        add(id_hdr(it.id), col, it.id)
    if methodology.comment:
        add(hdr_of(methodology.comment), comment, methodology.comment.id)

    for i, d in date_override.items():
        cols[col_of["interview_date"]][i] = d
    for (i, vid), val in profile_override.items():
        cols[col_of[vid]][i] = val
    for i, j, text in label_cells:
        cols[col_of[criteria[j].id]][i] = text
    for i, name in unknown_name.items():
        cols[col_of["unit_id"]][i] = name
        if "commune" in col_of:
            cols[col_of["commune"]][i] = ""

    rows = [list(r) for r in zip(*cols)]
    for i in nfd:
        rows[i] = [unicodedata.normalize("NFD", x) for x in rows[i]]

    # --- final order: units in registry order; within a unit the sampled rows, then
    # conflicting-id rows, then exact duplicates; unknown units at the end
    final: list[tuple[int, str]] = []       # (source index, role)
    for ui in range(U):
        block = np.flatnonzero(unit_idx == ui)
        final.extend((int(i), "sample") for i in block if not spare_flag[i])
        final.extend((i, "duplicate_id_conflict") for i in spare_iter["duplicate_id_conflict"] if unit_idx[i] == ui)
        final.extend((i, "duplicate_id_exact") for i in dup_exact_src if unit_idx[i] == ui)
    final.extend((i, "unknown_unit") for i in spare_iter["unknown_unit"])
    out_rows = [list(rows[i]) for i, _ in final]
    row_of = {}
    for pos, (i, role) in enumerate(final):
        if role == "sample":
            row_of[i] = pos + 2      # file line: the header is line 1
    records = []
    for rec in key_records:
        i = rec.pop("index")
        out = dict(kind=rec["kind"], respondent_id=rid[i], row=row_of[i], unit_id=units[unit_idx[i]].id,
                   extra=False, column=rec["column"], value=rec["value"])
        if "group" in rec:
            out["group"] = rec["group"]
        records.append(out)
    for pos, (i, role) in enumerate(final):
        if role == "duplicate_id_exact":
            records.append(dict(kind="duplicate_id", respondent_id=rid[i], row=pos + 2, unit_id=units[unit_idx[i]].id,
                                extra=True, column="respondent_id", first_row=row_of[i],
                                value=f"exact copy of row {row_of[i]}"))
        elif role == "duplicate_id_conflict":
            records.append(dict(kind="duplicate_id", respondent_id=rid[i], row=pos + 2, unit_id=units[unit_idx[i]].id,
                                extra=True, column="respondent_id", first_row=row_of[conflict_src[i]],
                                value=f"different questionnaire with the id of row {row_of[conflict_src[i]]}"))
        elif role == "unknown_unit":
            records.append(dict(kind="unknown_unit", respondent_id=rid[i], row=pos + 2, unit_id=None,
                                extra=True, column="unit_id", value=unknown_name[i]))
    records.sort(key=lambda r: (r["row"], r["kind"]))
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec["kind"]] = counts.get(rec["kind"], 0) + 1
    extra_per_unit = {u.id: 0 for u in units}
    for rec in records:
        if rec["extra"] and rec["unit_id"]:
            extra_per_unit[rec["unit_id"]] += 1

    constant = valid.sum(1) >= 2
    constant &= np.array([len(set(answers[i, valid[i]])) == 1 if constant[i] else False for i in range(M)])

    key = {
        "generator": f"sipas.demo v{GENERATOR_VERSION}",
        "year": year,
        "seed": seed,
        "methodology": methodology.id,
        "rows": len(out_rows),
        "row_numbering": "row = line of the CSV file, header = 1, first questionnaire = 2 "
                         "(the data contract's source_row)",
        "record_fields": {
            "kind": "duplicate_id | unknown_unit | out_of_range | date_outside_period | nearly_empty | "
                    "invalid_profile | straight_line",
            "extra": "true: the row is added to the unit's sample of n = N/(1+N e^2) rows; "
                     "false: a sampled row was spoiled",
            "column": "field or criterion id holding the bad value (null: the whole row)",
            "first_row": "duplicate_id only: the row that first used the id",
            "group": "straight_line only: rows of one group share one interviewer and one answer vector",
        },
        "sample_targets": {u.id: int(targets[u.id]) for u in units},
        "extra_rows_per_unit": {k: v for k, v in extra_per_unit.items() if v},
        "bad_records": records,
        "counts": dict(sorted(counts.items())),
        "nfd_rows": sorted(row_of[i] for i in nfd),
        "markup_comment_rows": sorted(row_of[i] for i in markup_rows),
        "label_answers": [dict(row=row_of[i], column=criteria[j].id, value=t) for i, j, t in
                          sorted(label_cells)],
        "notes": {
            # respondents who, by chance, gave the same answer to every criterion they
            # answered (not injected; intake may flag them)
            "constant_answer_vectors": int((constant & ~spare_flag).sum()),
            "levels": {u.id: round(float(level[ui]), 4) for ui, u in enumerate(units)},
        },
    }
    return DemoSurvey(year=year, header=header, rows=out_rows, key=key)


# ---------------------------------------------------------------- profile / people


def _variable(methodology, vid: str) -> Variable:
    """A profile question or a perception topic by id."""
    for v in (*methodology.profile, *methodology.perceptions):
        if v.id == vid:
            return v
    raise KeyError(vid)


def _tilt(var: Variable, slopes: dict[str, float] | None, z: np.ndarray) -> np.ndarray | None:
    """(M x K) multipliers exp(slope_k · z_i) of a category variable's probabilities."""
    if not slopes or var.type != "category":
        return None
    s = np.array([float(slopes.get(c.code, 0.0)) for c in var.categories])
    return np.exp(np.clip(z[:, None] * s[None, :], -30, 30))


def _draw_profile(rng, var: Variable, dist: ProfileDist | None, units, unit_idx, done: dict, methodology,
                  tilt: np.ndarray | None = None):
    M = len(unit_idx)
    if var.type == "category":
        codes = [c.code for c in var.categories]
    elif var.type == "integer":
        keys = sorted(int(k) for k in dist.default) if dist and dist.default else []
        lo = var.min if var.min is not None else 1
        hi = var.max if var.max is not None else lo + 3
        codes = [k for k in keys if lo <= k <= hi] or list(range(lo, min(hi, lo + 3) + 1))
    else:
        return np.zeros(M, int)
    K = len(codes)
    base = (_dist_vector(dist.default, codes) if dist else None)
    if base is None:
        base = np.full(K, 1.0 / K)
    per_unit = np.empty((len(units), K))
    for ui, u in enumerate(units):
        p = base
        if dist:
            p = _dist_vector(dist.by_type.get(u.type, {}), codes) if dist.by_type.get(u.type) else p
            q = _dist_vector(dist.by_unit.get(u.id, {}), codes) if dist.by_unit.get(u.id) else None
            p = q if q is not None else p
        per_unit[ui] = p if p is not None else base
    P = per_unit[unit_idx]
    if dist:
        for other, by_value in dist.given.items():
            if other not in done:
                continue
            ovar = _variable(methodology, other)
            for code, d in by_value.items():
                q = _dist_vector(d, codes)
                if q is None or ovar.type != "category":
                    continue
                try:
                    idx = [c.code for c in ovar.categories].index(code)
                except ValueError:
                    continue
                P[done[other] == idx] = q
    if tilt is not None:
        P = P * tilt
        P = P / P.sum(1, keepdims=True)
    u_ = rng.random(M)
    idx = np.minimum((np.cumsum(P, axis=1) < u_[:, None]).sum(1), K - 1)
    if var.type == "integer":
        return np.array(codes)[idx]
    return idx


def _personal(rng, spec: DemoSpec, methodology, settings, units, communes, unit_idx, commune_idx,
              profile_vals, year) -> dict[str, np.ndarray]:
    ps = spec.personal
    M = len(unit_idx)
    pv = {v.id: v for v in methodology.profile}
    eth = np.full(M, "default", dtype=object)
    if ps.ethnicity_var in pv and pv[ps.ethnicity_var].type == "category":
        eth = np.array([c.code for c in pv[ps.ethnicity_var].categories], dtype=object)[profile_vals[ps.ethnicity_var]]
    female = np.zeros(M, bool)
    if ps.gender_var in pv and pv[ps.gender_var].type == "category":
        codes = [c.code for c in pv[ps.gender_var].categories]
        if ps.female_code in codes:
            female = profile_vals[ps.gender_var] == codes.index(ps.female_code)
        else:
            female = rng.random(M) < 0.5
    else:
        female = rng.random(M) < 0.5

    def pick(table: dict, sex_split: bool) -> np.ndarray:
        out = np.empty(M, dtype=object)
        u_ = rng.random(M)
        for e in sorted(set(eth)):
            for fem in (False, True):
                rows = (eth == e) & (female == fem)
                if not rows.any():
                    continue
                lst = table.get(e, table["default"])
                if sex_split:
                    lst = lst["female" if fem else "male"]
                out[rows] = np.array(lst, dtype=object)[(u_[rows] * len(lst)).astype(int)]
        return out

    family = pick(ps.family_names, False)
    middle = pick(ps.middle_names, True)
    given = pick(ps.given_names, True)
    names = np.array([f"{a} {b} {c}" for a, b, c in zip(family, middle, given)], dtype=object)

    phone = np.array([f"09{x:08d}" for x in rng.integers(0, 10 ** 8, M)], dtype=object)
    phone[rng.random(M) >= ps.phone_rate] = ""

    # age from the age band (if any) -> birth year -> CCCD: province, century/sex, yy, 6 digits
    age = rng.integers(18, 71, M)
    if ps.age_var in pv and pv[ps.age_var].type == "category":
        ranges = [_age_range(c) for c in pv[ps.age_var].categories]
        lo = np.array([r[0] for r in ranges])[profile_vals[ps.age_var]]
        hi = np.array([r[1] for r in ranges])[profile_vals[ps.age_var]]
        age = lo + (rng.random(M) * (hi - lo + 1)).astype(int)
    born = year - age
    century = np.where(born >= 2000, 2, 0) + female.astype(int)
    tail = rng.integers(0, 10 ** 6, M)
    cccd = np.array([f"{ps.id_number_prefix}{c}{b % 100:02d}{t:06d}" for c, b, t in zip(century, born, tail)],
                    dtype=object)
    cccd[rng.random(M) >= ps.id_number_rate] = ""

    # address: the row's commune, or for units sampled without communes a commune of the province
    province = f"{ps.province_prefix} {settings.province}"
    # places: (name, name of the unit it belongs to or None): communes of units, and
    # units that are themselves a place (commune-level units)
    places = [(c, units[ui].name) for ui, c in communes]
    place_of_unit = np.full(len(units), -1)
    for ui, u in enumerate(units):
        if u.type in ps.place_unit_types:
            place_of_unit[ui] = len(places)
            places.append((u.name, None))
    home = np.where(commune_idx >= 0, commune_idx, place_of_unit[unit_idx])
    no_home = home < 0
    if places:
        home[no_home] = rng.integers(0, len(places), no_home.sum())
    village = rng.integers(0, len(ps.villages), M)
    group = rng.integers(1, 16, M)
    address = np.empty(M, dtype=object)
    for i in range(M):
        if home[i] < 0:
            address[i] = province
            continue
        cname, parent = places[home[i]]
        urban = any(cname.startswith(p) for p in ps.urban_prefixes)
        first = f"tổ dân phố số {group[i]}" if urban else f"bản {ps.villages[village[i]]}"
        mid = f", {_lower_first(parent)}" if parent else ""
        address[i] = f"{first}, {_lower_first(cname)}{mid}, {province}"
    address[rng.random(M) >= ps.address_rate] = ""

    rtype = None
    if ps.type_var in pv and pv[ps.type_var].type == "category":
        rtype = np.array([c.code for c in pv[ps.type_var].categories], dtype=object)[profile_vals[ps.type_var]]
    rate = np.array([ps.email_rate.get(t, 0.1) for t in rtype]) if rtype is not None else np.full(M, 0.1)
    has_mail = rng.random(M) < rate
    dom = rng.integers(0, len(ps.email_domains), M)
    num = rng.integers(1, 1000, M)
    email = np.full(M, "", dtype=object)
    for i in np.flatnonzero(has_mail):
        local = slug(f"{given[i]} {family[i]}").replace("-", "") + str(num[i])
        email[i] = f"{local}@{ps.email_domains[dom[i]]}"
    return {"full_name": names, "phone": phone, "id_number": cccd, "address": address, "email": email}
