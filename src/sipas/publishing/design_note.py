"""The method note's sentences on a household design (``design.households``, the
2023–2026 method): the draw, the weights and calibration, the variance method; used by
:func:`sipas.publishing.narrative.design_note`."""

from __future__ import annotations

from sipas.base.codebook import YearConfig


def household_note(cfg: YearConfig) -> str:
    d = cfg.registry.design
    hh = d.households
    types = {t.id: t.label_plural for t in cfg.registry.unit_types}
    home = ", ".join(types.get(t, t) for t in hh.unit_types)
    others = [(lambda s: s[:1].lower() + s[1:])(types[t]) for t in types if t not in hh.unit_types]
    villages = ("chọn ngẫu nhiên đơn giản các thôn, bản, tổ dân phố" if hh.selection == "srs" else
                "chọn các thôn, bản, tổ dân phố với xác suất tỷ lệ với số hộ")
    draw = (f"Thiết kế mẫu: {home}: mỗi đơn vị là một tầng; {villages}, rồi chọn ngẫu nhiên đơn giản các hộ "
            "trong mỗi thôn, bản được chọn, phỏng vấn một người trưởng thành (từ 18 tuổi) trong mỗi hộ "
            "(tổng thể: người trưởng thành sinh sống trên địa bàn, không phải số hồ sơ)")
    if others:
        draw += (f"; {', '.join(others)}: mẫu ngẫu nhiên đơn giản phân tầng các hồ sơ đã giải quyết trong kỳ "
                 "khảo sát, mỗi đơn vị là một tầng")
    weights = ("Trọng số hộ gia đình = (số thôn, bản / số thôn, bản được chọn) × (số hộ của thôn, bản / số hộ "
               "trả lời) × số người trưởng thành của hộ, tức trọng số thiết kế đã hiệu chỉnh không trả lời theo "
               "nhóm (mỗi thôn, bản là một nhóm; phiếu bị loại khi kiểm tra được tính là không trả lời)")
    if others:
        weights += "; trọng số hồ sơ = số hồ sơ đã giải quyết / số phiếu hợp lệ của đơn vị"
    if hh.margins:
        weights += (". Hiệu chỉnh trọng số theo tổng thể (raking, như hàm rake của gói survey của R) theo số "
                    "người trưởng thành của từng đơn vị và theo giới tính, nhóm tuổi, dân tộc "
                    f"(params/margins/{hh.margins})")
    else:
        weights += ". Không hiệu chỉnh trọng số theo tổng thể (calibration)"
    fpc = ("có hiệu chỉnh quần thể hữu hạn ở cả hai giai đoạn (thôn, bản; hộ)" if hh.selection == "srs" and d.fpc
           else "không hiệu chỉnh quần thể hữu hạn ở giai đoạn thôn, bản (coi như chọn có hoàn lại)")
    variance = ("Sai số chuẩn: tuyến tính hóa Taylor theo thiết kế nhiều giai đoạn (công thức đệ quy của hàm "
                f"svyrecvar, gói survey của R), {fpc}"
                + (", tính trên phần dư của hiệu chỉnh trọng số" if hh.margins else "") + ".")
    return f"{draw}. {weights}. {variance}"
