"""The year's official Word documents, from the published tables and the templates.

``outputs/<year>/official/``:

* ``bao-cao-<year>.docx``      the report (Báo cáo kết quả), with the signer block;
* ``phu-luc-i-<year>.docx`` …  Phụ lục I, II (one per unit type: departments, then
                               districts or, from 2025, communes) ranked in the official
                               table (:mod:`.tables`); Phụ lục III every unit's element and
                               criterion indices; Phụ lục IV the sample;
* ``units/<unit-id>.docx``     one annex per unit.

Figures are written by the same functions as the HTML annexes (``82,66%``, intervals
``85,1–90,4``, reliability marks † ‡ and their footnote). Until ``params/release/<year>.yaml``
exists — and always, except when :func:`build_year` is called by the release — every
document is a draft (DỰ THẢO in the header and as a watermark).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sipas.base import formats as fmt
from sipas.base.config import Paths
from sipas.estimation.indices import PROVINCE_ID, group_id
from sipas.publishing import narrative
from sipas.publishing.model_based import (
    MODEL,
    SHRINK,
    band_text,
    place_text,
    policy_note,
    ranking_with_model,
    with_model,
)
from sipas.publishing.official import tables as ot
from sipas.publishing.official.docx import Builder
from sipas.publishing.official.settings import Official, Release, load_official, national_for
from sipas.publishing.report import Report, ci_text, flag_mark, flag_note, is_suppressed, lc

SUBJECT = ("đo lường sự hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước "
           "trên địa bàn tỉnh {province} năm {year}")


def plain(text: str) -> str:
    """Markup of the narrative (``<b>``, ``<i>``, entities) to plain text."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def official_dir(p: Paths, year: int) -> Path:
    return p.outputs(year) / "official"


def template(p: Paths, name: str) -> Path:
    return p.params / "templates" / name


@dataclass
class Context:
    rep: Report
    off: Official
    release: Release | None  # None: a draft

    @property
    def year(self) -> int:
        return self.rep.year

    def values(self, kind: str, title: str, number_code: str | None = None) -> dict[str, str]:
        rel, off = self.release, self.off
        if rel:
            d = rel.date
            date_line = f"{off.place}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"
            ref = (f"(Kèm theo Quyết định số {rel.number}/{rel.document_code} ngày {fmt.date(d)} "
                   f"của {off.authority})")
        else:
            date_line = f"{off.place}, ngày … tháng … năm {self.year}"
            ref = f"(Kèm theo Quyết định số …/QĐ-UBND ngày …/…/{self.year} của {off.authority})"
        return {"loai": kind, "tieu_de": title, "kem_theo": ref, "dia_danh_ngay": date_line,
                "so_hieu": f"Số: …/{number_code}" if number_code else "",
                "ky_thay": rel.signer.on_behalf if rel else "TM. ỦY BAN NHÂN DÂN",
                "ky_chuc_vu": rel.signer.title if rel else "CHỦ TỊCH",
                "ky_ten": rel.signer.name if rel else ""}

    def builder(self, template_name: str, kind: str, title: str, number_code: str | None = None) -> Builder:
        return Builder(template(self.rep.paths, template_name), self.values(kind, title, number_code),
                       draft=self.release is None)


def _pct_cell(v, lo=None, hi=None, flag="") -> tuple[str, str]:
    """(figure with its mark, interval) as the HTML shows them."""
    if flag and is_suppressed(flag):
        return "–" + flag_mark(flag), ""
    return ot.pct_text(v) + (flag_mark(flag) if flag else ""), ci_text(lo, hi)


def note_text(rep: Report) -> str:
    return plain(flag_note(rep))


def model_header(rep: Report) -> list[str]:
    """Headers of the model-based columns (as the HTML's, :mod:`sipas.publishing.model_based`)."""
    return [MODEL, f"KTC {rep.level_text} (mô hình)", SHRINK]


def model_cells(r) -> list[str]:
    """A row's model-based cells (a :func:`~sipas.publishing.model_based.with_model` or
    :func:`~sipas.publishing.model_based.ranking_with_model` row): the figure, with ᴹ where
    the policy publishes it in place of the direct one, its interval and the shrinkage."""
    fig, ci = _pct_cell(r.estimate_sae, r.ci_low_sae, r.ci_high_sae, r.model_flag)
    return [fig, ci, r.shrink_text]


