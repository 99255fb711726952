"""Tablet and online channels: KoboToolbox / ODK exports and Google / Microsoft Forms
CSV exports, turned into ordinary tables before the column mapping.

* **XLSForm** (:func:`xlsform_bytes`): the methodology's questionnaire as an XLSForm
  (``survey``, ``choices``, ``settings`` sheets) whose question *names* are the codebook
  ids, so a KoboToolbox/ODK export maps back without any header work. Criteria are
  grouped (``grp_c1/c1_1`` in exports with group names), answers are the codes (XML
  values) with the scale labels as choice labels; a multiple-choice expectation question
  is a ``select_multiple``.
* **KoboToolbox / ODK exports** (:func:`adapt`): group-prefixed headers (``grp_c1/C1_1``)
  are matched on their last part (:meth:`Codebook.match_header`); ``select_multiple`` as
  one space-separated column (``exp_1 exp_3``) is split into one 0/1 column per choice
  (the other export form, ``expectations/exp_1`` 0/1 columns, maps directly);
  ``_uuid`` / ``_index`` give the questionnaire id, ``_submission_time`` / ``today`` /
  ``start`` the date and ``_submitted_by`` / ``username`` / ``deviceid`` the interviewer
  when the form has no such question. XML values (codes) and labels are both accepted.
* **Google Forms / Microsoft Forms** (:func:`adapt`): a ``Timestamp`` / ``Dấu thời gian``
  / ``Start time`` column, the question text as header (the codebook labels), answers as
  labels. The id is ``<file name>-<row>`` unless the export has one (MS Forms ``ID``),
  the interviewer is ``online``, the date the timestamp's.
"""

from __future__ import annotations

from .csvcolumns import row_lists
from .normalize import header_key, is_blank

KOBO_META = {"_uuid", "_submission_time", "_index", "_id", "_submitted_by", "meta_instanceid", "instanceid",
             "deviceid", "start", "end", "today", "username", "_validation_status", "_status"}
FORMS_TIME = {"timestamp", "dau_thoi_gian", "start_time", "thoi_gian_bat_dau", "completion_time",
              "thoi_gian_hoan_thanh", "dấu_thời_gian"}
MULTI_NAME = "expectations"


def _keys(headers) -> list[str]:
    return [header_key(str(h).rsplit("/", 1)[-1]) if not is_blank(h) else "" for h in headers]


def adapt(table, cb) -> None:
    """Detect the channel of a table and complete it in place (see the module doc)."""
    raw_keys = [("_" if str(h).strip().startswith("_") else "") + k for h, k in zip(table.headers, _keys(table.headers))]
    keys = set(raw_keys)
    if keys & {"_uuid", "_submission_time", "_index"}:
        table.kind = "kobo"
    elif keys & FORMS_TIME and table.sheet is None:
        table.kind = "forms"
    else:
        return
    row_lists(table)
    have = {cb.match_header(h) for h in table.headers} - {None}

    def col(*names):
        for n in names:
            if n in raw_keys:
                return raw_keys.index(n)
        return None

    add: list[tuple[str, list]] = []
    if table.kind == "kobo":
        _split_multiple(table, cb, raw_keys, add)
        sources = {"respondent_id": col("_uuid", "meta_instanceid", "instanceid", "_index", "_id"),
                   "interview_date": col("today", "_submission_time", "start", "end"),
                   "interviewer": col("_submitted_by", "username", "deviceid")}
        fallback = {"interviewer": "tablet"}
    else:
        t = col(*FORMS_TIME)
        sources = {"interview_date": t, "respondent_id": None, "interviewer": None}
        fallback = {"interviewer": "online"}
    filled = []
    for cid, j in sources.items():
        if cid in have:
            jc = next(k for k, h in enumerate(table.headers) if cb.match_header(h) == cid)
            blank = [r for r in table.rows if jc >= len(r) or is_blank(r[jc])]
            if j is not None and blank:          # a question left empty: the export's own column
                for r in blank:
                    r.extend([None] * (jc + 1 - len(r)))
                    r[jc] = _date_part(r[j]) if cid == "interview_date" else r[j]
                filled.append(f"{len(blank)} blank '{table.headers[jc]}' cells from '{table.headers[j]}'")
            continue
        if j is not None:
            vals = [_date_part(r[j]) if cid == "interview_date" and j < len(r) else (r[j] if j < len(r) else None)
                    for r in table.rows]
        elif cid == "respondent_id":
            vals = [f"{table.file.stem}-{n}" for n in table.row_numbers]
        else:
            vals = [fallback.get(cid)] * len(table.rows)
        add.append((cb.column(cid).label, vals))
    width = len(table.headers)
    for name, vals in add:
        table.headers.append(name)
        for r, v in zip(table.rows, vals):
            r.extend([None] * (width - len(r)))
            r.append(v)
        width += 1
    table.notes.append({"kobo": "KoboToolbox/ODK export", "forms": "Google/Microsoft Forms export"}[table.kind]
                       + (": " + ", ".join(f"'{n}' taken from the export's own columns" for n, _ in add)
                          if add else "") + ("; " + "; ".join(filled) if filled else ""))


