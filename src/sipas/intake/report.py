"""The data-quality annex (``outputs/<year>/quality.html``): one self-contained page in
Vietnamese (inline style, no scripts, no external resources), every text escaped.
Built only from the validation report, so it shows exactly what ``validation.json`` says.
"""

from __future__ import annotations

import jinja2

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.designs import HOUSEHOLD_WEIGHTS, TARGET_RULES

MAX_ROWS_LISTED = 500

TEMPLATE = r"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chất lượng dữ liệu khảo sát SIPAS năm {{ r.year }} – {{ province }}</title>
<style>
body{font-family:"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2933;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:2px solid #d9e2ec;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .45rem;vertical-align:top}th{background:#f0f4f8;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#1b7a3a;font-weight:600}.bad{color:#b42318;font-weight:600}.muted{color:#627d98}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d9e2ec;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}small{color:#627d98}
</style>
</head>
<body>
<h1>Phụ lục: Chất lượng dữ liệu khảo sát năm {{ r.year }}</h1>
<p class="muted">{{ province }} · {{ method }} · Thời gian khảo sát {{ period }}</p>

<h2>1. Tổng quan</h2>
<div class="cards">
<div class="card">Phiếu đọc được<b>{{ n(t.rows_read) }}</b></div>
<div class="card">Phiếu hợp lệ (đưa vào tính toán)<b>{{ n(t.accepted) }}</b></div>
<div class="card">Phiếu bị cách ly<b>{{ n(t.quarantined) }}</b></div>
<div class="card">Phiếu được đánh dấu (vẫn dùng)<b>{{ n(t.flagged) }}</b></div>
</div>
<p>Kiểm tra “không mất phiếu” (hợp lệ + cách ly = đọc được, theo từng tệp và từng đơn vị):
{% if t.accepted_plus_quarantined_equals_read %}<span class="ok">đạt</span>{% else %}<span class="bad">KHÔNG ĐẠT</span>{% endif %}.
Dữ liệu cá nhân (họ tên, điện thoại, số CCCD, địa chỉ, thư điện tử) đã được loại bỏ khi nhập liệu và không có trong tệp nào được công bố.</p>
{% if r.warnings %}<p><b>Lưu ý khi đọc tệp:</b></p><ul>{% for w in r.warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% endif %}

<h2>2. Theo tệp dữ liệu</h2>
<table>
<tr><th>Tệp</th><th>Trang tính</th><th>Đọc</th><th>Hợp lệ</th><th>Cách ly</th><th>Đánh dấu</th><th>Cột bỏ qua</th></tr>
{% for f in r.files %}<tr><td>{{ f.file }}</td>
<td>{% for s in f.sheets %}{% if s.sheet %}{{ s.sheet }}{% if not s.used %} <small>(bỏ qua)</small>{% endif %}<br>{% endif %}{% endfor %}</td>
<td class="n">{{ n(f.rows_read) }}</td><td class="n">{{ n(f.accepted) }}</td><td class="n">{{ n(f.quarantined) }}</td><td class="n">{{ n(f.flagged) }}</td>
<td>{% for s in f.sheets %}{{ s.ignored_columns | default([]) | join(", ") }}{% endfor %}</td></tr>
{% endfor %}
</table>

<h2>3. Theo đơn vị: cỡ mẫu mục tiêu và thực hiện</h2>
<p class="muted">{{ sample_note }}</p>
<table>
<tr><th>Đơn vị</th><th>Loại</th><th>N</th><th>Mục tiêu</th><th>Hợp lệ</th><th>Đạt (%)</th><th>Đọc</th><th>Cách ly</th><th>Đánh dấu</th><th>Trọng số</th><th>Hình thức thu thập</th><th>Tỷ lệ phản hồi</th></tr>
{% for u in r.units %}<tr><td>{{ u.name }}</td><td>{{ types.get(u.type, u.type) }}</td>
<td class="n">{{ n(u.served) }}</td><td class="n">{{ n(u.target) }}</td><td class="n">{{ n(u.accepted) }}</td>
<td class="n {% if u.target and u.accepted < u.target %}bad{% endif %}">{{ pct(u.accepted / u.target if u.target else None, 1) }}</td>
<td class="n">{{ n(u.rows_read) }}</td><td class="n">{{ n(u.quarantined) }}</td><td class="n">{{ n(u.flagged) }}</td><td class="n">{{ num(u.weight, 2) }}</td>
<td>{{ modes.get(u.collection_mode, u.collection_mode or "") }}</td><td class="n">{{ pct(u.response_rate, 1) if u.response_rate is not none else "" }}</td></tr>
{% endfor %}
</table>

<h2>4. Lý do cách ly phiếu</h2>
<table><tr><th>Mã</th><th>Lý do</th><th>Reason</th><th>Số phiếu (lý do chính)</th><th>Số phiếu có lý do này</th></tr>
{% for code, x in r.reasons.items() %}<tr><td><code>{{ code }}</code></td><td>{{ x.vi }}</td><td>{{ x.en }}</td><td class="n">{{ n(x.rows) }}</td><td class="n">{{ n(x.rows_any) }}</td></tr>
{% endfor %}</table>

<h2>5. Phiếu được đánh dấu (vẫn đưa vào tính toán)</h2>
<table><tr><th>Mã</th><th>Dấu hiệu</th><th>Flag</th><th>Số phiếu</th></tr>
{% for code, x in r.flags.items() %}<tr><td><code>{{ code }}</code></td><td>{{ x.vi }}</td><td>{{ x.en }}</td><td class="n">{{ n(x.rows) }}</td></tr>
{% endfor %}</table>

<h2>6. Tỷ lệ không trả lời theo tiêu chí (phiếu hợp lệ)</h2>
<table><tr><th>Tiêu chí</th><th>Nội dung</th><th>Trả lời 1–5</th>{% for code, label in missing_codes %}<th>{{ label }} ({{ code }})</th>{% endfor %}<th>Để trống</th><th>Không trả lời (%)</th></tr>
{% for i in r.item_nonresponse %}<tr><td>{{ i.criterion | upper }}</td><td>{{ i.label }}</td><td class="n">{{ n(i.valid) }}</td>
{% for code, label in missing_codes %}<td class="n">{{ n(i.get("code_" ~ code, 0)) }}</td>{% endfor %}
<td class="n">{{ n(i.blank) }}</td><td class="n">{{ pct(i.nonresponse_share, 1) }}</td></tr>
{% endfor %}</table>

<h2>7. Danh sách phiếu bị cách ly</h2>
<p class="muted">Chi tiết đầy đủ (giá trị gốc, lý do tiếng Việt và tiếng Anh): <code>data/processed/{{ r.year }}/quarantine.xlsx</code>.
{% if t.quarantined > max_rows %} Chỉ hiển thị {{ max_rows }} / {{ n(t.quarantined) }} phiếu đầu tiên; danh sách đầy đủ trong quarantine.xlsx.{% endif %}</p>
<table><tr><th>Tệp</th><th>Dòng</th><th>Mã phiếu</th><th>Lý do</th><th>Cột</th><th>Giá trị</th><th>Chi tiết</th></tr>
{% for q in r.quarantined[:max_rows] %}{% set p = q.problems | selectattr("reason", "equalto", q.reason) | first %}
<tr><td>{{ q.file }}{% if q.sheet %} / {{ q.sheet }}{% endif %}</td><td class="n">{{ q.row }}</td><td>{{ q.respondent_id or "" }}</td>
<td>{{ reasons[q.reason].vi }}</td><td>{{ p.column }}</td><td>{{ p.value }}</td><td>{{ p.detail }}</td></tr>
{% endfor %}</table>

<h2>8. Quy tắc kiểm tra đã dùng</h2>
<ul>
<li>Phiếu cần ít nhất {{ pct(r.rules.min_valid_share, 0) }} số tiêu chí có câu trả lời hợp lệ (1–5).</li>
<li>“Trả lời cùng một mức”: mọi câu trả lời hợp lệ giống nhau, với ít nhất {{ r.rules.straight_line_min_answers }} câu trả lời hợp lệ.</li>
<li>“Phiếu giống hệt”: cùng điều tra viên, mọi câu trả lời giống nhau, có ít nhất {{ r.rules.duplicate_min_off_mode }} câu khác với mức trả lời phổ biến nhất của phiếu.</li>
<li>Mã phiếu trùng: {% if r.rules.duplicate_ids == "keep_first" %}giữ dòng xuất hiện đầu tiên, cách ly các dòng sau{% else %}bản sao giống hệt: giữ dòng đầu; khác nội dung: cách ly tất cả{% endif %}.</li>
</ul>
</body>
</html>
"""


MODES_VI = {"paper": "Phiếu giấy", "tablet": "Máy tính bảng (KoboToolbox/ODK)", "online": "Trực tuyến",
            "phone": "Điện thoại"}


def sample_note(cfg: YearConfig) -> str:
    """The targets' and weights' rules of the units table, per rule of the year's unit types
    (:meth:`~sipas.base.codebook.YearConfig.target_rule`)."""
    moe = fmt.number(cfg.settings.margin_of_error, 2)
    formula = (f"n = N / (1 + N·e²), e = {moe}; N = số lượt người dân, tổ chức được phục vụ. "
               "Trọng số thiết kế = N / số phiếu hợp lệ.")
    present = [t for t in cfg.registry.unit_types if any(u.type == t.id for u in cfg.units)]
    homes = [t.label_plural for t in present if cfg.target_rule(t.id) == "households"]
    if not homes:
        return f"Cỡ mẫu mục tiêu {formula}"
    others = [t.label_plural for t in present if cfg.target_rule(t.id) == "formula"]
    return ((f"{', '.join(others)}: cỡ mẫu mục tiêu {formula} " if others else "")
            + f"{', '.join(homes)}: cỡ mẫu mục tiêu {TARGET_RULES['households']}; trọng số thiết kế = "
            f"{HOUSEHOLD_WEIGHTS}, tính khi ước lượng (cột Trọng số để trống).")


def quality_html(report: dict, cfg: YearConfig) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    tpl = env.from_string(TEMPLATE)
    scale = cfg.methodology.scales[cfg.methodology.default_scale]
    from .rules import REASON

    return tpl.render(
        r=report, t=report["totals"], modes=MODES_VI, province=cfg.settings.province,
        method=cfg.methodology.short_title,
        period=f"{fmt.date(cfg.registry.survey_period.start)} – {fmt.date(cfg.registry.survey_period.end)}",
        types={t.id: t.label for t in cfg.registry.unit_types},
        missing_codes=[(c.code, c.label) for c in scale.missing],
        moe=fmt.number(cfg.settings.margin_of_error, 2), sample_note=sample_note(cfg), reasons=REASON, max_rows=MAX_ROWS_LISTED,
        n=lambda x: fmt.number(x, 0) if x is not None else "–",
        num=fmt.number, pct=fmt.pct,
    )
