"""The method note: how the indices are computed and the sampling design, as plain text
(the workbook's notes) and for a page."""

from __future__ import annotations

from html import escape as e

from sipas.publishing.report import Report


def method_note_text(rep: Report) -> str:
    """How the indices are computed, in one plain-text paragraph (the workbook's notes)."""
    m = rep.method
    scale = m.scales[m.default_scale]
    pos = ", ".join(f"“{scale.label_of(c)}”" for c in scale.positive)
    miss = ", ".join(f"“{c.label}”" for c in scale.missing)
    top = "khía cạnh" if m.aspects else "yếu tố"
    return (
        f"Chỉ số của mỗi tiêu chí là tỷ lệ câu trả lời {pos} trên tổng số câu trả lời hợp lệ, có trọng số thiết kế "
        f"(không tính {miss} và bỏ trống); chỉ số yếu tố là trung bình cộng chỉ số các tiêu chí; chỉ số chung "
        f"của đơn vị là trung bình cộng chỉ số các {top}. Chỉ số của nhóm đơn vị và của tỉnh: "
        f"{rep.aggregation_text} (tùy chọn {rep.aggregation}). " + design_note(rep)
    )


def method_note(rep: Report) -> str:
    """:func:`method_note_text` for a page: escaped, the option's name as code."""
    text = method_note_text(rep)
    option = f"(tùy chọn {rep.aggregation})."
    head, _, tail = text.partition(option)
    return e(head) + f"(tùy chọn <code>{e(rep.aggregation)}</code>)." + e(tail)


def design_note(rep: Report) -> str:
    """The sampling design, weights, calibration and variance method, from the year's
    ``design:`` block (params/units/<year>.yaml), as plain text."""
    d = rep.cfg.registry.design
    if d.sampling == "dossiers":
        draw = ("Thiết kế mẫu: mẫu ngẫu nhiên đơn giản phân tầng, mỗi đơn vị là một tầng; trong mỗi đơn vị "
                "chọn ngẫu nhiên các hồ sơ đã giải quyết trong kỳ khảo sát (người dân, tổ chức đã hoàn thành thủ tục)")
    else:
        draw = ("Thiết kế mẫu: mẫu phân tầng theo đơn vị; đơn vị cấp huyện chọn cụm xã, phường, thị trấn "
                "rồi người được phục vụ trong cụm, sở, ngành chọn ngẫu nhiên người được phục vụ")
    fpc = (", có hiệu chỉnh quần thể hữu hạn theo số hồ sơ đã giải quyết" if d.fpc
           else ", không hiệu chỉnh quần thể hữu hạn")
    return (f"{draw}. Trọng số = số hồ sơ đã giải quyết / số phiếu hợp lệ của đơn vị; không hiệu chỉnh "
            f"trọng số theo tổng thể (calibration). Sai số chuẩn: tuyến tính hóa Taylor theo thiết kế"
            f"{fpc} (như gói survey của R).")
