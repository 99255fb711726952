"""The demo survey as a raw file: text columns in the fields' and methodology's order,
the injected values written over them, the final row order and the key of bad records."""

from __future__ import annotations

import unicodedata

import numpy as np

GENERATOR_VERSION = 1


def text_rows(rng, spec, fields, methodology, units, smp, rid, personal, profile_vals, answers, expect,
              comment, inj) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text cells) in source order (before :func:`final_order`)."""
    criteria, perceptions = methodology.items, list(methodology.perceptions)
    exp_items = list(methodology.expectations.items) if methodology.expectations else []
    M, X = len(rid), len(exp_items)
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
    commune_names = np.array([c for _, c in smp.communes] + [""], dtype=object)
    day_str = np.array([str(d)[8:10] + "/" + str(d)[5:7] + "/" + str(d)[:4] for d in smp.days], dtype=object)
    admin_values = {
        "respondent_id": rid,
        "unit_id": unit_names[smp.unit_idx],
        "commune": commune_names[smp.commune_idx],          # -1 -> ""
        "interviewer": np.array(smp.interviewer_codes, dtype=object)[smp.interviewer],
        "interview_date": day_str[smp.date_idx],
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

    for i, d in inj.date_override.items():
        cols[col_of["interview_date"]][i] = d
    for (i, vid), val in inj.profile_override.items():
        cols[col_of[vid]][i] = val
    for i, j, text in inj.label_cells:
        cols[col_of[criteria[j].id]][i] = text
    for i, name in inj.unknown_name.items():
        cols[col_of["unit_id"]][i] = name
        if "commune" in col_of:
            cols[col_of["commune"]][i] = ""

    rows = [list(r) for r in zip(*cols)]
    for i in inj.nfd:
        rows[i] = [unicodedata.normalize("NFD", x) for x in rows[i]]
    return header, rows


def final_order(units, unit_idx, spare_flag, inj) -> list[tuple[int, str]]:
    """(source index, role): units in registry order; within a unit the sampled rows,
    then conflicting-id rows, then exact duplicates; unknown units at the end."""
    final: list[tuple[int, str]] = []
    for ui in range(len(units)):
        block = np.flatnonzero(unit_idx == ui)
        final.extend((int(i), "sample") for i in block if not spare_flag[i])
        final.extend((i, "duplicate_id_conflict") for i in inj.spare_iter["duplicate_id_conflict"] if unit_idx[i] == ui)
        final.extend((i, "duplicate_id_exact") for i in inj.dup_exact_src if unit_idx[i] == ui)
    final.extend((i, "unknown_unit") for i in inj.spare_iter["unknown_unit"])
    return final


def key_of(final, inj, rid, units, unit_idx, spare_flag, answers, valid, *, year, seed, methodology, targets,
           level, n_rows) -> dict:
    """The key of the demo file: every bad record with its file row, counts, notes."""
    row_of = {}
    for pos, (i, role) in enumerate(final):
        if role == "sample":
            row_of[i] = pos + 2      # file line: the header is line 1
    criteria = methodology.items
    records = []
    for rec in inj.key_records:
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
            src = inj.conflict_src[i]
            records.append(dict(kind="duplicate_id", respondent_id=rid[i], row=pos + 2, unit_id=units[unit_idx[i]].id,
                                extra=True, column="respondent_id", first_row=row_of[src],
                                value=f"different questionnaire with the id of row {row_of[src]}"))
        elif role == "unknown_unit":
            records.append(dict(kind="unknown_unit", respondent_id=rid[i], row=pos + 2, unit_id=None,
                                extra=True, column="unit_id", value=inj.unknown_name[i]))
    records.sort(key=lambda r: (r["row"], r["kind"]))
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec["kind"]] = counts.get(rec["kind"], 0) + 1
    extra_per_unit = {u.id: 0 for u in units}
    for rec in records:
        if rec["extra"] and rec["unit_id"]:
            extra_per_unit[rec["unit_id"]] += 1

    M = len(rid)
    constant = valid.sum(1) >= 2
    constant &= np.array([len(set(answers[i, valid[i]])) == 1 if constant[i] else False for i in range(M)])

    return {
        "generator": f"sipas.demo v{GENERATOR_VERSION}",
        "year": year,
        "seed": seed,
        "methodology": methodology.id,
        "rows": n_rows,
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
        "nfd_rows": sorted(row_of[i] for i in inj.nfd),
        "markup_comment_rows": sorted(row_of[i] for i in inj.markup_rows),
        "label_answers": [dict(row=row_of[i], column=criteria[j].id, value=t) for i, j, t in
                          sorted(inj.label_cells)],
        "notes": {
            # respondents who, by chance, gave the same answer to every criterion they
            # answered (not injected; intake may flag them)
            "constant_answer_vectors": int((constant & ~spare_flag).sum()),
            "levels": {u.id: round(float(level[ui]), 4) for ui, u in enumerate(units)},
        },
    }
