"""Small, deterministic raw survey tables built from the codebook, and writers for the
three raw formats (csv, xlsx, sav). Used by the intake tests (fixtures, round trip)
and handy for trying the intake on a new methodology before field data exists.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

from sipas.base.codebook import YearConfig


def headers(cfg: YearConfig) -> list[tuple[str, str]]:
    """(codebook id, header as the demo writes it), in the demo's column order."""
    m, f = cfg.methodology, cfg.fields
    out = [(v.id, v.label) for v in f.admin]
    out = [(i, "Đơn vị" if i == "unit_id" else h) for i, h in out]
    out += [(v.id, v.label) for v in f.personal]
    out += [(v.id, v.label) for v in m.profile]
    out += [(c.id, c.id.upper()) for c in m.items]
    out += [(v.id, v.label) for v in m.perceptions]
    if m.expectations:
        out += [(i.id, i.id.upper()) for i in m.expectations.items]
    if m.comment:
        out.append((m.comment.id, m.comment.label))
    return out


def sample_rows(cfg: YearConfig, per_unit: int = 3, units: list[str] | None = None,
                seed: int = 1) -> list[dict[str, object]]:
    """Valid raw rows (codebook id -> cell text as the field would write it)."""
    rng = random.Random(seed)
    m = cfg.methodology
    period = cfg.registry.survey_period
    days = (period.end - period.start).days
    rows = []
    for u in cfg.units:
        if units and u.id not in units:
            continue
        for k in range(1, per_unit + 1):
            r: dict[str, object] = {
                "respondent_id": f"{cfg.year}-{u.id.upper()}-{k:04d}",
                "unit_id": u.name,
                "commune": u.communes[k % len(u.communes)] if u.communes else "",
                "interviewer": f"DTV{rng.randint(1, 9):02d}",
                "interview_date": (period.start + dt.timedelta(days=rng.randint(0, days))).strftime("%d/%m/%Y"),
                "full_name": f"Lò Văn {rng.choice(['Ỏn', 'Bun', 'Xương'])}{k}",
                "phone": f"09{rng.randint(10_000_000, 99_999_999)}",
                "id_number": f"012{rng.randint(100_000_000, 999_999_999)}",
                "address": f"Bản Nà Khum {k}",
                "email": f"nguoidan{k}.{u.id}@example.vn",
            }
            for v in m.profile:
                if v.type == "category":
                    r[v.id] = rng.choice(v.categories).label
                elif v.type == "integer":
                    r[v.id] = str(rng.randint(v.min or 0, min(v.max or 5, 5)))
            base = rng.choice([3, 4, 4, 5])
            for c in m.items:
                scale = m.scale_of(c)
                x = min(max(base + rng.choice([-1, 0, 0, 1]), min(scale.valid_codes)), max(scale.valid_codes))
                r[c.id] = str(x) if rng.random() > 0.05 else str(scale.missing_codes[-1])
            for v in m.perceptions:
                r[v.id] = rng.choice(v.categories).label if v.categories else ""
            if m.expectations:
                cats = m.expectations.categories
                for it in m.expectations.items:
                    if cats:     # rated: a category label
                        r[it.id] = rng.choice(cats).label
                    else:        # multiple choice
                        r[it.id] = "x" if rng.random() < 0.25 else ""
            if m.comment:
                r[m.comment.id] = rng.choice(["", "", "Cán bộ nhiệt tình, chu đáo.", "Thủ tục còn chậm & rườm rà."])
            rows.append(r)
    return rows


def to_csv(cfg: YearConfig, rows: list[dict], *, delimiter: str = ",", bom: bool = True,
           header_map: dict[str, str] | None = None, encoding: str = "utf-8") -> bytes:
    cols = headers(cfg)
    if header_map:
        cols = [(i, header_map.get(i, h)) for i, h in cols]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow([h for _, h in cols])
    for r in rows:
        w.writerow(["" if r.get(i) is None else r.get(i) for i, _ in cols])
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


def write_csv(cfg: YearConfig, rows: list[dict], path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_csv(cfg, rows, **kw))
    return path


def write_xlsx(cfg: YearConfig, rows: list[dict], path: Path, *, sheets_by_unit: bool = False,
               title_rows: int = 0, numbers: bool = True) -> Path:
    """An Excel workbook as offices send them: optional title rows above the header,
    one sheet per unit (the unit column then dropped: the sheet name says it)."""
    import openpyxl

    cols = headers(cfg)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r["unit_id"]) if sheets_by_unit else "Phiếu khảo sát", []).append(r)
    for name, grp in groups.items():
        ws = wb.create_sheet(name[:31])
        use = [(i, h) for i, h in cols if not (sheets_by_unit and i == "unit_id")]
        for t in range(title_rows):
            ws.append([f"KẾT QUẢ KHẢO SÁT SỰ HÀI LÒNG NĂM {cfg.year}" if t == 0 else None])
        if title_rows:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
        ws.append([h for _, h in use])
        for r in grp:
            ws.append([_cell(r.get(i), numbers) for i, _ in use])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _cell(v, numbers: bool):
    if v is None or v == "":
        return None
    if numbers and isinstance(v, str) and v.isdigit() and len(v) < 4:
        return int(v)
    return v


def write_sav(cfg: YearConfig, rows: list[dict], path: Path) -> Path:
    """An SPSS file: short variable names with the codebook label as variable label;
    category profile answers as numeric codes with value labels; criteria as numbers
    with the scale's labels; expectations 0/1."""
    import pandas as pd
    import pyreadstat

    m = cfg.methodology
    cols = headers(cfg)
    data: dict[str, list] = {}
    names, labels, value_labels = [], {}, {}
    for n, (cid, header) in enumerate(cols, start=1):
        var = f"V{n:02d}" if not cid.startswith(("c", "exp_")) or cid == "commune" or cid == "comment" else cid.upper()
        names.append(var)
        labels[var] = header
        vals = [r.get(cid) for r in rows]
        cats = _categories(m, cid)
        if cats:
            to_num = {c.label: k for k, c in enumerate(cats, start=1)}
            data[var] = [float(to_num[v]) if v else float("nan") for v in vals]
            value_labels[var] = {float(k): c.label for k, c in enumerate(cats, start=1)}
        elif cid in m.item_ids:
            scale = m.scale_of(cid)
            by_label = {c.label: c.code for c in (*scale.values, *scale.missing)}
            data[var] = [float(by_label.get(v, v)) if v not in (None, "") else float("nan") for v in vals]
            value_labels[var] = {float(c.code): c.label for c in (*scale.values, *scale.missing)}
        elif m.expectations and cid in [i.id for i in m.expectations.items]:   # multiple choice
            data[var] = [1.0 if v else 0.0 for v in vals]
        elif cid == "trips":
            data[var] = [float(v) if v else float("nan") for v in vals]
        else:
            data[var] = ["" if v is None else str(v) for v in vals]
    df = pd.DataFrame(data, columns=names)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(df, str(path), column_labels=[labels[n] for n in names],
                         variable_value_labels=value_labels)
    return path


def _categories(m, cid: str) -> list:
    """Categories of a profile question, perception topic or rated expectation item."""
    for v in (*m.profile, *m.perceptions):
        if v.id == cid:
            return list(v.categories) if v.type == "category" else []
    if m.expectations and m.expectations.rated and cid in [i.id for i in m.expectations.items]:
        return list(m.expectations.categories)
    return []