def _model_of(model: pd.DataFrame | None, item_id: str, blank: int = 0) -> list[str]:
    """The model cells of one index of a unit (:func:`_unit_model`); ``blank`` empty cells
    for a unit without them."""
    return model_cells(model.loc[item_id]) if model is not None else [""] * blank


def model_notes(rep: Report, unit_types: list[str]) -> list[str]:
    """The policy footnote (which policy, what the model column is) of each modelled type."""
    return [plain(policy_note(rep, t)) for t in unit_types if rep.shows_model(t)]


# ------------------------------------------------------------------- the annexes


def ranking_annex(ctx: Context, unit_type: str, roman: str, path: Path) -> Path:
    rep = ctx.rep
    label = rep.type_label(unit_type, plural=True)
    b = ctx.builder("phu-luc.docx", f"Phụ lục {roman}",
                    f"KẾT QUẢ XẾP HẠNG CHỈ SỐ HÀI LÒNG CỦA {label.upper()} NĂM {rep.year}")
    rows = ot.ranking_table(rep, [unit_type], ctx.off.threshold)
    prev = ot.comparable_previous(rep)
    tops = rep.top_items
    # model-based SIPAS beside the direct one, as the HTML ranking table (publication policy)
    model = ranking_with_model(rep.ranking(unit_type)).set_index("unit_id") if rep.shows_model(unit_type) else None
    extra = model_header(rep) if model is not None else []
    header = ["STT", "Đơn vị", "Chỉ số hài lòng", f"KTC {rep.level_text}", *extra, "Xếp hạng", "Khoảng hạng",
              f"Thay đổi so với năm {prev.year}" if prev else "Thay đổi thứ hạng", *[lab for _, lab in tops]]
    body, groups = [], set()
    for i, r in enumerate(rows.itertuples()):
        if r.kind == "group":
            groups.add(i)
            body.append([f"{r.stt}. {r.unit_name}"] + [""] * (len(header) - 1))
            continue
        fig, ci = _pct_cell(r.sipas, r.ci_low, r.ci_high, r.flag)
        mc = model_cells(model.loc[r.unit_id]) if model is not None else []
        body.append([str(r.stt), r.unit_name, fig, ci, *mc, place_text(rep, r.unit_id), r.rank_interval,
                     r.change_text or "–", *[ot.pct_text(getattr(r, k)) for k, _ in tops]])
    avg = rep.value(group_id(unit_type))
    body.append(["", "Bình quân", ot.pct_text(avg), "", *[""] * len(extra), "", "", "",
                 *[ot.pct_text(rep.value(group_id(unit_type), k)) for k, _ in tops]])
    k = len(extra)
    widths = ([12, 46, 20, 22, 14, 19, 24] + [90 / max(1, len(tops))] * len(tops) if not k else
              [9, 36, 19, 21, 21, 21, 13, 19, 14, 18] + [56 / max(1, len(tops))] * len(tops))
    b.table(header, body, widths, right={2, 3, *range(4, 4 + k), *range(7 + k, len(header))},
            center={0, 4 + k, 5 + k, 6 + k}, groups=groups, bold_rows={len(body) - 1})
    b.paragraph()
    b.text([ot.threshold_sentence(rep, unit_type, ctx.off.threshold)])
    notes = [note_text(rep)] if note_text(rep) else []
    notes.append("Xếp hạng theo chỉ số hài lòng chung; các đơn vị bằng điểm cùng hạng. Khoảng hạng: khoảng tin cậy "
                 f"{rep.level_text} của thứ hạng (bootstrap)." if rows.rank_low.notna().any() else
                 "Xếp hạng theo chỉ số hài lòng chung; các đơn vị bằng điểm cùng hạng.")
    notes += model_notes(rep, [unit_type])
    if rep.uses_bands(unit_type):                     # bands instead of wide ranks (sipas.publishing.model_based)
        notes.append(band_text(rep))
    if not prev:
        notes.append("Không so sánh thứ hạng với năm trước: năm trước dùng bộ chỉ số khác hoặc chưa có số liệu.")
    for n in notes:
        b.paragraph("Ghi chú: " + n if n is notes[0] else n, italic=True, size=12, align="justify")
    return b.save(path)


