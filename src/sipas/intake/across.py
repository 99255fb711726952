"""The rules across rows: duplicate questionnaire ids, and the quality flags that
compare rows (straight-lining, identical vectors of one interviewer)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from .cells import gather
from .mapping import CRITERION, EXPECTATION, PERCEPTION, PROFILE, Codebook
from .rules import IntakeRules
from .validate import Problem, Record

# ------------------------------------------------------------------ across rows


def content_key(rec: Record, cb: Codebook) -> tuple:
    skip = {"respondent_id"}
    return tuple((k, str(v)) for k, v in rec.values.items() if not k.startswith("_") and k not in skip)


def check_duplicates(records: list[Record], cb: Codebook, rules: IntakeRules) -> None:
    if not records:
        return
    keys = [rid.casefold() if rid else None for rid in gather(records)["respondent_id"]]
    codes = pd.factorize(np.array(keys, dtype=object))[0]            # no id: -1
    seen = np.bincount(codes[codes >= 0], minlength=1)
    groups: dict[str, list[Record]] = defaultdict(list)
    for i in np.flatnonzero((codes >= 0) & (seen[codes] > 1)).tolist():   # ids used twice, in row order
        groups[keys[i]].append(records[i])
    for rid, recs in groups.items():
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
    """Straight-lining and identical answer vectors of one interviewer, computed a column
    at a time (a matrix of the records' criterion codes), not record by record."""
    n = len(records)
    if not n:
        return
    crit = cb.ids(CRITERION)
    cols = gather(records)
    codes = cols.matrix("_criteria")                                   # blank: nan
    valid = np.stack([np.isin(codes[k], sorted(cb.code_sets[c][0])) for k, c in enumerate(crit)]) \
        if crit else np.zeros((0, n), dtype=bool)
    n_valid = valid.sum(axis=0)
    mode = np.zeros(n, dtype=np.int64)        # how often the commonest valid code occurs
    for v in sorted(set().union(*(cb.code_sets[c][0] for c in crit))):
        np.maximum(mode, ((codes == v) & valid).sum(axis=0), out=mode)
    straight = (n_valid >= max(rules.straight_line_min_answers, 1)) & (mode == n_valid)
    for i in np.flatnonzero(straight):
        records[i].flags.append("straight_line")
    dup = np.flatnonzero(n_valid - mode >= rules.duplicate_min_off_mode)
    if not len(dup):
        return
    # the row's key: interviewer, every criterion's code (and profile, expectations, perceptions)
    key = {"interviewer": pd.factorize(np.array(cols["interviewer"], dtype=object)[dup], use_na_sentinel=False)[0]}
    key.update((f"c{k}", np.where(np.isnan(codes[k, dup]), -1.0, codes[k, dup])) for k in range(len(crit)))
    if rules.duplicate_vector_with_profile:
        for c in (c for kind in (PROFILE, EXPECTATION, PERCEPTION) for c in cb.ids(kind)):
            values = np.array(cols[c] if c in cols else [None] * n, dtype=object)[dup]
            key[c] = pd.factorize(values, use_na_sentinel=False)[0]
    for i in dup[pd.DataFrame(key).duplicated(keep=False).to_numpy()]:
        records[i].flags.append("interviewer_duplicate")
