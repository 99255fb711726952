"""Bad records injected on purpose into the demo survey (the intake must catch them):
spare respondents that become extra rows (conflicting ids, unknown units), spoiled
sampled rows (out-of-range codes, dates outside the period, nearly empty
questionnaires, invalid profile values, straight-lining groups), exact duplicates,
markup comments, NFD-normalised rows and answers written as labels."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sipas.demo.answers import BLANK
from sipas.demo.text import _norm_key, slug, strip_accents


def spares(rng, bad_records, U: int) -> tuple[list[tuple[str, int]], np.ndarray]:
    """(kind, unit index) of the fresh respondents that become extra (bad) rows, and
    their number per unit."""
    kinds: list[tuple[str, int]] = []
    for _ in range(bad_records.duplicate_id_conflict):
        kinds.append(("duplicate_id_conflict", int(rng.integers(U))))
    for _ in range(bad_records.unknown_unit):
        kinds.append(("unknown_unit", int(rng.integers(U))))
    per_unit = np.bincount([u for _, u in kinds], minlength=U) if kinds else np.zeros(U, int)
    return kinds, per_unit


@dataclass
class Injected:
    """What was spoiled or added, by source row index (before the final order)."""

    key_records: list = field(default_factory=list)
    date_override: dict = field(default_factory=dict)
    profile_override: dict = field(default_factory=dict)
    dup_exact_src: list = field(default_factory=list)
    spare_iter: dict = field(default_factory=dict)
    conflict_src: dict = field(default_factory=dict)
    unknown_name: dict = field(default_factory=dict)
    markup_rows: list = field(default_factory=list)
    nfd: list = field(default_factory=list)
    label_cells: list = field(default_factory=list)


def inject(rng, spec, methodology, registry, criteria, scales, answers, valid, expect, comment, rid,
           unit_idx, interviewer, interviewer_codes, spare_flag, spare_kinds) -> Injected:
    """Spoil and add rows as ``spec.bad_records`` asks; ``answers``, ``expect``,
    ``comment`` and ``rid`` are changed in place."""
    br, cs, nr = spec.bad_records, spec.comments, spec.nonresponse
    period, year = registry.survey_period, registry.year
    M, C = answers.shape
    out = Injected()
    key_records = out.key_records
    protected = spare_flag.copy()                # rows not to be spoiled again
    pool = rng.permutation(np.flatnonzero(~spare_flag))

    def take(cond=None) -> int:
        """The next unprotected row of a fixed random order that meets ``cond``."""
        for i in pool:
            if not protected[i] and (cond is None or cond(i)):
                protected[i] = True
                return int(i)
        raise RuntimeError("demo generator ran out of rows for bad records")

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
        out.date_override[i] = d.strftime("%d/%m/%Y")
        key_records.append(dict(kind="date_outside_period", index=i, column="interview_date",
                                value=out.date_override[i]))
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
        out.profile_override[(i, var.id)] = bad[k % len(bad)]
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
    out.dup_exact_src = [take() for _ in range(br.duplicate_id_exact)]
    spare_rows = list(np.flatnonzero(spare_flag))
    out.spare_iter = spare_iter = {kind: [] for kind in ("duplicate_id_conflict", "unknown_unit")}
    used = set()
    for kind, ui in spare_kinds:
        i = next(int(s) for s in spare_rows if unit_idx[s] == ui and s not in used)
        used.add(i)
        spare_iter[kind].append(i)
    for i in spare_iter["duplicate_id_conflict"]:
        src = take(lambda s, ui=unit_idx[i]: unit_idx[s] == ui)
        out.conflict_src[i] = src
        rid[i] = rid[src]
    for k, i in enumerate(spare_iter["unknown_unit"]):
        name = br.unknown_unit_names[k % len(br.unknown_unit_names)]
        out.unknown_name[i] = name
        rid[i] = spec.respondent_id.format(year=year, unit=slug(name).upper(), seq=k + 1)

    # markup comments and NFD rows: on rows not otherwise touched
    if cs.markup:
        n_mk = int(rng.integers(cs.markup.count[0], cs.markup.count[1] + 1))
        texts = rng.permutation(len(cs.markup.texts))
        for k in range(n_mk):
            i = take()
            comment[i] = cs.markup.texts[texts[k % len(texts)]]
            out.markup_rows.append(i)
    out.nfd = sorted(take() for _ in range(spec.nfd_rows))

    # answers written as labels
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
        out.label_cells.append((int(i), int(j), options[int(rng.integers(len(options)))]))
    return out
