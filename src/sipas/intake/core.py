"""``run_intake``: a year's raw files -> processed responses, quarantine, validation
report (and the data-quality annex)."""

from __future__ import annotations

import gc
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import attrgetter, not_
from pathlib import Path

import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths

from .across import add_flags, check_duplicates
from .cells import gather
from .channels import adapt
from .fieldwork import collection_mode, qualify_sheet_numbers
from .fieldwork import date_order as _date_order
from .mapping import CRITERION, Codebook
from .output import atomic_files, parquet_bytes, processed_frame, quarantine_rows, quarantine_xlsx
from .pii import mask_value
from .readers import IntakeError, read_file
from .rowmap import RowMapper
from .rules import FLAG, REASON, REASONS, IntakeRules, load_rules
from .schema import processed_schema
from .validate import Record, TableMap, header_score, map_table
from .xlsform import find_form

UNKNOWN_UNIT = "_unknown"
# validation.json lists at most this many quarantined and flagged rows (first in file
# order) beside the counts; the full list is the quarantine file (quarantine.xlsx).
LIST_LIMIT = 1000


@dataclass
class IntakeResult:
    """What an intake run read, accepted, quarantined and wrote."""

    year: int
    files: list[dict]                    # per file: rows_read, accepted, quarantined, flagged, sheets, notes
    units: list[dict]                    # per unit: target, rows_read, accepted, quarantined, flagged, weight
    rows_read: int
    accepted: int
    quarantined: int
    flagged: int
    reasons: dict[str, int]              # primary reason -> rows
    flags: dict[str, int]                # flag -> rows
    responses: pd.DataFrame              # the processed table (as written)
    quarantine: pd.DataFrame             # one row per quarantined row: origin, reason, raw values
    report: dict                         # the validation report (validation.json)
    written: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"SIPAS {self.year}: đọc {self.rows_read} phiếu, nhận {self.accepted}, "
                 f"cách ly {self.quarantined}, đánh dấu {self.flagged} / "
                 f"read {self.rows_read}, accepted {self.accepted}, quarantined {self.quarantined}, "
                 f"flagged {self.flagged}"]
        for f in self.files:
            lines.append(f"  {f['file']}: {f['rows_read']} read, {f['accepted']} accepted, "
                         f"{f['quarantined']} quarantined")
        if self.reasons:
            lines.append("  Lý do cách ly / quarantine reasons:")
            for code, n in self.reasons.items():
                lines.append(f"    {code:<20} {n:>5}  {REASON[code].vi} / {REASON[code].en}")
        if self.flags:
            lines.append("  Đánh dấu (vẫn dùng) / flags (rows kept):")
            for code, n in self.flags.items():
                lines.append(f"    {code:<20} {n:>5}  {FLAG[code].vi} / {FLAG[code].en}")
        short = [u for u in self.units if u["unit_id"] != UNKNOWN_UNIT and u["target"] is not None
                 and u["accepted"] < u["target"]]
        if short:
            lines.append(f"  {len(short)} đơn vị chưa đạt cỡ mẫu / units below their sample target: "
                         + ", ".join(f"{u['unit_id']} {u['accepted']}/{u['target']}" for u in short[:8])
                         + (" ..." if len(short) > 8 else ""))
        for w in self.warnings:
            lines.append(f"  ! {w}")
        for name, path in self.written.items():
            lines.append(f"  wrote {path}")
        return "\n".join(lines)


# ----------------------------------------------------------------------- inputs


def find_inputs(year: int, p: Paths, inputs: list | None) -> list[Path]:
    if inputs:
        files = [Path(i) for i in inputs]
        for f in files:
            if not f.exists():
                raise IntakeError("file not found", file=f, hint="check the path given with --input")
        return files
    folder = p.raw(year)
    if not folder.is_dir():
        raise IntakeError(f"no raw data folder for {year}", file=folder,
                          hint=f"put the field files there, or run `sipas demo-data --year {year}`")
    files = sorted(f for f in folder.iterdir()
                   if f.is_file() and not f.name.startswith(("_", ".", "~$"))
                   and f.suffix.lower() in (".csv", ".xlsx", ".xlsm", ".sav", ".xls"))
    if not files:
        raise IntakeError(f"no survey files (.csv, .xlsx, .sav) for {year}", file=folder,
                          hint=f"put the field files there, or run `sipas demo-data --year {year}`")
    return files


# ------------------------------------------------------------------------- run


