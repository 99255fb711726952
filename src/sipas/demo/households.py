"""The household draw of the 2023–2026 method for the demo (``design.households`` in
the registry, :mod:`sipas.base.designs`): for each unit of the listed types, villages
(thôn, bản) by simple random sampling, households by simple random sampling in each
drawn village, one adult per household, with household non-response. The answers are
those of the generated respondents (the latent model has a commune effect, no village
effect); this module only records where each respondent was drawn, in the sampling
frame file (one row per interviewed adult). It draws from generators seeded from
``(seed, unit id)``: the survey file itself does not change."""

from __future__ import annotations

import numpy as np

from sipas.base.designs import FRAME_COLUMNS
from sipas.demo.text import _stable_rng

FRAME_HEADER = ["respondent_id", "unit_id", *FRAME_COLUMNS]
RESPONDENTS_PER_VILLAGE = 12
NONRESPONSE_RATE = 0.15       # of drawn households, per village (binomial)


def household_frame(seed: int, units: list, unit_types: list[str], rid: np.ndarray, unit_idx: np.ndarray,
                    sampled: np.ndarray) -> list[list[str]]:
    """Rows of the frame file (text cells, :data:`FRAME_HEADER`) for the sampled rows of
    the units of ``unit_types``, in unit then respondent order."""
    out = []
    for ui, u in enumerate(units):
        if u.type not in unit_types:
            continue
        rows = np.flatnonzero((unit_idx == ui) & sampled)
        n = len(rows)
        if not n:
            continue
        g = _stable_rng(seed, "households", u.id)
        v = max(2, round(n / RESPONDENTS_PER_VILLAGE))
        V = int(g.integers(max(v + 3, 10), 31))
        numbers = np.sort(g.choice(V, v, replace=False)) + 1
        village_of = np.arange(n) % v
        village_of = village_of[g.permutation(n)]
        for k in range(v):
            members = rows[village_of == k]
            r = len(members)
            drawn = r + int(g.binomial(r, NONRESPONSE_RATE))
            H = int(g.integers(max(drawn + 20, 60), 260))
            households = np.sort(g.choice(H, drawn, replace=False)[:r]) + 1
            adults = np.clip(1 + g.poisson(1.7, r), 1, 6)
            village = f"{u.id}/thon-{numbers[k]:02d}"
            for i, h, a in zip(members, households, adults):
                out.append([str(rid[i]), u.id, village, str(V), str(v), str(H), str(drawn),
                            f"{village}/ho-{h:03d}", str(a)])
    order = {u.id: k for k, u in enumerate(units)}
    out.sort(key=lambda r: (order[r[1]], r[0]))
    return out
