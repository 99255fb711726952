"""The rules across rows: duplicate questionnaire ids, and the quality flags that
compare rows (straight-lining, identical vectors of one interviewer)."""

from __future__ import annotations

from collections import defaultdict

from .mapping import CRITERION, EXPECTATION, PERCEPTION, PROFILE, Codebook
from .rules import IntakeRules
from .validate import Problem, Record

# ------------------------------------------------------------------ across rows


def content_key(rec: Record, cb: Codebook) -> tuple:
    skip = {"respondent_id"}
    return tuple((k, str(v)) for k, v in rec.values.items() if not k.startswith("_") and k not in skip)


def check_duplicates(records: list[Record], cb: Codebook, rules: IntakeRules) -> None:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        rid = r.values.get("respondent_id")
        if rid:
            groups[rid.casefold()].append(r)
    for rid, recs in groups.items():
        if len(recs) < 2:
            continue
        first = recs[0]
        identical = all(content_key(r, cb) == content_key(first, cb) for r in recs[1:])
        if identical or rules.duplicate_ids == "keep_first":
            for r in recs[1:]:
                how = "identical copy of" if content_key(r, cb) == content_key(first, cb) else \
                    "different answers; id already used by"
                r.problems.append(Problem("duplicate_id", _col_name_id(r), r.values["respondent_id"],
                                          f"{how} {first.origin} row {first.row} (kept)"))
        else:
            for r in recs:
                others = ", ".join(f"{o.origin} row {o.row}" for o in recs if o is not r)
                r.problems.append(Problem("duplicate_id", _col_name_id(r), r.values["respondent_id"],
                                          f"same id, different answers: {others}"))


def _col_name_id(r: Record) -> str:
    return r.values.get("_id_header") or "respondent_id"


def add_flags(records: list[Record], cb: Codebook, rules: IntakeRules) -> None:
    crit = cb.ids(CRITERION)
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        cols, i = r.values.cols, r.values.i
        answers = [cols[c][i] for c in crit]
        valid = [a for a, c in zip(answers, crit) if a in cb.code_sets[c][0]]
        if len(valid) >= rules.straight_line_min_answers and len(set(valid)) == 1:
            r.flags.append("straight_line")
        off_mode = len(valid) - max(map(valid.count, set(valid))) if valid else 0
        if off_mode >= rules.duplicate_min_off_mode:
            key = (r.values.get("interviewer"), tuple(answers))
            if rules.duplicate_vector_with_profile:
                key += tuple(tuple(r.values.get(c) for c in cb.ids(kind))
                             for kind in (PROFILE, EXPECTATION, PERCEPTION))
            groups[key].append(r)
    for recs in groups.values():
        if len(recs) > 1:
            for r in recs:
                r.flags.append("interviewer_duplicate")