def run_intake(year: int, inputs: list | None = None, **kw) -> IntakeResult:
    """Read, map and validate a year's raw files; write ``data/processed/<year>/``
    (``responses.parquet``, ``quarantine.xlsx``, ``validation.json``) and
    ``outputs/<year>/quality.html``. Files are written only when everything succeeded.
    ``xlsform``: the form of a KoboToolbox/ODK export (else one found among the inputs,
    :mod:`.xlsform`).

    Raises :class:`sipas.base.errors.SipasError` for a problem the analyst must fix.

    The cyclic garbage collector is paused meanwhile: the millions of cells and records
    hold no cycles, and its passes over them cost ~20% of the time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _run_intake(year, inputs, **kw)
    finally:
        if paused:
            gc.enable()


def _run_intake(year: int, inputs: list | None = None, *, root: str | Path | None = None,
                paths: Paths | None = None, write: bool = True, xlsform: str | Path | None = None) -> IntakeResult:
    """The body of :func:`run_intake`."""
    p = paths or default_paths(root)
    cfg = YearConfig(year, p)
    cb = Codebook.from_config(cfg)
    rules = load_rules(p.params)
    form, files = find_form(find_inputs(year, p, inputs), xlsform, cb)
    if not files:
        raise IntakeError("only an XLSForm, no survey data among the inputs", file=form.path,
                          hint="add the KoboToolbox/ODK export (csv or xlsx) next to the form")
    match = form.match(cb) if form else cb.match_header
    score = header_score(match)
    maps: list[TableMap] = []
    file_info: dict[str, dict] = {}
    warnings: list[str] = []
    seen_names: set[str] = set()
    if form:
        warnings.append(f"{form.path.name}: XLSForm used to map the export (not data)"
                        + (f"; questions naming no codebook column, ignored: {', '.join(form.unmatched)}"
                           if form.unmatched else ""))
    for f in files:
        if f.name in seen_names:
            raise IntakeError("two input files have the same name", file=f,
                              hint="rename one of them: the file name identifies a row's origin")
        seen_names.add(f.name)
        tables = read_file(f, score, match)
        for t in tables:
            if form and form.applies(t, cb):
                form.apply(t, cb)
            adapt(t, cb)
        info = {"file": f.name, "sheets": [], "notes": [], "mode": collection_mode(f, tables, rules)}
        usable, legend_errors, file_maps = 0, [], []
        for t in tables:
            info["notes"] += t.notes
            try:
                tm = map_table(t, cb)
            except IntakeError as exc:
                if t.sheet is None or "required column" not in exc.message:
                    raise
                legend_errors.append(exc)   # a legend / instructions sheet, unless no sheet is usable
                info["sheets"].append({"sheet": t.sheet, "used": False,
                                       "note": "not a data sheet (legend or instructions?): " + exc.message})
                continue
            if tm is None:
                info["sheets"].append({"sheet": t.sheet, "used": False,
                                       "note": "no survey header found; sheet skipped"})
                continue
            usable += 1
            file_maps.append(tm)
            if tm.unknown:
                info["notes"].append(("sheet '" + t.sheet + "': " if t.sheet else "")
                                     + "columns not in the codebook, ignored: " + ", ".join(tm.unknown))
            if len(tm.personal) > sum(cb.column(c).kind == "personal" for c in tm.columns):
                info["notes"].append(("sheet '" + t.sheet + "': " if t.sheet else "")
                                     + "personal columns removed: " + ", ".join(tm.personal))
            info["sheets"].append({"sheet": t.sheet, "used": True, "header_row": t.header_row,
                                   "ignored_columns": tm.unknown, "personal_columns_removed": tm.personal,
                                   "unit_from_sheet_name": tm.unit_from_sheet})
        if not usable and legend_errors:
            raise legend_errors[0]
        if not usable:
            what = "sheet" if f.suffix.lower() in (".xlsx", ".xlsm") else "header row"
            raise IntakeError(f"no {what} with survey data: no row names at least 3 questionnaire columns",
                              file=f, hint="the header row must use the codebook's names, e.g. 'Mã phiếu', "
                                           "'Đơn vị', 'Điều tra viên', 'Ngày phỏng vấn', 'C1_1' ... "
                                           "(params/fields.yaml, params/methodology/)")
        for info_sheet in info["sheets"]:
            if not info_sheet["used"] and "legend" in info_sheet.get("note", ""):
                info["notes"].append(f"sheet '{info_sheet['sheet']}' skipped: {info_sheet['note']}")
        info["date_order"] = _date_order(f, file_maps, cfg, rules, info["notes"])
        maps += file_maps
        for n in info["notes"]:
            warnings.append(f"{f.name}: {n}")
        file_info[f.name] = info

    if not any(tm.table.rows for tm in maps):
        raise IntakeError("no questionnaire rows: the header was found but every row below it is empty",
                          file=", ".join(f.name for f in files),
                          hint="check that the right file was exported (with its data rows)")
    mapper = RowMapper(cb, rules)
    records: list[Record] = [r for tm in maps for r in mapper.records(tm)]
    for name in file_info:
        if len({tm.table.sheet for tm in maps if tm.table.file.name == name}) < 2:
            continue                 # (ids can restart only on another sheet)
        note = qualify_sheet_numbers([r for r in records if r.file == name])
        if note:
            file_info[name]["notes"].append(note)
            warnings.append(f"{name}: {note}")
    check_duplicates(records, cb, rules)
    bad = list(map(bool, map(attrgetter("problems"), records)))
    accepted = list(compress(records, map(not_, bad)))
    rejected = list(compress(records, bad))
    for r, raw in zip(rejected, mapper.raw_rows(rejected)):
        r.raw = raw
    for tm in maps:          # the raw cells are no longer needed (memory)
        tm.table.rows = []
    add_flags(accepted, cb, rules)

    responses = processed_frame(accepted, cfg, cb)
    schema = processed_schema(cb)
    schema.validate(responses, lazy=True)  # a failure here is a bug, not a user error

    qrows = quarantine_rows(rejected, cb)
    for r in rejected:
        r.raw = None         # in qrows now (memory)
    quarantine = pd.DataFrame(qrows)
    report = _report(cfg, cb, rules, records, accepted, rejected, file_info, responses, warnings)
    result = IntakeResult(
        year=year, files=report["files"], units=report["units"],
        rows_read=report["totals"]["rows_read"], accepted=len(accepted), quarantined=len(rejected),
        flagged=report["totals"]["flagged"],
        reasons={k: v["rows"] for k, v in report["reasons"].items() if v["rows"]},
        flags={k: v["rows"] for k, v in report["flags"].items() if v["rows"]},
        responses=responses, quarantine=quarantine, report=report, warnings=warnings)
    if write:
        out = {
            "responses": p.responses(year),
            "quarantine": p.processed(year) / "quarantine.xlsx",
            "validation": p.processed(year) / "validation.json",
            "quality": p.outputs(year) / "quality.html",
        }
        blobs = {
            "responses": parquet_bytes(responses, cb),
            "quarantine": quarantine_xlsx(qrows, cb),
            "validation": (json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8"),
        }
        import importlib.util

        if importlib.util.find_spec("sipas.intake.report"):
            from .report import quality_html

            blobs["quality"] = quality_html(report, cfg).encode("utf-8")
        with atomic_files() as pending:
            for k, data in blobs.items():
                pending.append((out[k], data))
        result.written = {k: out[k] for k in blobs}
    return result


def _report(cfg, cb, rules: IntakeRules, records, accepted, rejected, file_info, responses, warnings) -> dict:
    def blank():
        return {"rows_read": 0, "accepted": 0, "quarantined": 0, "flagged": 0, "reasons": Counter()}

    per_file: dict[str, dict] = defaultdict(blank)
    per_unit: dict[str, dict] = defaultdict(blank)
    primaries = [r.primary for r in rejected]
    primary_of = {id(r): p for r, p in zip(rejected, primaries)}
    cols = gather(records)
    kinds = Counter(zip(cols.per_table(attrgetter("file")), cols["unit_id"] if records else [],
                        map(primary_of.get, map(id, records)), map(bool, map(attrgetter("flags"), records))))
    for (file, uid, why, flagged), n in kinds.items():      # a few hundred kinds of rows
        for bucket in (per_file[file], per_unit[uid or UNKNOWN_UNIT]):
            bucket["rows_read"] += n
            if why is None:
                bucket["accepted"] += n
                bucket["flagged"] += n * flagged
            else:
                bucket["quarantined"] += n
                bucket["reasons"][why] += n
    for name, b in (*per_file.items(), *per_unit.items()):
        if b["accepted"] + b["quarantined"] != b["rows_read"]:  # pragma: no cover - guards a bug
            raise AssertionError(f"{name}: accepted + quarantined != rows read")
    assert len(accepted) + len(rejected) == len(records)

    unit_modes: dict[str, set] = defaultdict(set)
    for file, uid, _, _ in kinds:
        if uid:
            unit_modes[uid].add(file_info.get(file, {}).get("mode", "paper"))
    files = []
    for name, info in file_info.items():
        b = per_file.get(name, blank())
        files.append({**info, **{k: v for k, v in b.items() if k != "reasons"},
                      "reasons": dict(sorted(b["reasons"].items()))})
    targets = cfg.planned_sample
    units = []
    for u in cfg.units:
        b = per_unit.get(u.id, blank())
        modes = sorted(unit_modes.get(u.id, ()))
        units.append({"unit_id": u.id, "name": u.name, "type": u.type, "served": u.served,
                      "target": targets[u.id], **{k: v for k, v in b.items() if k != "reasons"},
                      "collection_mode": ", ".join(modes) or None, "sent": u.sent,
                      "response_rate": round(b["accepted"] / u.sent, 4) if u.sent else None,
                      "reasons": dict(sorted(b["reasons"].items())),
                      # household design: the weights are the design's, made at estimation
                      "weight": (u.served / b["accepted"]) if b["accepted"] and cfg.target_rule(u.type) == "formula"
                      else None})
    if UNKNOWN_UNIT in per_unit:
        b = per_unit[UNKNOWN_UNIT]
        units.append({"unit_id": UNKNOWN_UNIT, "name": "(đơn vị không xác định / unknown unit)", "type": "",
                      "served": None, "target": 0, **{k: v for k, v in b.items() if k != "reasons"},
                      "collection_mode": None, "sent": None, "response_rate": None,
                      "reasons": dict(sorted(b["reasons"].items())), "weight": None})

    primary = Counter(primaries)
    anyr = Counter(code for r in rejected for code in r.reasons)
    flagged = list(compress(accepted, map(bool, map(attrgetter("flags"), accepted))))
    flags = Counter(chain.from_iterable(map(attrgetter("flags"), flagged)))
    examples: dict[str, list[str]] = {code: [] for code in primary}
    for r, p in zip(rejected, primaries):
        if len(examples[p]) < 5:
            examples[p].append(f"{r.origin} row {r.row}")
    nonresp = []
    for cid in cb.ids(CRITERION):
        scale = cfg.methodology.scale_of(cid)
        col = responses[cid] if len(responses) else pd.Series([], dtype="Int16")
        n = len(col)
        entry = {"criterion": cid, "label": cfg.methodology.criterion(cid).label, "rows": n,
                 "valid": int(col.isin(scale.valid_codes).sum()),
                 "blank": int(col.isna().sum())}
        for mc in scale.missing:
            entry[f"code_{mc.code}"] = int((col == mc.code).sum())
        entry["missing_codes"] = {str(mc.code): mc.label for mc in scale.missing}
        entry["nonresponse_share"] = round(1 - entry["valid"] / n, 6) if n else None
        nonresp.append(entry)
    return {
        "year": cfg.year,
        "methodology": cfg.methodology.id,
        "survey_period": [str(cfg.registry.survey_period.start), str(cfg.registry.survey_period.end)],
        "totals": {"rows_read": len(records), "accepted": len(accepted), "quarantined": len(rejected),
                   "flagged": len(flagged),
                   "accepted_plus_quarantined_equals_read": len(accepted) + len(rejected) == len(records)},
        "files": files,
        "units": units,
        "reasons": {r.code: {"vi": r.vi, "en": r.en, "rows": primary.get(r.code, 0),
                             "rows_any": anyr.get(r.code, 0)} for r in REASONS},
        "flags": {f.code: {"vi": f.vi, "en": f.en, "rows": flags.get(f.code, 0)} for f in FLAG.values()},
        "item_nonresponse": nonresp,
        "rules": rules.model_dump(),
        "warnings": warnings,
        "collection_modes": dict(Counter(info.get("mode", "paper") for info in file_info.values())),
        "listed_up_to": LIST_LIMIT,
        "quarantined_examples_per_reason": examples,
        "quarantined": [
            {"file": r.file, "sheet": r.sheet, "row": r.row, "respondent_id": r.values.get("respondent_id"),
             "unit_id": r.values.get("unit_id"), "reason": r.primary, "reasons": r.reasons,
             "problems": [{"reason": p.reason, "column": p.column, "value": mask_value(p.value), "detail": p.detail}
                          for p in r.problems]}
            for r in rejected[:LIST_LIMIT]],
        "flagged": [
            {"file": r.file, "sheet": r.sheet, "row": r.row, "respondent_id": r.values["respondent_id"],
             "unit_id": r.values["unit_id"], "interviewer": r.values.get("interviewer"), "flags": r.flags,
             **({"cleared": [{"column": p.column, "value": p.value, "detail": p.detail} for p in r.cleared]}
                if r.cleared else {})}
            for r in flagged[:LIST_LIMIT]],
    }