def _date_part(v):
    """``2023-08-15T10:22:33.000+07:00`` / ``2023/08/15 10:22:33 SA GMT+7`` -> the date text."""
    if not isinstance(v, str):
        return v
    s = v.strip().split("T")[0].split(" ")[0]
    return s.replace("/", "-") if s[:4].isdigit() else s


def _split_multiple(table, cb, keys, add) -> None:
    """A select_multiple column of space-separated choice names -> one column per item."""
    exp = cb.cfg.methodology.expectations
    if not exp or exp.rated:
        return
    items = [it.id for it in exp.items]
    for j, k in enumerate(keys):
        if k != MULTI_NAME:
            continue
        chosen = [set(str(r[j]).split()) if j < len(r) and not is_blank(r[j]) else set() for r in table.rows]
        have = {cb.match_header(h) for h in table.headers}
        for it in items:
            if it not in have:
                add.append((it.upper(), ["1" if it in c else "0" for c in chosen]))


# ------------------------------------------------------------------- XLSForm


def xlsform_bytes(method, fields, units=None) -> bytes:
    """An XLSForm (.xlsx) of ``method`` (a :class:`Methodology`), names = codebook ids."""
    import openpyxl

    from .output import deterministic_xlsx

    wb = openpyxl.Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label", "required", "constraint", "appearance"])
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([method.title, method.id.replace("-", "_"), "1", "Vietnamese (vi)"])

    by_id = {v.id: v for v in fields.admin}
    survey.append(["begin_group", "grp_admin", "Thông tin chung", "", "", "field-list"])
    survey.append(["text", "respondent_id", by_id["respondent_id"].label, "yes", "", ""])
    if units:
        survey.append(["select_one units", "unit_id", "Đơn vị", "yes", "", "minimal"])
        for u in units:
            choices.append(["units", u.id, u.name])
    else:
        survey.append(["text", "unit_id", "Đơn vị", "yes", "", ""])
    survey.append(["text", "commune", by_id["commune"].label, "", "", ""])
    survey.append(["text", "interviewer", by_id["interviewer"].label, "yes", "", ""])
    survey.append(["date", "interview_date", by_id["interview_date"].label, "yes", "", ""])
    survey.append(["end_group", "", "", "", "", ""])

    def variable(v):
        if v.type == "category":
            survey.append([f"select_one {v.id}", v.id, v.label, "", "", ""])
            for c in v.categories:
                choices.append([v.id, c.code, c.label])
        elif v.type == "integer":
            cons = " and ".join(x for x in (f". >= {v.min}" if v.min is not None else "",
                                            f". <= {v.max}" if v.max is not None else "") if x)
            survey.append(["integer", v.id, v.label, "", cons, ""])
        else:
            survey.append(["text", v.id, v.label, "", "", ""])

    survey.append(["begin_group", "grp_profile", "Thông tin người trả lời", "", "", ""])
    for v in method.profile:
        variable(v)
    survey.append(["end_group", "", "", "", "", ""])
    for sid, scale in method.scales.items():
        for c in (*scale.values, *scale.missing):
            choices.append([f"scale_{sid}", c.code, c.label])
    scale_id = {id(s): k for k, s in method.scales.items()}
    group = None
    for c in method.items:
        g = c.id.split("_")[0]
        if g != group:
            if group:
                survey.append(["end_group", "", "", "", "", ""])
            survey.append(["begin_group", f"grp_{g}", method.element_of(c.id).label, "", "", ""])
            group = g
        survey.append([f"select_one scale_{scale_id[id(method.scale_of(c))]}", c.id, c.label, "yes", "", ""])
    if group:
        survey.append(["end_group", "", "", "", "", ""])
    for v in method.perceptions:
        variable(v)
    exp = method.expectations
    if exp and exp.rated:
        for c in exp.categories:
            choices.append(["expectation_scale", c.code, c.label])
        for it in exp.items:
            survey.append(["select_one expectation_scale", it.id, it.label, "", "", ""])
    elif exp:
        survey.append([f"select_multiple {MULTI_NAME}", MULTI_NAME, exp.label, "", "", ""])
        for it in exp.items:
            choices.append([MULTI_NAME, it.id, it.label])
    if method.comment:
        survey.append(["text", method.comment.id, method.comment.label, "", "", "multiline"])
    return deterministic_xlsx(wb)