def criteria_annex(ctx: Context, roman: str, path: Path) -> Path:
    rep = ctx.rep
    b = ctx.builder("phu-luc.docx", f"Phụ lục {roman}",
                    f"CHỈ SỐ HÀI LÒNG THEO YẾU TỐ VÀ TIÊU CHÍ CỦA TỪNG ĐƠN VỊ NĂM {rep.year}")
    modelled = [t for t in rep.unit_types if rep.shows_model(t)]   # model-based columns, as the HTML annexes
    extra = model_header(rep) if modelled else []
    header = ["STT", "Đơn vị / yếu tố / tiêu chí", "Tỷ lệ hài lòng", f"KTC {rep.level_text}", *extra,
              "Số câu trả lời hợp lệ"]
    body, groups, bolds = [], set(), set()
    labels = rep.method.labels()
    for gi, t in enumerate(rep.unit_types, start=1):
        groups.add(len(body))
        body.append([f"{ot.roman(gi)}. {rep.type_label(t, plural=True)}"] + [""] * (len(header) - 1))
        for ui, uid in enumerate(rep.unit_ids(t), start=1):
            model = _unit_model(rep, uid) if t in modelled else None
            row = rep.row(uid)
            fig, ci = _pct_cell(rep.value(uid), *(rep.interval(uid) or (None, None)), rep.flag(uid))
            bolds.add(len(body))
            body.append([str(ui), f"{rep.unit(uid).name} — chỉ số chung", fig, ci, *_model_of(model, "sipas", len(extra)),
                         fmt.number(row.n) if row is not None else "–"])
            crit = rep.criteria(uid)
            for e in rep.method.elements:
                fig, ci = _pct_cell(rep.value(uid, e.id), *(rep.interval(uid, e.id) or (None, None)), rep.flag(uid, e.id))
                er = rep.row(uid, e.id)
                body.append(["", f"Yếu tố: {labels[e.id]}", fig, ci, *_model_of(model, e.id, len(extra)), fmt.number(er.n) if er is not None else "–"])
                for c in crit[crit.parent_id == e.id].itertuples():
                    fl = getattr(c, "flag", "") if isinstance(getattr(c, "flag", ""), str) else ""
                    fig, ci = _pct_cell(c.estimate, getattr(c, "ci_low", None), getattr(c, "ci_high", None), fl)
                    body.append(["", f"  {c.item_id}. {c.item_label}", fig, ci, *_model_of(model, c.item_id, len(extra)), fmt.number(c.n)])
    k = len(extra)
    widths = [14, 150, 28, 30, 30] if not k else [12, 96, 24, 28, 24, 28, 16, 24]
    b.table(header, body, widths, right=set(range(2, len(header))), center={0}, groups=groups, bold_rows=bolds)
    notes = [n for n in [note_text(rep), *model_notes(rep, modelled)] if n]
    for n in notes:
        b.paragraph("Ghi chú: " + n if n is notes[0] else n, italic=True, size=12, align="justify")
    return b.save(path)


def _unit_model(rep: Report, unit_id: str) -> pd.DataFrame:
    """The unit's model-based columns per index (item_id), as the HTML annex has them."""
    items = rep.indices.loc[rep.indices.unit_id == unit_id, ["item_id"]].drop_duplicates()
    return with_model(rep, items, unit_id).set_index("item_id")


def sample_annex(ctx: Context, roman: str, path: Path) -> Path:
    rep = ctx.rep
    b = ctx.builder("phu-luc-doc.docx", f"Phụ lục {roman}", f"MẪU KHẢO SÁT VÀ NGƯỜI TRẢ LỜI NĂM {rep.year}")
    header = ["STT", "Đơn vị", "Số lượt phục vụ (N)", "Cỡ mẫu dự kiến", "Số phiếu hợp lệ", "Tỷ lệ đạt"]
    body, groups = [], set()
    s = rep.sample
    for gi, t in enumerate(rep.unit_types, start=1):
        groups.add(len(body))
        body.append([f"{ot.roman(gi)}. {rep.type_label(t, plural=True)}"] + [""] * 5)
        for i, r in enumerate(s[s.unit_type == t].itertuples(), start=1):
            body.append([str(i), r.unit_name, fmt.number(r.served), fmt.number(r.target), fmt.number(r.achieved),
                         ot.pct_text(r.achieved / r.target)])
    body.append(["", "Tổng cộng", fmt.number(s.served.sum()), fmt.number(s.target.sum()), fmt.number(s.achieved.sum()),
                 ot.pct_text(s.achieved.sum() / s.target.sum())])
    b.table(header, body, [13, 61, 24, 24, 20, 23], right={2, 3, 4, 5}, center={0}, groups=groups,
            bold_rows={len(body) - 1})
    if any(rep.cfg.target_rule(t) != "formula" for t in rep.unit_types):   # a rule per unit type: say which
        b.paragraph("Ghi chú: " + rep.cfg.target_note, italic=True, size=12, align="justify")
    b.paragraph()
    b.heading("Đặc điểm người trả lời (toàn tỉnh)")
    prof = rep.profile_of(PROVINCE_ID)
    prof = prof[prof.n > 0]
    body, groups, last = [], set(), None
    for r in prof.itertuples():
        if r.variable_label != last:
            last = r.variable_label
            groups.add(len(body))
            body.append([r.variable_label, "", ""])
        body.append([r.category_label, fmt.number(r.n), ot.pct_text(r.share)])
    b.table(["Nhóm", "Số người", "Tỷ lệ"], body, [105, 30, 30], right={1, 2}, groups=groups)
    return b.save(path)


