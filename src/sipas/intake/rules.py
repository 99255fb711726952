"""The validation rules, declared once: reasons a row is quarantined, flags a row may
carry, and the thresholds (defaults here, overridable in ``params/intake.yaml``).

Every reason has a stable code (used in files and tests), a Vietnamese and an English
text.  A row may fail several rules; its *primary* reason is the first in this order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sipas.base.errors import ConfigError


@dataclass(frozen=True)
class Reason:
    code: str
    vi: str
    en: str


REASONS: tuple[Reason, ...] = (
    Reason("malformed_row", "Dòng lệch cột (số ô hoặc kiểu giá trị không khớp tiêu đề)",
           "Shifted columns (cell count or value types do not fit the header)"),
    Reason("marked_void", "Phiếu bị gạch bỏ hoặc ghi chú hủy (PHIẾU HỎNG, KHÔNG TÍNH)",
           "Row struck through or marked void in a note (PHIẾU HỎNG, KHÔNG TÍNH)"),
    Reason("missing_id", "Thiếu mã phiếu", "Questionnaire id is missing"),
    Reason("missing_unit", "Thiếu đơn vị", "Unit is missing"),
    Reason("unknown_unit", "Đơn vị không có trong danh mục đơn vị của năm", "Unit is not in the year's unit registry"),
    Reason("invalid_commune", "Xã, phường, thị trấn thiếu hoặc không thuộc đơn vị", "Commune is missing or not listed for the unit"),
    Reason("missing_interviewer", "Thiếu mã điều tra viên", "Interviewer is missing"),
    Reason("invalid_date", "Ngày phỏng vấn thiếu hoặc không đọc được (cần dd/mm/yyyy)", "Interview date is missing or unreadable (expected dd/mm/yyyy)"),
    Reason("date_out_of_period", "Ngày phỏng vấn nằm ngoài thời gian khảo sát", "Interview date is outside the survey period"),
    Reason("invalid_answer", "Câu trả lời không thuộc thang đo", "Answer is not one of the allowed codes or labels"),
    Reason("invalid_profile", "Thông tin người trả lời không hợp lệ", "Respondent profile value is not valid"),
    Reason("too_few_answers", "Quá ít câu trả lời hợp lệ", "Too few valid answers"),
    Reason("duplicate_id", "Trùng mã phiếu", "Questionnaire id used more than once"),
)
REASON = {r.code: r for r in REASONS}
ORDER = {r.code: i for i, r in enumerate(REASONS)}

FLAGS: tuple[Reason, ...] = (
    Reason("straight_line", "Mọi câu trả lời hợp lệ cùng một mức", "Every valid answer is the same (straight-lining)"),
    Reason("interviewer_duplicate", "Phiếu giống hệt phiếu khác của cùng điều tra viên",
           "Identical answers to another questionnaire of the same interviewer"),
    Reason("hidden_row", "Dòng bị ẩn trong Excel (lọc hoặc ẩn dòng), vẫn được tính",
           "Row hidden in Excel (filter or hidden row), counted"),
    Reason("profile_cleared", "Thông tin người trả lời không hợp lệ đã để trống, giữ câu trả lời",
           "An invalid profile value was set missing; the answers are kept"),
    Reason("pii_masked", "Ý kiến có thông tin cá nhân (SĐT, CCCD, email, địa chỉ, tên) đã được che",
           "Personal data (phone, ID, e-mail, address, name) masked in the open comment"),
    Reason("id_qualified", "Mã phiếu đánh số lại từ 1 ở mỗi trang tính: đã ghép với mã đơn vị",
           "Questionnaire numbers restart on every sheet: qualified by the unit id"),
)
FLAG = {f.code: f for f in FLAGS}


class IntakeRules(BaseModel):
    """Thresholds of the validation rules (``params/intake.yaml``, all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # too_few_answers: a row needs at least this share of the criteria answered with a
    # valid code (1-5); don't-know / not-applicable / blank do not count.
    min_valid_share: float = Field(0.5, ge=0, le=1)
    # straight_line: every valid answer (1-5) is the same code, with at least this many
    # valid answers (don't-know / not-applicable / blank are ignored).
    straight_line_min_answers: int = Field(15, ge=2)
    # interviewer_duplicate: identical answer vectors (every criterion, missing codes
    # included) from one interviewer. Near-constant vectors coincide by chance, so a
    # vector is compared only when at least this many of its valid answers differ from
    # its most frequent answer.
    duplicate_min_off_mode: int = Field(3, ge=1)
    # duplicate_id: which rows of an id used more than once are quarantined.
    #   keep_first      the first row (file order) is kept, every later row quarantined
    #   quarantine_all  identical copies: the first is kept; if the rows differ, all of
    #                   them are quarantined (the analyst decides which is genuine)
    duplicate_ids: Literal["keep_first", "quarantine_all"] = "keep_first"
    # interviewer_duplicate: compare the profile and expectation answers too (True), or
    # the criterion answers only (False).
    duplicate_vector_with_profile: bool = False
    # interview dates a/b/yyyy in a file where neither order is proven (every number
    # <= 12 and both orders fit the survey period): dmy (Vietnamese) or mdy (en-US).
    date_order: Literal["dmy", "mdy"] = "dmy"
    # an invalid profile value (an age of 250): clear it and keep the answers (flag
    # profile_cleared), or quarantine the row (invalid_profile).
    invalid_profile: Literal["clear", "quarantine"] = "clear"
    # rows hidden in Excel (filter or hidden row): kept with the flag hidden_row, or
    # quarantined as marked_void.
    hidden_rows: Literal["flag", "quarantine"] = "flag"
    # collection mode of a file, by file-name pattern (e.g. {"*zalo*": online}); files not
    # listed: tablet for KoboToolbox/ODK exports, online for Google/Microsoft Forms, else paper.
    collection_modes: dict[str, Literal["paper", "tablet", "online", "phone"]] = Field(default_factory=dict)


def load_rules(params: Path) -> IntakeRules:
    path = params / "intake.yaml"
    if not path.is_file():
        return IntakeRules()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=path) from None
    try:
        return IntakeRules.model_validate(data.get("rules", data))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], file=path, key=".".join(map(str, err["loc"]))) from None
