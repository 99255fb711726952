"""Respondents' profile answers, perception topics and personal data (names, phone,
CCCD number, address, e-mail) of the demo survey, drawn from ``params/demo.yaml``."""

from __future__ import annotations

import re

import numpy as np

from sipas.base.codebook import Variable
from sipas.demo.spec import DemoSpec, ProfileDist
from sipas.demo.text import _lower_first, slug


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
