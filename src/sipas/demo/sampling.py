"""Who is surveyed in the demo: each unit's respondents, their communes, interviewers
and interview dates, following the year's ``design:`` block (issue 13).

A unit whose PSU is the commune (``design.psu``: ``commune``) is a cluster sample: a
few communes, then people served in them, each commune visited on a few consecutive
days. Otherwise (the 2017–2020 method: a stratified simple random sample of completed
dossiers) every respondent is drawn independently; the commune is their address.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sipas.base.codebook import YearRegistry
from sipas.demo.spec import DemoSpec


@dataclass
class Sample:
    """Rows in questionnaire order (unit, date, commune, interviewer)."""

    days: np.ndarray
    communes: list            # (unit index, commune name), all units' communes
    interviewer_codes: list
    unit_idx: np.ndarray
    commune_idx: np.ndarray   # into ``communes``; -1 for no commune
    interviewer: np.ndarray
    date_idx: np.ndarray
    spare_flag: np.ndarray


def draw_sample(rng: np.random.Generator, registry: YearRegistry, spec: DemoSpec, units: list,
                m_u: np.ndarray, spares_u: np.ndarray) -> Sample:
    """Draw ``m_u[i]`` respondents of unit i (the last ``spares_u[i]``, at random
    positions, become bad rows later)."""
    period = registry.survey_period
    days = np.arange(np.datetime64(period.start), np.datetime64(period.end) + 1)
    if spec.sampling.weekdays_only:
        wd = days[np.is_busday(days)]
        days = wd if len(wd) else days
    communes: list[tuple[int, str]] = []       # global commune list: (unit index, name)
    commune_base = {}
    for ui, u in enumerate(units):
        commune_base[ui] = len(communes)
        communes.extend((ui, c) for c in u.communes)
    sp = spec.sampling
    unit_idx, commune_idx, interviewer, date_idx, spare_flag = [], [], [], [], []
    interviewer_codes: list[str] = []
    for ui, u in enumerate(units):
        m = int(m_u[ui])
        n_int = int(rng.integers(sp.interviewers_per_unit[0], sp.interviewers_per_unit[1] + 1))
        pool = np.arange(len(interviewer_codes), len(interviewer_codes) + n_int)
        interviewer_codes.extend(sp.interviewer_format.format(n=len(interviewer_codes) + j + 1) for j in range(n_int))
        if registry.design.psu.get(u.type) == "commune" and u.communes:
            nc = len(u.communes)
            k = int(min(nc, rng.integers(sp.psu_per_unit[0], sp.psu_per_unit[1] + 1)))
            if sp.include_first_commune:
                chosen = np.concatenate([[0], 1 + rng.choice(nc - 1, size=k - 1, replace=False)]) if k > 1 else np.array([0])
            else:
                chosen = rng.choice(nc, size=k, replace=False)
            chosen = np.sort(chosen)
            share = rng.dirichlet(np.full(k, sp.cluster_concentration))
            sizes = rng.multinomial(m - 2 * k, share) + 2
            psu = np.repeat(np.arange(k), sizes)
            c_idx = commune_base[ui] + chosen[psu]
            ivw = pool[np.arange(k) % n_int][psu]
            # each PSU visited on a few consecutive (working) days
            n_days = rng.integers(sp.visit_days_per_psu[0], sp.visit_days_per_psu[1] + 1, size=k)
            start = rng.integers(0, np.maximum(1, len(days) - n_days + 1))
            d_idx = start[psu] + (rng.random(m) * n_days[psu]).astype(int)
        else:
            # a simple random sample of the unit's completed dossiers: each person's
            # commune (an address, not a PSU) is drawn independently
            c_idx = commune_base[ui] + rng.integers(0, len(u.communes), size=m) if u.communes else np.full(m, -1)
            ivw = pool[rng.integers(0, n_int, size=m)]
            d_idx = rng.integers(0, len(days), size=m)
        spare = np.zeros(m, bool)
        spare[m - spares_u[ui]:] = True
        # spares are drawn like everyone else; mark a random few of the unit's draws
        spare = rng.permutation(spare)
        unit_idx.append(np.full(m, ui))
        commune_idx.append(c_idx)
        interviewer.append(ivw)
        date_idx.append(np.minimum(d_idx, len(days) - 1))
        spare_flag.append(spare)
    unit_idx = np.concatenate(unit_idx)
    commune_idx = np.concatenate(commune_idx)
    interviewer = np.concatenate(interviewer)
    date_idx = np.concatenate(date_idx)
    spare_flag = np.concatenate(spare_flag)
    # order within unit: by date, commune, interviewer (as questionnaires come in)
    order = np.lexsort((interviewer, commune_idx, date_idx, unit_idx))
    unit_idx, commune_idx, interviewer, date_idx, spare_flag = (
        a[order] for a in (unit_idx, commune_idx, interviewer, date_idx, spare_flag))
    return Sample(days, communes, interviewer_codes, unit_idx, commune_idx, interviewer, date_idx, spare_flag)