def unit_annex(ctx: Context, unit_id: str, path: Path) -> Path:
    rep = ctx.rep
    u = rep.unit(unit_id)
    b = ctx.builder("phu-luc-doc.docx", "Phụ lục",
                    f"KẾT QUẢ ĐO LƯỜNG SỰ HÀI LÒNG ĐỐI VỚI {u.name.upper()} NĂM {rep.year}")
    b.text([plain(s) for s in narrative.unit_summary(rep, unit_id)])
    rows = ot.unit_rows(rep, u.type, ctx.off.threshold)
    me = rows[rows.unit_id == unit_id].iloc[0]
    fig, ci = _pct_cell(me.sipas, me.ci_low, me.ci_high, me.flag)
    # model-based columns beside the direct ones, as the HTML annex (publication policy)
    model = _unit_model(rep, unit_id) if rep.shows_model(u.type) else None
    extra = model_header(rep) if model is not None else []
    k = len(extra)

    b.heading("1. Chỉ số chung và thứ hạng")
    b.table(["Chỉ số hài lòng", f"KTC {rep.level_text}", *extra, "Xếp hạng", "Khoảng hạng", "Thay đổi thứ hạng"],
            [[fig, ci, *_model_of(model, "sipas"), place_text(rep, unit_id, total=True), me.rank_interval, me.change_text or "–"]],
            [33] * 5 if not k else [19, 21, 21, 21, 12, 25, 19, 27], center=set(range(5 + k)))
    b.paragraph()
    b.heading("2. Chỉ số theo yếu tố")
    prof = rep.element_profile(unit_id)
    body = []
    for r in prof.itertuples():
        f, c = _pct_cell(r.unit, r.ci_low, r.ci_high, r.flag)
        body.append([r.item_label, f, c, *_model_of(model, r.item_id), ot.pct_text(r.group), ot.pct_text(r.province)])
    b.table(["Yếu tố", "Đơn vị", f"KTC {rep.level_text}", *extra, "Bình quân nhóm", "Toàn tỉnh"], body,
            [67, 25, 25, 24, 24] if not k else [33, 19, 21, 21, 21, 12, 19, 19], right=set(range(1, 5 + k)),
            bold_rows={len(body) - 1})
    b.paragraph()
    b.heading("3. Chỉ số theo tiêu chí")
    crit = rep.criteria(unit_id)
    body, groups, last = [], set(), None
    for c in crit.itertuples():
        if c.element != last:
            last = c.element
            groups.add(len(body))
            body.append([c.element] + [""] * (3 + k))
        fl = c.flag if isinstance(getattr(c, "flag", ""), str) else ""
        f, ci = _pct_cell(c.estimate, getattr(c, "ci_low", None), getattr(c, "ci_high", None), fl)
        body.append([f"{c.item_id}. {c.item_label}", f, ci, *_model_of(model, c.item_id), fmt.number(c.n)])
    b.table(["Tiêu chí", "Tỷ lệ hài lòng", f"KTC {rep.level_text}", *extra, "Số câu trả lời"], body,
            [95, 25, 25, 20] if not k else [57, 19, 21, 21, 21, 12, 14], right=set(range(1, 4 + k)), groups=groups)
    notes = [n for n in [note_text(rep), *model_notes(rep, [u.type])] if n]
    for n in notes:
        b.paragraph("Ghi chú: " + n if n is notes[0] else n, italic=True, size=12, align="justify")
    return b.save(path)


# -------------------------------------------------------------------- the report


def national_sentences(ctx: Context) -> list[str]:
    nat = national_for(ctx.off, ctx.year)
    if nat is None:
        return []
    return [f"Theo kết quả khảo sát của Bộ Nội vụ, Chỉ số hài lòng về sự phục vụ hành chính (SIPAS) năm {nat.year} "
            f"của tỉnh {ctx.rep.province} đạt {ot.pct_text(nat.sipas)}, xếp thứ {nat.rank}/{nat.of} tỉnh, thành phố. "
            + " ".join(ctx.off.national_note.split())]


