"""What a file says about its fieldwork, decided once per file: the collection mode
(paper, tablet, online, phone), the day/month order of its dates, and questionnaire
numbers that restart on every sheet."""

from __future__ import annotations

import fnmatch
from collections import defaultdict

from .csvcolumns import column_of
from .dates import decide_order
from .readers import IntakeError

MODES = ("paper", "tablet", "online", "phone")
_BY_CHANNEL = {"kobo": "tablet", "forms": "online", "table": "paper", "spss": "paper"}


def reg_path(cfg):
    return cfg.paths.params / "units" / f"{cfg.year}.yaml"


def collection_mode(path, tables, rules) -> str:
    """``collection_modes`` in params/intake.yaml (file-name pattern -> mode) first, then
    the channel: a KoboToolbox/ODK export is tablet, a Google/Microsoft Forms export online,
    anything else paper (typed in from paper questionnaires)."""
    for pattern, mode in (rules.collection_modes or {}).items():
        if fnmatch.fnmatch(path.name.casefold(), pattern.casefold()):
            return mode
    kinds = {t.kind for t in tables}
    for k in ("kobo", "forms"):
        if k in kinds:
            return _BY_CHANNEL[k]
    return "paper"


def date_order(path, maps, cfg, rules, notes: list[str]) -> str:
    """The file's day/month order (see :mod:`.dates`); sets it on each table map."""
    values = []
    for tm in maps:
        j = tm.columns.get("interview_date")
        if j is None:
            continue
        values += column_of(tm.table.rows, j)
    values = list(dict.fromkeys(values))     # each distinct cell once, in file order
    try:
        order, why = decide_order(values, cfg.registry.survey_period, rules.date_order)
    except ValueError as exc:
        raise IntakeError(f"the interview dates mix two orders: {exc}", file=path, column="interview_date",
                          hint="use one date format in the file (dd/mm/yyyy), e.g. with Format Cells > Date") from None
    if why:
        notes.append(why)
    if any(isinstance(v, str) and v.strip().isdigit() and len(v.strip()) == 5 for v in values):
        notes.append("interview dates given as Excel serial numbers (e.g. 45170) read as dates")
    for tm in maps:
        tm.date_order = order
    return order


def qualify_sheet_numbers(records) -> str | None:
    """Questionnaires numbered from 1 on every sheet of a workbook: when ids repeat across
    sheets but never within one, each id becomes ``<unit id>-<id>`` (unique in the year).
    Returns the note for the summary, or None when nothing was changed."""
    by_sheet: dict[str | None, list] = defaultdict(list)
    for r in records:
        by_sheet[r.sheet].append(r)
    if len(by_sheet) < 2:
        return None
    seen: dict[str, str | None] = {}
    collide = False
    for sheet, recs in by_sheet.items():
        ids = [str(r.values.get("respondent_id")).casefold() for r in recs if r.values.get("respondent_id")]
        if len(ids) != len(set(ids)):
            return None                      # repeats within a sheet: genuine duplicates
        for i in ids:
            if i in seen and seen[i] != sheet:
                collide = True
            seen[i] = sheet
    if not collide:
        return None
    for r in records:
        rid, uid = r.values.get("respondent_id"), r.values.get("unit_id")
        if rid:
            r.values["respondent_id"] = f"{uid or r.sheet}-{rid}"
            r.flags.append("id_qualified")
    return ("questionnaire numbers restart on every sheet: ids made unique as '<unit id>-<number>' / "
            "mã phiếu đánh lại từ 1 ở mỗi trang tính, đã ghép với mã đơn vị")


def response_rates(cfg, per_unit: dict) -> dict[str, float | None]:
    """Accepted questionnaires / forms sent, per unit, where the registry gives ``sent``."""
    out = {}
    for u in cfg.units:
        sent = getattr(u, "sent", None)
        b = per_unit.get(u.id)
        out[u.id] = round(b["accepted"] / sent, 4) if sent and b else None
    return out