def report(ctx: Context, path: Path) -> Path:
    rep = ctx.rep
    b = ctx.builder("bao-cao.docx", "BÁO CÁO", "Kết quả điều tra xã hội học " + SUBJECT.format(
        province=rep.province, year=rep.year), number_code="BC-UBND")
    sections = [("Căn cứ và phương pháp", narrative.basis(rep)), ("Mẫu khảo sát", narrative.sample_text(rep)),
                ("Kết quả chung", narrative.province_summary(rep) + narrative.results_text(rep))]
    for k, t in enumerate(rep.unit_types):
        sections.append((f"Xếp hạng {lc(rep.type_label(t, plural=True))} (Phụ lục {ot.roman(k + 1)})",
                         narrative.ranking_text(rep, t) + [ot.threshold_sentence(rep, t, ctx.off.threshold)]))
    ch = narrative.changes_text(rep)
    if ch:
        sections.append(("Thay đổi so với năm trước", ch))
    nat = national_sentences(ctx)
    if nat:
        sections.append(("So sánh với kết quả khảo sát của Bộ Nội vụ", nat))
    sections += [("Hạn chế", narrative.limitations(rep)), ("Kiến nghị", narrative.recommendations(rep))]
    for i, (head, sentences) in enumerate(sections, start=1):
        b.heading(f"{ot.roman(i)}. {head.upper()}")
        b.text([plain(s) for s in sentences])
        if head == "Kết quả chung":
            scopes = [PROVINCE_ID] + [group_id(t) for t in rep.unit_types]
            body = []
            for item_id, label in rep.items():
                fig, ci = _pct_cell(rep.value(PROVINCE_ID, item_id), *(rep.interval(PROVINCE_ID, item_id) or (None, None)),
                                    rep.flag(PROVINCE_ID, item_id))
                body.append([label, fig, ci, *[ot.pct_text(rep.value(s, item_id)) for s in scopes[1:]]])
            b.table(["Chỉ số", "Toàn tỉnh", f"KTC {rep.level_text}", *[rep.scope_name(s) for s in scopes[1:]]], body,
                    [60, 24, 24] + [57 / max(1, len(scopes) - 1)] * (len(scopes) - 1), right=set(range(1, len(scopes) + 2)),
                    bold_rows={len(body) - 1})
            b.paragraph()
    n = note_text(rep)
    if n:
        b.paragraph("Ghi chú: " + n, italic=True, size=12, align="justify")
    return b.save(path)


# ------------------------------------------------------------------------- a year


def documents_of(p: Paths, year: int, unit_ids: list[str]) -> list[Path]:
    """Every Word file of a year, in build order (report, annexes, units)."""
    from sipas.base.codebook import YearConfig

    cfg = YearConfig(year, p)
    types = [t.id for t in cfg.registry.unit_types if any(u.type == t.id for u in cfg.units)]
    d = official_dir(p, year)
    out = [d / f"bao-cao-{year}.docx"] + [d / f"phu-luc-{ot.roman(k + 1).lower()}-{year}.docx"
                                          for k in range(len(types) + 2)]
    return out + [d / "units" / f"{u}.docx" for u in unit_ids]


def build_year(p: Paths, year: int, release: Release | None = None, out_dir: Path | None = None) -> list[Path]:
    """Write every Word document of ``year``; ``release`` None = a draft. Returns the files."""
    rep = Report(year, p.root)
    ctx = Context(rep, load_official(p), release)
    d = out_dir or official_dir(p, year)
    files = [report(ctx, d / f"bao-cao-{year}.docx")]
    k = 0
    for k, t in enumerate(rep.unit_types, start=1):
        files.append(ranking_annex(ctx, t, ot.roman(k), d / f"phu-luc-{ot.roman(k).lower()}-{year}.docx"))
    files.append(criteria_annex(ctx, ot.roman(k + 1), d / f"phu-luc-{ot.roman(k + 1).lower()}-{year}.docx"))
    files.append(sample_annex(ctx, ot.roman(k + 2), d / f"phu-luc-{ot.roman(k + 2).lower()}-{year}.docx"))
    for uid in rep.unit_ids():
        files.append(unit_annex(ctx, uid, d / "units" / f"{uid}.docx"))
    return files
